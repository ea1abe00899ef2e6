"""`rxpolicy serve --workers N`: a reload reaches every worker process, not just the one that answered it.

Each worker accepts connections on the shared socket, so requests on new connections (urllib opens one per
request) reach both workers; the access log's `worker` says which answered, and the test asserts both did.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from rxpolicy.service.catalogue import CatalogueHolder, load_catalogue, rules_stamp
from rxpolicy.service.shared import SharedRules

from .conftest import Server, case_json
from .test_reload import BENZO, SENTENCE, _benzo_rule

NEW = SENTENCE.replace("Benzodiazepines", "Benzodiazepine medicines")
#: Requests sent after a reload (before the fix, 33 of 40 of them were answered with the old rules).
REQUESTS = 40


def _explanations(server: Server, count: int) -> list[str]:
    return [server.request("POST", "/v1/evaluate", case_json(BENZO)).json["decisions"]["max_supply"]["explanation"]
            for _ in range(count)]


def _workers_answering(server: Server, path: str, since: int) -> Counter[int]:
    """How many of the requests to ``path`` logged after the first ``since`` log lines each worker answered."""
    lines = server.log_until(lambda ls: sum(1 for line in ls[since:] if line.get("path") == path) >= REQUESTS)
    return Counter(line["worker"] for line in lines[since:] if line.get("path") == path)


def _views(server: Server, count: int) -> set[tuple[Any, ...]]:
    """What /v1/policies and /metrics say about the rules served, over ``count`` requests of each."""
    seen = set()
    for _ in range(count):
        policies = server.request("GET", "/v1/policies").json
        metrics = server.request("GET", "/metrics").text
        gauge = re.search(r"^rxpolicy_rules_generation (\S+)$", metrics, re.MULTILINE)
        assert gauge is not None
        seen.add((policies["generation"], policies["rules_fingerprint"], float(gauge.group(1))))
    return seen


def test_a_reload_reaches_every_worker_and_a_refused_one_changes_none(rules_copy: Path, tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"  # where the service makes its workers' shared directory
    temporary.mkdir()
    server = Server(tmp_path, "--policies", str(rules_copy), "--workers", "2", env={"TMPDIR": str(temporary)})
    try:
        (shared,) = temporary.glob("rxpolicy-serve-*")
        assert shared.stat().st_mode & 0o077 == 0  # the owner's only
        assert all(e.startswith("Benzodiazepines") for e in _explanations(server, 4))
        (before,) = _views(server, 6)

        path, text = _benzo_rule(rules_copy)
        path.write_text(text.replace(SENTENCE, NEW))
        answer = server.request("POST", "/v1/reload")
        assert answer.status == 200 and answer.json["reloaded"] is True and answer.json["generation"] == 1
        since = len(server.log_lines())
        explanations = _explanations(server, REQUESTS)
        old = [e for e in explanations if not e.startswith("Benzodiazepine medicines")]
        assert not old, f"{len(old)} of {REQUESTS} answers after the reload still used the old rules"
        assert len(_workers_answering(server, "/v1/evaluate", since)) == 2  # both workers were asked
        (after,) = _views(server, 6)  # every worker: the same generation and fingerprint, in both places
        assert after == (1, answer.json["rules_fingerprint"], 1.0) and after[1] != before[1]

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
        since = len(server.log_lines())
        assert all(e.startswith("Benzodiazepine medicines") for e in _explanations(server, REQUESTS))
        assert len(_workers_answering(server, "/v1/evaluate", since)) == 2
        assert _views(server, 6) == {after}

        # Fixed again: the next reload is generation 2 on every worker, whichever answers it.
        path.write_text(text)
        again = server.request("POST", "/v1/reload")
        assert again.status == 200 and again.json["generation"] == 2
        assert all(e.startswith("Benzodiazepines") for e in _explanations(server, REQUESTS))
        assert _views(server, 6) == {(2, before[1], 2.0)}
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
