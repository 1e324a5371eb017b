"""Browser tests of the console: Debian's Chromium driven by Playwright's async API, with
the server running in the same event loop (``running_server``)."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from openrealtime.audio import write_wav

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "console"
# Chromium's fake capture reads (and loops) a 16-bit WAV; 48 kHz is its native rate, and
# the page's 24 kHz AudioContext resamples it like a real microphone.
FAKE_MIC_RATE = 48000
BASE_FLAGS = [
    "--no-sandbox", "--autoplay-policy=no-user-gesture-required",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--use-fake-device-for-media-stream",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not Path(CHROMIUM).exists():  # `make setup` installs it
        skip = pytest.mark.skip(reason="chromium is not installed (apt-get install chromium)")
        for item in items:
            if "tests/console" in str(item.path):
                item.add_marker(skip)


def write_mic_wav(path: Path, x: np.ndarray, rate: int) -> Path:
    """Write float32 mono audio at ``rate`` as the fake microphone's 48 kHz WAV."""
    from openrealtime.audio import resample

    write_wav(path, resample(x.astype(np.float32), rate, FAKE_MIC_RATE), FAKE_MIC_RATE)
    return path


@contextlib.asynccontextmanager
async def console_page(url: str, mic_wav: Path | None,
                       extra_flags: Sequence[str] = (),
                       transport: str = "websocket") -> AsyncIterator[Any]:
    """The console at ``url`` in headless Chromium.

    With ``mic_wav`` the microphone is Chromium's fake device playing that file (in a
    loop) and permission is granted; without, the microphone permission is refused.
    ``extra_flags`` are more Chromium switches; other tabs can be opened with
    ``page.context.new_page()``. ``transport``: the page's connection (``webrtc`` is the
    console's default; these tests use the WebSocket unless they say otherwise, since
    they count the samples the page's own player plays).
    """
    from playwright.async_api import async_playwright

    flags = list(BASE_FLAGS) + list(extra_flags)
    if mic_wav is not None:
        flags += ["--use-fake-ui-for-media-stream", f"--use-file-for-fake-audio-capture={mic_wav}"]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=flags)
        try:
            context = await browser.new_context(viewport={"width": 1440, "height": 900})
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(url + f"/?transport={transport}")
            yield page
            assert not errors, errors
        finally:
            await browser.close()


async def hook(page: Any, expression: str = "") -> Any:
    """Read ``window.openrealtimeConsole`` (or an expression over it, as ``c``)."""
    return await page.evaluate(f"() => {{ const c = window.openrealtimeConsole; return {expression or 'c'}; }}")


async def wait_until(page: Any, condition: str, timeout_s: float) -> None:
    """Wait for a JS condition over ``c`` (the console hook) to hold."""
    await page.wait_for_function(
        f"() => {{ const c = window.openrealtimeConsole; return {condition}; }}",
        timeout=timeout_s * 1000, polling=100)


async def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    await page.screenshot(path=str(path))
    return path
