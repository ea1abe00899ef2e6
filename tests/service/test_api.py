"""The decision service over a socket: evaluate, batch, check, policies, diff, health, metrics, bad requests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, Server, case_json

BENZO = ROOT / "examples" / "hollandzorg" / "benzodiazepine-chronic.yaml"
CHRONIC = ROOT / "examples" / "hollandzorg" / "chronic-adjusted.yaml"


def cli_json(case: Path, *extra: str) -> dict[str, object]:
    exe = Path(sys.executable).parent / "rxpolicy"
    done = subprocess.run([str(exe), "eval", str(case), "--format", "json", *extra], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("case", [BENZO, CHRONIC, ROOT / "examples" / "asr" / "pill-age-19.yaml"],
                         ids=lambda p: p.stem)
def test_evaluate_answers_what_the_command_line_prints(server: Server, case: Path) -> None:
    policy = case.parent.name
    answer = server.request("POST", f"/v1/evaluate?policy={policy}", case_json(case))
    assert answer.status == 200
    assert answer.json == cli_json(case, "--policy", policy)
    # The receipt travels in the headers too, so a claim system can log it without parsing the body.
    assert answer.headers["rxpolicy-rules-fingerprint"] == answer.json["receipt"]["policy_fingerprint"]
    assert answer.headers["rxpolicy-engine-version"] == answer.json["receipt"]["engine_version"]


def test_dutch_explanation_and_what_would_change_it(server: Server) -> None:
    answer = server.request("POST", "/v1/evaluate?lang=nl&why_not=true", case_json(BENZO)).json
    assert answer == cli_json(BENZO, "--lang", "nl", "--why-not")
    assert answer["what_would_change"][0]["changes"] == {"dispensing.supply_days": 31}


def test_a_yaml_body_is_read_as_a_case_file(server: Server) -> None:
    answer = server.request("POST", "/v1/evaluate", BENZO.read_text(), content_type="application/yaml")
    assert answer.status == 200
    assert answer.json == cli_json(BENZO)


def test_without_explanation_the_values_rules_and_receipt_stay(server: Server) -> None:
    full = server.request("POST", "/v1/evaluate", case_json(BENZO)).json
    lean = server.request("POST", "/v1/evaluate?explain=false", case_json(BENZO)).json
    assert lean["outcome"] == full["outcome"] == "not_covered"
    assert lean["receipt"] == full["receipt"]
    assert set(lean["decisions"]) == set(full["decisions"])
    for name, decision in lean["decisions"].items():
        assert decision["value"] == full["decisions"][name]["value"], name
        assert decision["rule"] == full["decisions"][name]["rule"], name
        assert "because" not in decision
    assert [r["rule"] for r in lean["reasons"]] == [r["rule"] for r in full["reasons"]]


def test_a_policy_named_with_another_year_is_refused(server: Server) -> None:
    answer = server.request("POST", "/v1/evaluate?policy=hollandzorg-2024", case_json(BENZO))
    assert answer.status == 400
    assert answer.json["diagnostics"][0]["code"] == "RX602"


@pytest.mark.parametrize(("body", "status", "code", "words"), [
    ('{"dispensed_on": "2025-03-14", "insured": {"born_on": "1970-05-01"}}', 400, "RX402", "prescription.prescriber"),
    ('{"dispensed_on": "2025-03-14",\n "insured": {', 400, "RX902", "request body:2:14"),
    ("[1, 2]", 400, "RX902", "a JSON array"),
    (case_json(BENZO).replace('"N05BA04"', '"N5BA04"'), 400, "RX405", "not a WHO ATC code"),
    (case_json(BENZO).replace('"born_on"', '"bornon"'), 400, "RX403", "born_on"),
    (case_json(BENZO).replace('"2025-03-14"', '"2031-03-14"'), 422, "RX501", "2031-03-14"),
])
def test_bad_cases_get_the_command_lines_located_messages(server: Server, body: str, status: int, code: str,
                                                          words: str) -> None:
    answer = server.request("POST", "/v1/evaluate", body)
    assert answer.status == status
    data = answer.json
    assert code in [d["code"] for d in data["diagnostics"]]
    assert words in data["error"] + "".join(d["text"] for d in data["diagnostics"])
    assert all(d.get("fix") for d in data["diagnostics"]), "every refusal says how to fix it"
    assert "Traceback" not in answer.text


def test_bad_parameters_unknown_policies_and_endpoints_are_refused_in_words(server: Server) -> None:
    cases = [("POST", "/v1/evaluate?lang=de", 400, "RX902"), ("POST", "/v1/evaluate?explain=maybe", 400, "RX902"),
             ("POST", "/v1/evaluate?policy=hollandzorq", 400, "RX601"), ("GET", "/v1/nothing", 404, "RX905"),
             ("GET", "/v1/evaluate", 405, "RX905"), ("GET", "/v1/diff?old=hollandzorg", 400, "RX902")]
    for method, path, status, code in cases:
        answer = server.request(method, path, case_json(BENZO) if method == "POST" else None)
        assert (answer.status, answer.json["diagnostics"][0]["code"]) == (status, code), path
        assert answer.json["diagnostics"][0]["fix"]
    unknown = server.request("POST", "/v1/evaluate?policy=hollandzorq", case_json(BENZO)).json
    assert "hollandzorg" in unknown["diagnostics"][0]["fix"]


def test_the_request_body_is_bounded(server: Server) -> None:
    answer = server.oversized("/v1/evaluate", 1_100_000)
    assert answer.status == 413
    assert answer.json["diagnostics"][0]["code"] == "RX901"


def test_batch_accounts_for_every_line(server: Server) -> None:
    good = case_json(BENZO)
    lines = [good, "{not json", "", json.dumps({"dispensed_on": "2025-01-01"}), case_json(CHRONIC), "[]"]
    answer = server.request("POST", "/v1/batch", "\n".join(lines) + "\n", content_type="application/x-ndjson")
    assert answer.status == 200
    rows = [json.loads(line) for line in answer.text.splitlines()]
    # Every non-empty input line has exactly one row, in order, with its line number.
    assert [r["line"] for r in rows] == [1, 2, 4, 5, 6]
    assert rows[0]["outcome"] == "not_covered" and rows[3]["outcome"] == "covered"
    assert rows[0]["receipt"]["case_sha256"] == cli_json(BENZO)["receipt"]["case_sha256"]  # type: ignore[index]
    errors = {r["line"]: r for r in rows if "code" in r}
    assert set(errors) == {2, 4, 6}
    assert errors[2]["code"] == "RX902" and errors[2]["field"] is None
    assert errors[4]["code"] == "RX402" and errors[4]["field"] == "insured.born_on"
    assert all(set(r) >= {"line", "code", "field", "message"} for r in errors.values())


def test_check_reports_a_broken_rule_at_its_line(server: Server) -> None:
    files = server.request("GET", "/v1/policies/hollandzorg/files").json["files"]
    path = "rules/hollandzorg/excess.rxp"
    lines = files[path].splitlines()
    number = next(i for i, line in enumerate(lines, 1) if line.strip().startswith("then "))
    lines[number - 1] = lines[number - 1].replace("then", "thn", 1)
    answer = server.request("POST", "/v1/check", {"policy": "hollandzorg", "files": {path: "\n".join(lines)}})
    assert answer.status == 200
    data = answer.json
    assert data["ok"] is False
    first = data["diagnostics"][0]
    assert (first["file"], first["line"], first["column"], first["code"]) == (path, number, 3, "RX103")
    assert "did you mean `then`" in first["fix"]
    assert "^^^" in first["text"]


def test_check_of_several_files_and_a_case_with_the_edited_rules(server: Server) -> None:
    files = server.request("GET", "/v1/policies/hollandzorg/files").json["files"]
    # An edit that changes a decision: the benzodiazepine dispensing period of the model layer becomes 3 months.
    path = "rules/model/dispensing_periods.rxp"
    text = files[path]
    start = text.index("rule dispensing-period/benzodiazepines")
    end = text.index("\nend", start)
    assert "max_supply = at most 1 month" in text[start:end]
    rule = text[start:end].replace("max_supply = at most 1 month", "max_supply = at most 3 months")
    edited = {path: text[:start] + rule + text[end:],
              "rules/hollandzorg/excess.rxp": files["rules/hollandzorg/excess.rxp"]}
    answer = server.request("POST", "/v1/check", {"policy": "hollandzorg", "files": edited,
                                                   "case": json.loads(case_json(BENZO))}).json
    assert answer["ok"] is True, answer["diagnostics"]
    assert answer["decision"]["decisions"]["max_supply"]["value"] == "3 months"
    assert answer["decision"]["outcome"] == "covered"
    # Nothing on the server changed: the served policy still decides as before.
    assert server.request("POST", "/v1/evaluate", case_json(BENZO)).json["outcome"] == "not_covered"
    assert "at most 1 month" in server.request("GET", "/v1/policies/hollandzorg/files").json["files"][path]


def test_check_refuses_files_that_are_not_the_policys(server: Server) -> None:
    answer = server.request("POST", "/v1/check", {"policy": "hollandzorg", "files": {"/etc/passwd": "x"}})
    assert answer.status == 400
    assert answer.json["diagnostics"][0]["code"] == "RX903"


def test_check_of_files_on_their_own(server: Server) -> None:
    answer = server.request("POST", "/v1/check", {"files": {"a.rxp": "rule x\nend\n"}}).json
    assert answer["ok"] is False
    assert {d["file"] for d in answer["diagnostics"]} == {"a.rxp"}


def test_policies_list_what_is_served(server: Server) -> None:
    data = server.request("GET", "/v1/policies").json
    names = [p["name"] for p in data["policies"]]
    assert names == ["asr", "hollandzorg"]
    hollandzorg = data["policies"][1]
    assert [layer["name"] for layer in hollandzorg["layers"]] == ["statutory", "model", "hollandzorg"]
    assert hollandzorg["periods"][0]["start"] == "2023-01-01"


def test_diff_of_two_dates_in_general_and_on_one_case(server: Server) -> None:
    query = "/v1/diff?old=hollandzorg@2023-06-01&new=hollandzorg@2024-06-01"
    general = server.request("GET", query).json
    exe = Path(sys.executable).parent / "rxpolicy"
    cli = json.loads(subprocess.run([str(exe), "diff", "hollandzorg@2023-06-01", "hollandzorg@2024-06-01",
                                     "--format", "json"], capture_output=True, text=True, cwd=ROOT).stdout)
    assert general == cli
    esketamine = (ROOT / "examples" / "hollandzorg" / "esketamine-2023-no-authorisation.yaml")
    on_case = server.request("POST", "/v1/diff?old=hollandzorg@2023-06-01&new=hollandzorg@2024-06-01",
                             case_json(esketamine)).json
    assert on_case["cases"] == "files"
    assert "authorisation_required" in {d["decision"] for d in on_case["differences"]}


def test_health_readiness_and_metrics(server: Server) -> None:
    assert server.request("GET", "/healthz").json == {"status": "ok"}
    ready = server.request("GET", "/readyz").json
    assert ready["status"] == "ready" and ready["policies"] == ["asr", "hollandzorg"]
    server.request("POST", "/v1/evaluate", case_json(CHRONIC))
    metrics = server.request("GET", "/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    line = next(l for l in text.splitlines() if l.startswith('rxpolicy_evaluations_total{outcome="covered",policy="hollandzorg"}'))
    assert float(line.split()[-1]) >= 1
    assert 'rxpolicy_http_requests_total{method="POST",route="/v1/evaluate",status="200"}' in text


def test_every_response_names_the_engine_and_the_rules(server: Server) -> None:
    for path in ("/healthz", "/v1/policies", "/v1/nothing", "/openapi.json", "/"):
        answer = server.request("GET", path)
        assert answer.headers["rxpolicy-engine-version"], path
        assert len(answer.headers["rxpolicy-rules-fingerprint"]) == 64, path


def test_one_json_access_log_line_per_request_without_case_data(server: Server) -> None:
    marker = "/v1/policies?marker=access-log-test"
    before = len(server.log_lines())
    server.request("GET", marker)
    server.request("POST", "/v1/evaluate", case_json(BENZO))
    lines = server.log_until(lambda ls: any(l.get("path") == "/v1/evaluate" for l in ls[before:]))
    requests = [l for l in lines[before:] if l.get("event") == "request"]
    assert any(l["path"] == "/v1/policies" for l in requests)
    evaluated = [l for l in requests if l["path"] == "/v1/evaluate" and l["status"] == 200][-1]
    assert evaluated["policy"] == "hollandzorg" and evaluated["outcome"] == "not_covered"
    assert set(evaluated) >= {"time", "request_id", "method", "status", "ms", "fingerprint"}
    logged = json.dumps(lines)
    for personal in ("1970-05-01", "oxazepam", "N05BA04", "marker", "127.0.0.1"):
        assert personal not in logged, personal


def test_the_workbench_and_its_files_are_served(server: Server) -> None:
    page = server.request("GET", "/")
    assert page.status == 200 and "rxpolicy workbench" in page.text
    for name in ("workbench.js", "workbench.css"):
        assert server.request("GET", f"/static/{name}").status == 200


def test_the_readme_curl_answers_what_the_readme_shows(server: Server) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Service and workbench"):]
    command = section[section.index("curl "):section.index("```", section.index("curl "))]
    path = command.split("'http://127.0.0.1:8080", 1)[1].split("'", 1)[0]
    case = command.split("--data-binary @", 1)[1].split()[0]
    assert "application/yaml" in command
    answer = server.request("POST", path, (ROOT / case).read_text(), content_type="application/yaml")
    assert answer.status == 200
    compact = json.dumps(answer.json, separators=(",", ":"), ensure_ascii=False)
    shown = section[section.index("```json"):]
    shown = shown[len("```json"):shown.index("```", 7)]
    # Every piece between the `…` of the README's answer is in the real one.
    for piece in shown.replace("\n", "").split("…"):
        for part in piece.strip(" ,{}[]").split(","):
            part = part.strip(" {}[]")
            if part and part != '"policy_fingerprint":"':
                assert part in compact, part
