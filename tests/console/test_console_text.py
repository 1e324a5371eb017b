"""The console without a microphone (permission refused): a clear message, and typing
still works. The tool demo: the page runs display_data and show_time and answers."""

from __future__ import annotations

import json

from openrealtime.backends.fake import FakeLLM, fake_backends
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.console.conftest import console_page, hook, screenshot, wait_until


async def send_text(page: object, text: str) -> None:
    await page.fill("#text-input", text)  # type: ignore[attr-defined]
    await page.press("#text-input", "Enter")  # type: ignore[attr-defined]


async def test_no_microphone_permission_text_still_works() -> None:
    app = create_app(Settings(backend="fake"), backends=fake_backends())
    async with running_server(app) as url, console_page(url, mic_wav=None) as page:
        await page.click("#connect")
        await wait_until(page, "c.state === 'listening'", timeout_s=10)
        assert await hook(page, "c.micStatus") == "unavailable"
        notice = page.locator("#mic-notice")
        assert await notice.is_visible()
        message = await notice.inner_text()
        assert "Microphone unavailable" in message and "permission" in message
        assert "type" in message
        assert await page.locator("#state-label").inner_text() == "Ready · type a message"

        await send_text(page, "What is the capital of France?")
        await wait_until(page, "c.transcripts.some(t => t.role === 'assistant' && "
                               "t.text.includes('Paris'))", timeout_s=10)
        await wait_until(page, "c.playedSamples > 0", timeout_s=5)  # replies are still heard
        transcripts = await hook(page, "c.transcripts")
        latencies = await hook(page, "c.latencies")
        await screenshot(page, "no-microphone.png")
    assert transcripts[0] == {"role": "user", "itemId": transcripts[0]["itemId"],
                              "text": "What is the capital of France?"}
    assert latencies and latencies[0]["kind"] == "text"


async def test_tool_demo_draws_a_chart_and_reads_the_clock() -> None:
    llm = FakeLLM(reply="Jupiter is by far the largest.",
                  tool_call=("display_data", {"title": "Planet diameters",
                                              "labels": ["Mercury", "Earth", "Jupiter"],
                                              "values": [4879, 12742, 139820], "unit": "km"}))
    app = create_app(Settings(backend="fake"), backends=fake_backends(llm=llm))
    async with running_server(app) as url, console_page(url, mic_wav=None) as page:
        await page.click("label.switch")  # the tool switch, before connecting
        assert "planets" in await page.input_value("#instructions")
        await page.click("#connect")
        await wait_until(page, "c.state === 'listening'", timeout_s=10)
        assert [t["name"] for t in (await hook(page, "c.session"))["tools"]] == [
            "display_data", "show_time"]

        await send_text(page, "How big are Mercury, Earth and Jupiter?")
        await wait_until(page, "c.chartsDrawn === 1", timeout_s=10)
        await wait_until(page, "c.transcripts.some(t => t.text.includes('Jupiter is'))", 10)
        chart = page.locator(".bubble.tool canvas.chart")
        assert await chart.is_visible()
        inked = await chart.evaluate(
            "c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data"
            ".filter((v, i) => i % 4 === 3 && v > 0).length")
        assert inked > 1000  # bars, labels and title were drawn
        await wait_until(page, "c.state === 'listening'", timeout_s=10)  # answer played out

        llm.tool_call = ("show_time", {})
        await send_text(page, "What time is it?")
        await wait_until(page, "c.toolCalls.length === 2", timeout_s=10)
        await wait_until(page, "c.eventCounts['response.done'] >= 4", timeout_s=10)
        calls = await hook(page, "c.toolCalls")
        await screenshot(page, "tools.png")

    assert calls[0]["output"] == {"shown": True, "bars": 3}
    assert calls[1]["name"] == "show_time" and "T" in calls[1]["output"]["iso"]
    # each call's output went back to the model, followed by a new response
    outputs = [m for m in llm.requests[-1].messages if m.get("role") == "tool"]
    assert [json.loads(str(m["content"])) for m in outputs][-1]["iso"] == calls[1]["output"]["iso"]
    assert len(llm.requests) == 4
