"""Reloading rules without a restart: atomically, requests in flight on the old rules, bad rules refused."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from .conftest import ROOT, Server, case_json, read_until_closed

BENZO = ROOT / "examples" / "hollandzorg" / "benzodiazepine-chronic.yaml"
SENTENCE = "Benzodiazepines, sleeping pills and anxiety medicines are reimbursed for at most 1 month per dispensing"


def _benzo_rule(rules: Path) -> tuple[Path, str]:
    path = rules / "model" / "dispensing_periods.rxp"
    return path, path.read_text()


def test_reload_swaps_in_changed_rules_and_keeps_the_old_ones_when_the_new_do_not_check(rules_copy: Path,
                                                                                       tmp_path: Path) -> None:
    server = Server(tmp_path, "--policies", str(rules_copy))
    try:
        before = server.request("POST", "/v1/evaluate", case_json(BENZO)).json
        assert server.request("POST", "/v1/reload").json["reloaded"] is False  # nothing changed

        path, text = _benzo_rule(rules_copy)
        assert SENTENCE in text
        path.write_text(text.replace(SENTENCE, SENTENCE.replace("Benzodiazepines", "Benzodiazepine medicines")))
        answer = server.request("POST", "/v1/reload")
        assert answer.status == 200 and answer.json["reloaded"] is True and answer.json["generation"] == 1
        after = server.request("POST", "/v1/evaluate", case_json(BENZO)).json
        assert after["decisions"]["max_supply"]["explanation"].startswith("Benzodiazepine medicines")
        assert after["receipt"]["policy_fingerprint"] != before["receipt"]["policy_fingerprint"]

        # A rule that does not check: the reload is refused with the place and the fix, the last good rules serve.
        lines = path.read_text().splitlines()
        number = next(i for i, line in enumerate(lines, 1) if line.strip().startswith("then "))
        lines[number - 1] = lines[number - 1].replace("then", "thn", 1)
        path.write_text("\n".join(lines) + "\n")
        refused = server.request("POST", "/v1/reload")
        assert refused.status == 409
        problem = refused.json["diagnostics"][0]
        assert (problem["code"], problem["line"]) == ("RX103", number)
        assert problem["file"].endswith("model/dispensing_periods.rxp")
        assert refused.json["generation"] == 1
        still = server.request("POST", "/v1/evaluate", case_json(BENZO)).json
        assert still["receipt"] == after["receipt"]
        assert server.request("GET", "/readyz").json["generation"] == 1
        log = [line for line in server.log_lines() if line.get("event") == "reload"]
        assert [line["result"] for line in log] == ["unchanged", "changed", "refused"]
    finally:
        server.stop()


def test_a_batch_in_flight_finishes_on_the_rules_it_started_with(rules_copy: Path, tmp_path: Path) -> None:
    server = Server(tmp_path, "--policies", str(rules_copy))
    try:
        first = server.request("POST", "/v1/evaluate?explain=false", case_json(BENZO)).json
        line = case_json(BENZO).encode() + b"\n"
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as connection:
            connection.sendall(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
                               b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
            connection.sendall(b"%x\r\n%s\r\n" % (len(line), line))
            # While the batch is open, the rules change and are reloaded.
            path, text = _benzo_rule(rules_copy)
            path.write_text(text.replace(SENTENCE, SENTENCE.replace("Benzodiazepines", "Benzodiazepine medicines")))
            assert server.request("POST", "/v1/reload").json["reloaded"] is True
            connection.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(line), line))
            received = b""
            while chunk := connection.recv(65536):
                received += chunk
        rows = [json.loads(part) for part in received.split(b"\r\n") if part.startswith(b'{"line"')]
        assert [row["line"] for row in rows] == [1, 2]
        assert {row["receipt"]["policy_fingerprint"] for row in rows} == {first["receipt"]["policy_fingerprint"]}
        # A request that starts after the reload is answered with the new rules.
        after = server.request("POST", "/v1/evaluate?explain=false", case_json(BENZO)).json
        assert after["receipt"]["policy_fingerprint"] != first["receipt"]["policy_fingerprint"]
    finally:
        server.stop()


def test_the_watcher_reloads_a_changed_rule_file(rules_copy: Path, tmp_path: Path) -> None:
    server = Server(tmp_path, "--policies", str(rules_copy), "--watch", "0.2")
    try:
        path, text = _benzo_rule(rules_copy)
        path.write_text(text.replace(SENTENCE, SENTENCE.replace("Benzodiazepines", "Benzodiazepine medicines")))
        deadline = time.monotonic() + 60
        while server.request("GET", "/readyz").json["generation"] == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        decision = server.request("POST", "/v1/evaluate", case_json(BENZO)).json
        assert decision["decisions"]["max_supply"]["explanation"].startswith("Benzodiazepine medicines")
    finally:
        server.stop()


def test_work_longer_than_the_limit_is_refused_and_the_access_log_can_name_configured_fields(
        tmp_path: Path) -> None:
    server = Server(tmp_path, "--timeout", "0.1", "--log-case-field", "medicine.atc", "--max-batch", "4096")
    try:
        # A batch over its limit: what was read is answered, and the last row says from where on nothing was.
        lines = "\n".join([case_json(BENZO)] * 20) + "\n"
        assert len(lines) > 4096
        rows = [json.loads(r) for r in server.request("POST", "/v1/batch", lines).text.splitlines()]
        assert rows[-1]["code"] == "RX901" and "were not read" in rows[-1]["message"]
        assert [r["line"] for r in rows] == list(range(1, len(rows) + 1))
        # A body without a declared length is counted as it arrives, and refused all the same.
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as connection:
            connection.sendall(b"POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                               b"Connection: close\r\n\r\n")
            try:
                for _ in range(12):
                    connection.sendall(b"%x\r\n%s\r\n" % (100_000, b" " * 100_000))
                connection.sendall(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            received = read_until_closed(connection)
        assert received.startswith(b"HTTP/1.1 413") and b"RX901" in received
        answer = server.request("GET", "/v1/diff?old=hollandzorg@2023-06-01&new=hollandzorg@2024-06-01")
        assert answer.status == 503
        assert answer.json["diagnostics"][0]["code"] == "RX904"
        assert server.request("POST", "/v1/evaluate?explain=false", case_json(BENZO)).status == 200
        def answered(line: dict[str, object]) -> bool:
            return line.get("path") == "/v1/evaluate" and line.get("status") == 200

        lines = server.log_until(lambda ls: any(answered(line) for line in ls))
        evaluated = [line for line in lines if answered(line)][-1]
        assert evaluated["case"] == {"medicine.atc": "N05BA04"}
        assert "1970-05-01" not in json.dumps(server.log_lines())
    finally:
        server.stop()


def test_serve_refuses_to_start_on_rules_that_do_not_check(rules_copy: Path) -> None:
    path, text = _benzo_rule(rules_copy)
    path.write_text(text.replace("rule dispensing-period/benzodiazepines", "rul dispensing-period/benzodiazepines"))
    exe = Path(sys.executable).parent / "rxpolicy"
    done = subprocess.run([str(exe), "serve", "--policies", str(rules_copy), "--port", "0"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert "dispensing_periods.rxp:" in done.stderr and "RX1" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_reload_sees_an_edit_of_the_source_registry_alone(rules_copy: Path, tmp_path: Path) -> None:
    """`sources.yaml` gives the titles and citations explanations show: editing only it is a change of the rules."""
    server = Server(tmp_path, "--policies", str(rules_copy))
    try:
        before = server.request("POST", "/v1/evaluate", case_json(BENZO)).json
        assert before["decisions"]["max_supply"]["source"].startswith("HollandZorg, Medicinal care 2025, ")
        registry = rules_copy / "sources.yaml"
        text = registry.read_text()
        cited = "cite_as: HollandZorg, Medicinal care 2025\n"
        assert text.count(cited) == 1
        registry.write_text(text.replace(cited, "cite_as: HollandZorg, Medicinal care 2025 (revised)\n"))
        answer = server.request("POST", "/v1/reload")
        assert answer.status == 200 and answer.json["reloaded"] is True and answer.json["generation"] == 1
        after = server.request("POST", "/v1/evaluate", case_json(BENZO)).json
        assert after["decisions"]["max_supply"]["source"].startswith("HollandZorg, Medicinal care 2025 (revised), ")
        assert after["sources"]["hollandzorg-2025"]["cite_as"] == "HollandZorg, Medicinal care 2025 (revised)"
        assert after["receipt"]["policy_fingerprint"] != before["receipt"]["policy_fingerprint"]
        assert server.request("POST", "/v1/reload").json["reloaded"] is False  # and then nothing changed
    finally:
        server.stop()
