"""Real redis-server, nginx and ``openrealtime serve`` processes on loopback, for the
scale-out tests. The binaries are Debian packages (``make services`` installs them); a
test that needs one that is missing is skipped with the reason."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
NGINX_CONF = REPO / "deploy" / "nginx.conf"


def need(binary: str) -> str:
    path = shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}") if os.path.exists(p)), None)
    if path is None:
        pytest.skip(f"{binary} is not installed (`make services` installs redis-server and "
                    "nginx, Debian packages)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: object, what: str, timeout_s: float = 30.0,
               process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {process.returncode}")
        try:
            if check():  # type: ignore[operator]
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout_s:g} s")


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM,
         timeout_s: float = 10.0) -> int:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@contextlib.contextmanager
def redis_server(tmp: Path) -> Iterator[str]:
    """A throwaway redis-server (no persistence) on a free loopback port: its URL."""
    binary = need("redis-server")
    port = free_port()
    with open(tmp / f"redis-{port}.log", "wb") as log:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(tmp)], stdout=log, stderr=subprocess.STDOUT)

    def answers() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    try:
        wait_until(answers, "redis-server", 10.0, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(process)


def nginx_conf(upstreams: list[int], listen: int, run: Path) -> str:
    """deploy/nginx.conf with these replicas, this port, and paths under ``run``."""
    text = NGINX_CONF.read_text()
    servers = "".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n"
                      for p in upstreams)
    text, n = re.subn(r"(?m)^        server 127\.0\.0\.1:\d+ [^\n]*\n", "", text)
    assert n >= 1, "deploy/nginx.conf: no upstream server lines"
    text = text.replace("        least_conn;\n", "        least_conn;\n" + servers, 1)
    text = text.replace("listen 8080;", f"listen 127.0.0.1:{listen};", 1)
    text = text.replace("worker_processes auto;", "worker_processes 1;", 1)
    text = text.replace("/var/log/nginx/openrealtime.access.log", str(run / "access.log"))
    temp = "".join(f"    {kind}_temp_path {run / kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return text.replace("http {\n", "http {\n" + temp, 1)


@contextlib.contextmanager
def nginx(upstreams: list[int], tmp: Path) -> Iterator[str]:
    """nginx running deploy/nginx.conf in front of ``upstreams``: its http:// URL."""
    binary = need("nginx")
    run = tmp / "nginx"
    run.mkdir(exist_ok=True)
    os.chmod(run, 0o777)  # (its workers run as an unprivileged user when we are root)
    port = free_port()
    conf = run / "nginx.conf"
    conf.write_text(nginx_conf(upstreams, port, run))
    with open(run / "stderr.log", "wb") as log:
        process = subprocess.Popen(
            [binary, "-p", str(run), "-c", str(conf), "-e", str(run / "error.log"),
             "-g", f"daemon off; pid {run / 'nginx.pid'};"],
            stdout=log, stderr=subprocess.STDOUT)

    def listening() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    try:
        wait_until(listening, "nginx", 10.0, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process, signal.SIGQUIT)


def serve(port: int, log: Path, *args: str, env: dict[str, str] | None = None
          ) -> subprocess.Popen[bytes]:
    """``openrealtime serve`` as a subprocess (the real CLI, signals and all)."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "openrealtime.cli", "serve", "--host", "127.0.0.1",
             "--port", str(port), *args],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})


def ready(url: str) -> bool:
    return httpx.get(url + "/readyz", timeout=2).status_code == 200
