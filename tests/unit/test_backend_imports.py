"""Importing the backend modules must not import the heavy model libraries."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("onnxruntime", "faster_whisper", "ctranslate2", "llama_cpp", "piper")


def test_backend_modules_import_lazily() -> None:
    code = (
        "import sys\n"
        "import openrealtime.backends.stack, openrealtime.backends.local.silero, "
        "openrealtime.backends.local.whisper, openrealtime.backends.local.llama, "
        "openrealtime.backends.local.piper, openrealtime.backends.remote.openai_llm\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
