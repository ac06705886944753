"""Start the dev server as `make run` does, in a subprocess on a free port, and talk HTTP to it."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_FUNCTIONS = ROOT / "tests" / "fixtures" / "functions"
STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DevServer:
    process: subprocess.Popen[str]
    base_url: str
    output: list[str] = field(default_factory=list)
    _lines: queue.Queue[str] = field(default_factory=queue.Queue)

    def read_output(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)

    def wait_for_line(self, needle: str, timeout: float = STARTUP_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.output.append(line)
            if needle in line:
                return line
        raise AssertionError(f"dev server never printed {needle!r}; output:\n{''.join(self.output)}")

    def next_line(self) -> str:
        line = self._lines.get(timeout=5)
        self.output.append(line)
        return line

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise
        return self.process.returncode


def start_devserver(data_dir: Path, extra_env: dict[str, str], *args: str) -> DevServer:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update({"PYTHONUNBUFFERED": "1", **extra_env})
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sociallab.dev.server",
            "--port",
            str(port),
            "--studio-port",
            "0",
            "--data-dir",
            str(data_dir),
            *args,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = DevServer(process, f"http://127.0.0.1:{port}")
    threading.Thread(target=server.read_output, daemon=True).start()
    return server


def wait_healthy(server: DevServer, timeout: float = STARTUP_TIMEOUT) -> httpx.Response:
    """Poll /healthz until it answers 200 (the server is starting in another process)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            response = httpx.get(f"{server.base_url}/healthz", timeout=2)
            if response.status_code == 200:
                return response
            last = response.text
        except httpx.TransportError as exc:
            last = exc
        time.sleep(0.1)  # polling a readiness condition, not synchronising on time
    if server.process.poll() is not None:  # it exited: everything it printed is in the queue by now
        server.output.extend(server._lines.queue)
    raise AssertionError(f"dev server not healthy: {last!r}; output:\n{''.join(server.output)}")


@pytest.fixture
def devserver(database_url: str, tmp_path: Path) -> Iterator[DevServer]:
    """The dev server on this test's database, serving the project's and the fixture functions."""
    server = start_devserver(
        tmp_path / "data",
        {"DATABASE_URL": database_url},
        "--functions-dir",
        str(ROOT / "functions"),
        "--functions-dir",
        str(FIXTURE_FUNCTIONS),
        "--no-cron",
    )
    try:
        wait_healthy(server)
        yield server
    finally:
        server.stop()
