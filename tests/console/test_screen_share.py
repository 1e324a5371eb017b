"""Screen sharing in the console: real display capture (getDisplayMedia) of another tab.

The "screen" is a second tab of the same headless Chromium, a report page whose title
Chromium's ``--auto-select-tab-capture-source-by-title`` switch picks in place of the
share picker. The console sends its first frame at once; when the test opens a big red
error dialog in that tab, the console sees the change and sends another frame. The
server reads it with the real local vision backend (RapidOCR), and the typed question
reaches the (recording) fake LLM together with the error text read off the screen.
"""

from __future__ import annotations

import asyncio
import re

from openrealtime.backends.fake import FakeLLM, fake_backends
from openrealtime.backends.local.vision import LocalVision
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.console.conftest import ARTIFACTS, console_page, hook, screenshot, wait_until

SCREEN_TITLE = "Quarterly report - Acme Reports"
ERROR = "Error: Could not save report.pdf: disk quota exceeded"
SCREEN_HTML = f"""<!doctype html><html><head><meta charset="utf-8"><title>{SCREEN_TITLE}</title>
<style>
  body {{ margin: 0; font: 20px sans-serif; background: #eef1f5; color: #1d2330; }}
  header {{ background: #343d52; color: #fff; padding: 14px 24px; font-size: 22px; }}
  table {{ margin: 40px 60px; border-collapse: collapse; background: #fff; }}
  td, th {{ border: 1px solid #ccd; padding: 10px 28px; }}
  #veil {{ position: fixed; inset: 0; background: rgba(20, 24, 36, .55); }}
  #dialog {{ position: fixed; left: 200px; top: 190px; width: 880px; background: #fff;
            border: 4px solid #d11; border-radius: 12px; box-shadow: 0 10px 40px #0008; }}
  #dialog h1 {{ margin: 0; padding: 16px 28px; background: #d11; color: #fff; font-size: 34px; }}
  #dialog p {{ margin: 34px 28px; font-size: 30px; color: #111; }}
  #dialog button {{ float: right; margin: 0 28px 24px; font-size: 24px; padding: 8px 30px; }}
</style></head>
<body><header>Acme Reports - Quarterly report</header>
<table><tr><th>Region</th><th>Q1</th><th>Q2</th><th>Q3</th></tr>
<tr><td>North</td><td>1,204</td><td>1,377</td><td>1,412</td></tr>
<tr><td>South</td><td>986</td><td>1,051</td><td>1,139</td></tr></table>
</body></html>"""
SHOW_DIALOG = f"""() => {{
  document.body.insertAdjacentHTML('beforeend', '<div id="veil"></div><div id="dialog" role="alertdialog">' +
    '<h1>Save failed</h1><p>{ERROR}</p><button>OK</button></div>');
}}"""
FLAGS = [f"--auto-select-tab-capture-source-by-title={SCREEN_TITLE}"]


async def test_share_screen_sends_changed_frames_and_the_model_reads_the_error() -> None:
    llm = FakeLLM(reply="(recording fake model) I was given your question and your screen.")
    backends = fake_backends(llm=llm, vision=LocalVision())
    app = create_app(Settings(backend="fake"), backends=backends)
    async with running_server(app) as url, console_page(url, None, FLAGS) as page:
        screen = await page.context.new_page()  # the "screen" the user shares
        await screen.set_viewport_size({"width": 1280, "height": 720})
        await screen.set_content(SCREEN_HTML)
        await page.bring_to_front()
        assert await page.locator("#share-screen").is_disabled()  # connect first

        await page.fill("#share-interval", "1")  # at most one frame a second
        await page.click("#connect")
        await wait_until(page, "c.state === 'listening'", timeout_s=10)
        await page.click("#share-screen")
        await wait_until(page, "c.screen.status === 'on' && c.screen.frames.length === 1", 10)
        assert await page.locator("#share-screen").inner_text() == "Stop sharing"

        # Nothing changes on the screen: no more frames, however long the interval allows.
        await asyncio.sleep(2.2)
        shared = await hook(page, "c.screen")
        assert len(shared["frames"]) == 1 and shared["lastDiff"] is not None
        assert shared["lastDiff"] < 1

        await screen.evaluate(SHOW_DIALOG)  # the error dialog opens on the shared screen
        await wait_until(page, "c.screen.frames.length === 2", timeout_s=10)
        first, second = (await hook(page, "c.screen"))["frames"]
        assert first["reason"] == "first frame" and second["reason"] == "changed"
        assert second["diff"] >= 4
        assert (first["width"], first["height"]) == (1280, 720) and first["mime"] == "image/jpeg"
        assert second["at"] - first["at"] >= 1000  # the interval holds
        thumbs = page.locator("#screen-frames img")
        assert await thumbs.count() == 2 and await thumbs.first.is_visible()
        assert re.fullmatch(r"\d\d:\d\d:\d\d( [AP]M)?",
                            await page.locator("#screen-frames figcaption").first.inner_text())
        assert "2 frames sent" in await page.locator("#screen-status").inner_text()

        await page.fill("#text-input", "Why does it fail?")
        await page.press("#text-input", "Enter")
        await wait_until(page, "c.transcripts.some(t => t.text.includes('recording fake'))", 15)

        # The frames stay out of the event log: a type and size, not 100 KB of base64.
        log = await page.locator("#event-log").inner_text()
        assert re.search(r"image jpeg \d+ KB", log)
        assert not re.search(r"[A-Za-z0-9+/]{200}", log)
        await page.locator("#event-log li[data-type='conversation.item.create']").first.click()
        shown = await page.locator("#event-log li pre").first.inner_text()
        assert "data:image/jpeg;base64,… (" in shown and "not shown" in shown
        await page.locator("#event-log li[data-type='conversation.item.create']").first.click()
        path = await screenshot(page, "screen-share.png")
        await screen.screenshot(path=str(ARTIFACTS / "screen-share-source.png"))

        # Stop sharing, then share again: a first frame again (the same screen).
        await page.click("#share-screen")
        await wait_until(page, "c.screen.status === 'off'", timeout_s=5)
        assert (await hook(page, "c.screen"))["stopReason"] == "user"
        assert "stopped (2 frames sent)" in await page.locator("#screen-notice").inner_text()
        await page.click("#share-screen")
        await wait_until(page, "c.screen.status === 'on' && c.screen.frames.length === 3", 10)
        assert (await hook(page, "c.screen"))["frames"][2]["reason"] == "first frame"

        # The user closes the shared tab: sharing ends, and the page says so.
        await screen.close()
        await wait_until(page, "c.screen.status === 'off'", timeout_s=10)
        shared = await hook(page, "c.screen")
        assert shared["stopReason"] == "ended" and "3 frames sent" in shared["message"]
        assert await page.locator("#screen-notice").is_visible()
        assert await page.locator("#share-screen").inner_text() == "Share screen"

    assert path.exists()
    question = [m for m in llm.requests[-1].messages if m["role"] == "user"][-1]["content"]
    assert "Why does it fail?" in question
    assert f'"{ERROR}"' in question, question  # read off the shared screen by OCR
    assert "error or warning" in question
    assert question.index(ERROR) < question.index("Why does it fail?")
    assert len(llm.requests) == 1  # frames alone do not start responses
