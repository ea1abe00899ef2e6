"""docs/errors.md's sections of the service's codes show what the service answers, planted over HTTP."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import ROOT, Server

#: code → (method, path, body): a request that makes the service answer with that code.
PLANTED = {
    "RX902": ("POST", "/v1/evaluate", '{"dispensed_on": "2025-03-14",\n "insured": {'),
    "RX903": ("POST", "/v1/check", '{"policy": "hollandzorg", "files": {"rules/hollandzorg/extra.rxp": "x"}}'),
    "RX905": ("GET", "/v1/evaluations", None),
}


def section(code: str) -> str:
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    start = text.index(f"## {code}:")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def shown(code: str) -> str:
    match = re.search(r"```text\n(.*?)```", section(code), re.DOTALL)
    assert match, f"{code}: no example message"
    return match.group(1).strip()


@pytest.mark.parametrize("code", sorted(PLANTED))
def test_the_documented_message_is_what_the_service_answers(server: Server, code: str) -> None:
    method, path, body = PLANTED[code]
    answer = server.request(method, path, body)
    assert answer.json["diagnostics"][0]["code"] == code
    assert answer.json["diagnostics"][0]["text"].strip() == shown(code)


def test_the_body_limit_message_is_what_the_service_answers(server: Server) -> None:
    answer = server.oversized("/v1/evaluate", 1_100_000)
    assert answer.status == 413
    assert answer.json["diagnostics"][0]["text"].strip() == shown("RX901")


def test_the_time_limit_message_is_what_the_service_answers(tmp_path: Path) -> None:
    server = Server(tmp_path, "--timeout", "0.1")
    try:
        answer = server.request("GET", "/v1/diff?old=hollandzorg@2023-06-01&new=hollandzorg@2024-06-01")
        assert answer.json["diagnostics"][0]["text"].strip() == shown("RX904")
    finally:
        server.stop()
