"""RemoteLLM against a real OpenAI-compatible server: llama.cpp's own, on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import httpx
import pytest

from openrealtime.backends.base import BackendError, Finished, LLMRequest, TextDelta

pytestmark = pytest.mark.e2e

pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    from openrealtime.backends.local.llama import bundled_model_path

    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(bundled_model_path()),
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "1024", "--n_threads", "2", "--interrupt_requests", "False",
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            base_url = f"http://127.0.0.1:{port}/v1"
            wait_until_ready(process, f"{base_url}/models", log)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_ready(process: subprocess.Popen[bytes], url: str, log: object) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)  # type: ignore[attr-defined]
            output = log.read().decode(errors="replace")[-2000:]  # type: ignore[attr-defined]
            pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{output}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail("llama_cpp.server did not answer within 90 s")


async def test_streams_a_chat(server_url: str) -> None:
    from openrealtime.backends.remote.openai_llm import RemoteLLM

    llm = RemoteLLM(server_url, "smollm2")
    try:
        request = LLMRequest(
            [{"role": "user", "content": "What is the capital of France?"}],
            max_tokens=24,
            temperature=0.0,
        )
        items = [item async for item in llm.stream(request)]
    finally:
        await llm.aclose()
    assert isinstance(items[-1], Finished)
    assert items[-1].reason in ("stop", "length")
    deltas = [i for i in items[:-1] if isinstance(i, TextDelta)]
    assert len(deltas) > 1  # really streamed
    assert "".join(d.text for d in deltas).strip()


async def test_unknown_path_is_a_backend_error(server_url: str) -> None:
    from openrealtime.backends.remote.openai_llm import RemoteLLM

    llm = RemoteLLM(server_url.removesuffix("/v1") + "/nope", "smollm2")
    try:
        with pytest.raises(BackendError, match="HTTP 404") as info:
            _ = [item async for item in llm.stream(LLMRequest([{"role": "user", "content": "Hi"}]))]
    finally:
        await llm.aclose()
    assert info.value.code == "llm_http_error"


async def test_unreachable_server_is_a_backend_error() -> None:
    from openrealtime.backends.remote.openai_llm import RemoteLLM

    llm = RemoteLLM(f"http://127.0.0.1:{free_port()}/v1", "smollm2", timeout_s=5)
    try:
        with pytest.raises(BackendError, match="cannot reach") as info:
            _ = [item async for item in llm.stream(LLMRequest([{"role": "user", "content": "Hi"}]))]
    finally:
        await llm.aclose()
    assert info.value.code == "llm_unavailable"
