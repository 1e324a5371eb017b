"""Cost arithmetic, price overrides, the recorder and ``openrealtime cost`` (no server)."""

from __future__ import annotations

import base64
import itertools
import json
from pathlib import Path

import pytest

from openrealtime.cli import main
from openrealtime.cost.estimate import (
    ConversationModel,
    Tokens,
    hosted_cost_usd,
    local_cost_usd,
    tokens_from_usage,
    tokens_from_usages,
)
from openrealtime.cost.price import PRESETS, LocalPrices, PriceError, PriceTable
from openrealtime.cost.recording import SessionRecorder, read_recording

# The BETA capture quoted in realtime-protocol.md §7.
CAPTURED = {"total_tokens": 1015, "input_tokens": 911, "output_tokens": 104,
            "input_token_details": {"text_tokens": 869, "audio_tokens": 42,
                                    "cached_tokens": 832,
                                    "cached_tokens_details": {"text_tokens": 832,
                                                              "audio_tokens": 0}},
            "output_token_details": {"text_tokens": 27, "audio_tokens": 77}}


def test_usage_split_excludes_cached_from_fresh_input() -> None:
    assert tokens_from_usage(CAPTURED) == Tokens(text_in=37, text_in_cached=832, audio_in=42,
                                                 audio_in_cached=0, text_out=27, audio_out=77)


def test_captured_usage_cost_by_hand() -> None:
    # 37*4 + 832*0.40 + 42*32 + 27*16 + 77*64 = 7184.8 $ per 1M tokens
    cost = hosted_cost_usd(tokens_from_usage(CAPTURED), PRESETS["gpt-realtime"])
    assert cost == pytest.approx(7184.8e-6)


def test_cached_audio_billed_at_cached_audio_rate() -> None:
    usage = {"input_tokens": 1100, "output_tokens": 0,
             "input_token_details": {"text_tokens": 100, "audio_tokens": 1000,
                                     "cached_tokens": 900,
                                     "cached_tokens_details": {"text_tokens": 100,
                                                               "audio_tokens": 800}},
             "output_token_details": {"text_tokens": 0, "audio_tokens": 0}}
    tokens = tokens_from_usage(usage)
    assert tokens == Tokens(text_in=0, text_in_cached=100, audio_in=200, audio_in_cached=800)
    # 100*0.40 + 200*32 + 800*0.40 = 6760
    assert hosted_cost_usd(tokens, PRESETS["gpt-realtime"]) == pytest.approx(6760e-6)


def test_cached_without_details_counts_text_first() -> None:
    usage = {"input_tokens": 300, "output_tokens": 5,
             "input_token_details": {"text_tokens": 100, "audio_tokens": 200,
                                     "cached_tokens": 150}}
    assert tokens_from_usage(usage) == Tokens(text_in=0, text_in_cached=100, audio_in=150,
                                              audio_in_cached=50, text_out=5)


def test_empty_and_zero_usage() -> None:
    assert tokens_from_usage(None) == Tokens()
    assert tokens_from_usages([None, {}, CAPTURED, CAPTURED]).audio_out == 154


def test_one_minute_of_conversation_by_hand() -> None:
    # 4 turns of 15 s: 60 user audio tokens (6 s x 10/s), 150 answer tokens (7.5 s x 20/s).
    # Fresh audio in: 60, then 150+60 three times = 690. Cached audio: 0+60+270+480 = 810.
    tokens = ConversationModel().tokens(1)
    assert tokens == Tokens(text_in=200, text_in_cached=600, audio_in=690,
                            audio_in_cached=810, text_out=0, audio_out=600)
    # 200*4 + 600*0.40 + 690*32 + 810*0.40 + 600*64 = 61844
    assert hosted_cost_usd(tokens, PRESETS["gpt-realtime"]) == pytest.approx(0.061844)


def test_hosted_cost_grows_faster_than_linearly() -> None:
    model = ConversationModel()
    for name, prices in PRESETS.items():
        costs = [hosted_cost_usd(model.tokens(m), prices) for m in (1, 10, 60)]
        assert costs[1] > 10 * costs[0], name
        assert costs[2] / 60 > costs[1] / 10, name
    # The cached context is quadratic in the number of turns.
    assert model.tokens(20).audio_in_cached > 3.5 * model.tokens(10).audio_in_cached


def test_context_limit_truncates_oldest_turns() -> None:
    model = ConversationModel(context_limit_tokens=1000, retention_ratio=0.5)
    # Turn audio: 60 in + 150 out = 210 tokens; 200 instruction tokens. Turns 1-4 fit
    # (200 + 3*210 + 60 = 890); turn 5 would need 1100, so the oldest turns go until
    # 200 + history + 60 <= 500: history 210 (one turn), all of it sent fresh.
    fits = model.tokens(1)
    assert fits == ConversationModel().tokens(1)
    fifth = model.tokens(1.25)
    assert fifth.audio_in - fits.audio_in == 210 + 60 and fifth.audio_in_cached == 810
    unbounded = ConversationModel(context_limit_tokens=None)
    assert model.tokens(60).input_total < unbounded.tokens(60).input_total / 10
    # Past the default limit (about 35 minutes in) cost grows linearly: each further hour
    # costs about the same (truncations re-send the kept context fresh, a saw-tooth).
    prices, default = PRESETS["gpt-realtime"], ConversationModel()
    hours = [hosted_cost_usd(default.tokens(60 * h), prices) for h in (1, 2, 3, 4)]
    steps = [b - a for a, b in itertools.pairwise(hours)]
    assert max(steps) < 1.1 * min(steps)


def test_local_cost_from_cpu_seconds_or_wall_time() -> None:
    local = LocalPrices(cpu_hour_usd=0.04, cores=2)
    assert local_cost_usd(local, cpu_s=90, wall_s=1000) == pytest.approx(0.001)
    assert local_cost_usd(local, wall_s=1800) == pytest.approx(0.04)
    assert local_cost_usd(local) is None


def test_price_overrides(tmp_path: Path) -> None:
    toml = tmp_path / "prices.toml"
    toml.write_text('[gpt-realtime]\naudio_in = 20\n[local]\ncpu_hour_usd = 0.1\n')
    table = PriceTable().with_file(toml).with_flag("gpt-realtime-mini.text_out=3")
    assert table.hosted["gpt-realtime"].audio_in == 20
    assert table.hosted["gpt-realtime"].audio_out == 64  # untouched
    assert table.hosted["gpt-realtime-mini"].text_out == 3
    assert table.local.cpu_hour_usd == 0.1
    fields = dict.fromkeys(["audio_in", "audio_in_cached", "audio_out", "text_in",
                            "text_in_cached", "text_out"], 1)
    (tmp_path / "new.json").write_text(json.dumps({"my-model": fields}))
    assert PriceTable().with_file(tmp_path / "new.json").hosted["my-model"].audio_in == 1
    with pytest.raises(PriceError, match="missing"):
        PriceTable().override("my-model", {"audio_in": 1})
    with pytest.raises(PriceError, match="unknown price field"):
        PriceTable().with_flag("gpt-realtime.audio=1")
    with pytest.raises(PriceError, match="not a number"):
        PriceTable().with_flag("gpt-realtime.audio_in=cheap")


async def test_recorder_drops_audio_payload_and_adds_totals(tmp_path: Path) -> None:
    path = tmp_path / "sess.jsonl"
    recorder = SessionRecorder(path, model="gpt-realtime", session_id="sess_1")
    audio = base64.b64encode(bytes(4801)).decode()
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    send_and_record = recorder.wrap(send)
    delta = json.dumps({"type": "response.output_audio.delta", "delta": audio})
    done = json.dumps({"type": "response.done", "response": {"usage": CAPTURED}})
    await send_and_record(delta)
    await send_and_record(done)
    await recorder.close()
    assert sent == [delta, done]  # the client gets the payload; only the file drops it
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["type"] for x in lines] == ["recording.started", "response.output_audio.delta",
                                          "response.done", "recording.stopped"]
    assert lines[0]["model"] == "gpt-realtime" and "started_at" in lines[0]
    assert "delta" not in lines[1] and lines[1]["delta_bytes"] == 4801
    assert path.read_text().splitlines()[2] == done  # other events exactly as sent
    assert lines[3]["events"] == 2 and lines[3]["cpu_s"] >= 0 and lines[3]["duration_s"] >= 0
    recording = read_recording(path)
    assert recording.usages == [CAPTURED] and recording.cpu_s is not None


def test_cli_minutes_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "--minutes", "1"]) == 0
    out = capsys.readouterr().out
    for name in [*PRESETS, "local"]:
        assert name in out
    assert "0.0618" in out  # gpt-realtime, computed by hand above
    assert main(["cost", "--minutes", "1", "--preset", "local", "--cpu-hour-usd", "0.6"]) == 0
    out = capsys.readouterr().out
    assert "gpt-realtime" not in out and "0.0200" in out  # 2 cores x 1/60 h x 0.6 $


def test_cli_prices_recordings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in [
        {"type": "recording.started", "model": "gpt-realtime", "started_at": "now"},
        {"type": "response.done", "response": {"usage": CAPTURED}},
        {"type": "recording.stopped", "duration_s": 60.0, "cpu_s": 90.0, "events": 1}]))
    assert main(["cost", str(path), "--preset", "gpt-realtime"]) == 0
    out = capsys.readouterr().out
    assert "text in 37 (+832 cached)" in out and "audio out 77" in out
    assert "0.0072" in out and "local" not in out
    assert main(["cost", str(path), str(path)]) == 0  # every preset and local, summed
    out = capsys.readouterr().out
    assert "2 recording(s), 2 responses, 120.0 s" in out and "audio out 154" in out
    assert "0.0144" in out and "local (180.0 CPU-s" in out and "0.0020" in out


@pytest.mark.parametrize("content", ["not json\n", "[1, 2]\n", "", None])
def test_cli_bad_recording(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           content: str | None) -> None:
    path = tmp_path / "bad.jsonl"
    if content is not None:
        path.write_text(content)
    assert main(["cost", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("openrealtime cost: ") and captured.err.count("\n") == 1
    assert "Traceback" not in captured.err


def test_cli_bad_prices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.json").write_text("{oops")
    assert main(["cost", "--prices", str(tmp_path / "p.json")]) == 2
    assert main(["cost", "--preset", "gpt-5"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "not valid JSON" in err[0] and "unknown preset" in err[1]
