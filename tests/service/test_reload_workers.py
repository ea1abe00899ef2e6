"""`rxpolicy serve --workers N`: a reload reaches every worker process, not just the one that answered it.

Each worker accepts connections on the shared socket, so requests on new connections (urllib opens one per
request) reach both workers; the access log's `worker` says which answered, and the test asserts both did.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path

import pytest

from rxpolicy.service.catalogue import CatalogueHolder, load_catalogue, rules_stamp
from rxpolicy.service.shared import SharedRules

from .conftest import Answer, Server, case_json
from .test_reload import BENZO, SENTENCE, _benzo_rule

NEW = SENTENCE.replace("Benzodiazepines", "Benzodiazepine medicines")
#: Requests sent after a reload, at least (before the fix, 33 of 40 of them were answered with the old rules).
REQUESTS = 40


def _ask_both(server: Server, method: str, path: str, body: str | None = None,
              least: int = REQUESTS) -> list[tuple[int, Answer]]:
    """Send requests, each on a new connection, until ``least`` are answered and both workers answered some
    (at most 400): each answer with the worker that gave it (its request id in the access log)."""
    answers: list[Answer] = []
    while True:
        answers += [server.request(method, path, body) for _ in range(10)]
        ids = {answer.headers["x-request-id"] for answer in answers}
        lines = server.log_until(lambda ls: ids <= {line.get("request_id") for line in ls})
        worker = {line["request_id"]: line["worker"] for line in lines if line.get("request_id") in ids}
        if (len(answers) >= least and len(set(worker.values())) == 2) or len(answers) >= 400:
            return [(worker[answer.headers["x-request-id"]], answer) for answer in answers]


def _explanations(server: Server, least: int = REQUESTS) -> tuple[set[int], list[str]]:
    """The workers that answered, and the explanation of the benzodiazepine case's supply in each answer."""
    answers = _ask_both(server, "POST", "/v1/evaluate", case_json(BENZO), least)
    return ({worker for worker, _ in answers},
            [answer.json["decisions"]["max_supply"]["explanation"] for _, answer in answers])


def _views(server: Server) -> tuple[set[int], set[tuple[int, str]], set[float]]:
    """The workers that answered both, what /v1/policies said (generation, fingerprint) and /metrics (generation)."""
    policies = _ask_both(server, "GET", "/v1/policies", least=10)
    metrics = _ask_both(server, "GET", "/metrics", least=10)
    gauges = set()
    for _, answer in metrics:
        found = re.search(r"^rxpolicy_rules_generation (\S+)$", answer.text, re.MULTILINE)
        assert found is not None
        gauges.add(float(found.group(1)))
    return ({worker for worker, _ in policies} & {worker for worker, _ in metrics},
            {(answer.json["generation"], answer.json["rules_fingerprint"]) for _, answer in policies}, gauges)


def test_a_reload_reaches_every_worker_and_a_refused_one_changes_none(rules_copy: Path, tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"  # where the service makes its workers' shared directory
    temporary.mkdir()
    server = Server(tmp_path, "--policies", str(rules_copy), "--workers", "2", env={"TMPDIR": str(temporary)})
    try:
        (shared,) = temporary.glob("rxpolicy-serve-*")
        assert shared.stat().st_mode & 0o077 == 0  # the owner's only
        workers, explanations = _explanations(server, 4)
        assert len(workers) == 2 and all(e.startswith("Benzodiazepines") for e in explanations)
        workers, (before,), gauges = _views(server)
        assert len(workers) == 2 and before[0] == 0 and gauges == {0.0}

        path, text = _benzo_rule(rules_copy)
        path.write_text(text.replace(SENTENCE, NEW))
        answer = server.request("POST", "/v1/reload")
        assert answer.status == 200 and answer.json["reloaded"] is True and answer.json["generation"] == 1
        workers, explanations = _explanations(server)
        old = [e for e in explanations if not e.startswith("Benzodiazepine medicines")]
        assert not old, f"{len(old)} of {len(explanations)} answers after the reload still used the old rules"
        assert len(workers) == 2  # both workers answered
        # Every worker: the same generation and fingerprint, in /v1/policies and in the metrics.
        assert _views(server) == (workers, {(1, answer.json["rules_fingerprint"])}, {1.0})
        assert answer.json["rules_fingerprint"] != before[1]

        # Rules that do not check: refused with the place, and no worker changes (no stamp is written).
        lines = path.read_text().splitlines()
        number = next(i for i, line in enumerate(lines, 1) if line.strip().startswith("then "))
        lines[number - 1] = lines[number - 1].replace("then", "thn", 1)
        path.write_text("\n".join(lines) + "\n")
        refused = server.request("POST", "/v1/reload")
        assert refused.status == 409 and refused.json["generation"] == 1
        problem = refused.json["diagnostics"][0]
        assert (problem["code"], problem["line"]) == ("RX103", number)
        assert problem["file"].endswith("model/dispensing_periods.rxp") and "rxpolicy-serve-" not in problem["file"]
        workers, explanations = _explanations(server)
        assert len(workers) == 2 and all(e.startswith("Benzodiazepine medicines") for e in explanations)
        assert _views(server) == (workers, {(1, answer.json["rules_fingerprint"])}, {1.0})

        # Fixed again: the next reload is generation 2 on every worker, whichever answers it.
        path.write_text(text)
        again = server.request("POST", "/v1/reload")
        assert again.status == 200 and again.json["generation"] == 2
        workers, explanations = _explanations(server)
        assert len(workers) == 2 and all(e.startswith("Benzodiazepines") for e in explanations)
        assert _views(server) == (workers, {(2, before[1])}, {2.0})
        follows = [line for line in server.log_lines() if line.get("event") == "follow"]
        assert {line["generation"] for line in follows} == {1, 2}  # the other worker followed each reload
        assert len(list(shared.glob("rules-*"))) <= 2  # old snapshots are removed
    finally:
        server.stop()
    assert not shared.exists()  # removed when the service stopped


def _max_supply(holder: CatalogueHolder) -> str:
    policy = holder.current.policies["hollandzorg"]
    rule = next(r for r in policy.rules if r.id == "dispensing-period/benzodiazepines")
    assert rule.location.startswith("model/dispensing_periods.rxp:") and rule.sources  # named as the original
    return rule.explains["en"]


def test_a_snapshot_compiles_to_the_fingerprint_of_the_rules_it_copies(rules_copy: Path, tmp_path: Path) -> None:
    """Workers compile a copy of the rules, named as the originals: the receipts are those of one process."""
    for number, root in enumerate((None, rules_copy)):  # the built-in rules (named `rules/…`), and a directory
        shared = CatalogueHolder.open_shared(root, SharedRules(tmp_path / f"shared-{number}"))
        assert shared.current.fingerprint == load_catalogue(root).fingerprint


def test_workers_follow_the_texts_a_reload_checked_not_the_files_as_they_are_later(rules_copy: Path,
                                                                                   tmp_path: Path) -> None:
    """Two holders on one shared directory stand for two workers (as `serve --workers 2` makes them)."""
    shared = tmp_path / "shared"
    first = CatalogueHolder.open_shared(rules_copy, SharedRules(shared))
    second = CatalogueHolder.open_shared(rules_copy, SharedRules(shared))
    assert not second.stale() and second.current.fingerprint == first.current.fingerprint
    assert second.files_read == rules_stamp(rules_copy)  # a watcher starts from the files as they were copied

    path, text = _benzo_rule(rules_copy)
    path.write_text(text.replace(SENTENCE, NEW))
    result = first.reload()
    assert result.changed and result.catalogue.generation == 1
    # The file changes again before the second worker follows: it still serves what the reload checked.
    path.write_text(text.replace(SENTENCE, "Something else entirely"))
    assert second.stale()
    followed = second.follow()
    assert followed is not None and followed.fingerprint == result.catalogue.fingerprint
    assert _max_supply(second).startswith("Benzodiazepine medicines") and second.current.generation == 1
    assert not second.stale() and second.follow() is None  # once per publication
    assert second.files_read != rules_stamp(rules_copy)  # so its watcher sees the later change, and reloads

    # A worker started later (uvicorn starts one when one dies) starts on the published rules, not on the files.
    third = CatalogueHolder.open_shared(rules_copy, SharedRules(shared))
    assert (third.current.generation, third.current.fingerprint) == (1, result.catalogue.fingerprint)

    # Rules that do not check: refused, nothing published, no worker has anything to follow.
    path.write_text(text.replace("rule dispensing-period/benzodiazepines", "rul dispensing-period/benzodiazepines"))
    refused = second.reload()
    assert not refused.changed and refused.problems and refused.catalogue.generation == 1
    assert not first.stale() and not third.stale()
    # A reload in a worker that has not followed yet numbers the generation after the published one.
    path.write_text(text)
    assert second.reload().catalogue.generation == 2
    assert first.stale() and first.reload().changed is False and first.current.generation == 2
    assert _max_supply(first).startswith("Benzodiazepines")

    # The shared directory removed from under the service (a tmp cleaner): the rules serve on, nobody looks for
    # the stamp on every request, and the next reload writes it again.
    shutil.rmtree(shared)
    assert first.stale() and first.follow() is None and not first.stale()
    path.write_text(text.replace(SENTENCE, NEW))
    assert first.reload().changed and second.stale() and second.follow() is not None
    assert _max_supply(second).startswith("Benzodiazepine medicines") and second.current.generation == 3


def test_a_snapshot_changed_under_a_compile_is_read_again_and_a_request_is_never_answered_by_old_rules(
        rules_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two reloads within one compile: the snapshot a worker compiles is pruned under it, so it compiles to other
    rules than its stamp says. The worker reads the stamp again (the newer one) instead of failing; when it cannot
    take up the rules at all, a request gets RX906 (503), not an answer from the old rules."""
    from rxpolicy.service import catalogue as catalogue_module
    from rxpolicy.service.app import ServiceConfig, create_app

    shared = tmp_path / "shared"
    first = CatalogueHolder.open_shared(rules_copy, SharedRules(shared))
    second = CatalogueHolder.open_shared(rules_copy, SharedRules(shared))
    path, text = _benzo_rule(rules_copy)
    path.write_text(text.replace(SENTENCE, NEW))
    assert first.reload().changed and second.stale()

    real, calls = catalogue_module._load_stamp, []

    def pruned_once(*args: object) -> object:
        calls.append(1)
        if len(calls) == 1:
            raise catalogue_module.SnapshotChanged("pruned under the compile")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(catalogue_module, "_load_stamp", pruned_once)
    assert second.follow() is not None and len(calls) == 2
    assert _max_supply(second).startswith("Benzodiazepine medicines")

    def never(*args: object) -> object:
        raise catalogue_module.SnapshotChanged("pruned under every compile")

    app = create_app(ServiceConfig(policies=rules_copy, shared_dir=shared))  # a third worker, on generation 1
    monkeypatch.setattr(catalogue_module, "_load_stamp", never)
    path.write_text(text)
    assert first.reload().changed
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": case_json(BENZO).encode(), "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/evaluate", "raw_path": b"/v1/evaluate",
             "query_string": b"", "headers": [(b"content-type", b"application/json")], "http_version": "1.1",
             "scheme": "http", "server": ("test", 80), "client": ("test", 1), "root_path": ""}
    asyncio.run(app(scope, receive, send))  # the middleware's own road, the injected failure in one process
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])  # type: ignore[misc]
    headers = dict(start["headers"])  # type: ignore[arg-type]
    assert start["status"] == 503 and headers[b"retry-after"] == b"1"
    assert json.loads(body)["diagnostics"][0]["code"] == "RX906"
