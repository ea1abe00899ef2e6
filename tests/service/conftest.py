"""A real `rxpolicy serve` process on a free loopback port, spoken to over a socket."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*/*.yaml"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Answer:
    """One HTTP answer: status, headers, body (and the body as JSON when it is)."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


class Server:
    """`rxpolicy serve` in a subprocess; its standard error (the access log) goes to a file."""

    def __init__(self, tmp: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / f"server-{self.port}.log"
        self._log = self.log_path.open("wb")
        exe = shutil.which("rxpolicy", path=str(Path(sys.executable).parent)) or "rxpolicy"
        self.process = subprocess.Popen([exe, "serve", "--port", str(self.port), *args],
                                        stdout=subprocess.DEVNULL, stderr=self._log, cwd=ROOT,
                                        env={**os.environ, **env} if env else None)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rxpolicy serve exited: {self.log_path.read_text()}")
            try:
                if self.request("GET", "/readyz").status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"rxpolicy serve did not become ready: {self.log_path.read_text()}")

    def request(self, method: str, path: str, body: bytes | str | dict[str, Any] | None = None,
                content_type: str = "application/json", timeout: float = 60) -> Answer:
        data = json.dumps(body).encode() if isinstance(body, dict) else body.encode() if isinstance(body, str) else body
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return Answer(answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())

    def oversized(self, path: str, size: int) -> Answer:
        """POST a body of ``size`` bytes over a raw socket, reading the answer even when the service refuses
        before the body is sent (it answers as soon as the declared length is too large, then closes)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=60) as connection:
            connection.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               f"Content-Length: {size}\r\nConnection: close\r\n\r\n".encode())
            try:
                connection.sendall(b" " * size)
            except (BrokenPipeError, ConnectionResetError):
                pass
            received = read_until_closed(connection)
        head, _, body = received.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
        return Answer(int(lines[0].split()[1]), headers, body)

    def log_until(self, found: Any, seconds: float = 30) -> list[dict[str, Any]]:
        """The access log once ``found(lines)`` holds: a request's line is written just after its answer."""
        deadline = time.monotonic() + seconds
        lines = self.log_lines()
        while not found(lines) and time.monotonic() < deadline:
            time.sleep(0.05)
            lines = self.log_lines()
        return lines

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON lines of the access log so far."""
        self._log.flush()
        lines = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


def read_until_closed(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a reset after a refusal ends it too)."""
    received = b""
    try:
        while chunk := connection.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def case_json(path: Path) -> str:
    """An example case file as the JSON a claim system would send (dates and money as text)."""
    return json.dumps(yaml.safe_load(path.read_text()), default=str)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The service on the built-in rules."""
    running = Server(tmp_path_factory.mktemp("serve"))
    yield running
    running.stop()


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    """A writable copy of the built-in rules (without their rule tests)."""
    target = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", target, ignore=shutil.ignore_patterns("tests", "*.test.yaml"))
    return target
