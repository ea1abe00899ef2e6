"""`rxpolicy serve --workers N`: a reload reaches every worker process, not just the one that answered it.

Each worker accepts connections on the shared socket, so requests on new connections (urllib opens one per
request) reach both workers; the access log's `worker` says which answered, and the test asserts both did.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import rxpolicy.service.app as app_module
import rxpolicy.service.catalogue as catalogue_module
import rxpolicy.service.shared as shared_module
from rxpolicy.service.catalogue import Catalogue, CatalogueHolder, ReloadResult, load_catalogue, rules_stamp
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


def test_a_tmp_cleaner_removing_the_shared_directory_sends_no_generation_back(rules_copy: Path,
                                                                              tmp_path: Path) -> None:
    """The real service: its shared directory removed, then a worker killed (uvicorn starts a new one). Every worker
    still answers with the generation and rules published before, and the next reload is numbered after them."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    server = Server(tmp_path, "--policies", str(rules_copy), "--workers", "2", env={"TMPDIR": str(temporary)})
    try:
        (shared,) = temporary.glob("rxpolicy-serve-*")
        path, text = _benzo_rule(rules_copy)
        path.write_text(text.replace(SENTENCE, NEW))
        reloaded = server.request("POST", "/v1/reload").json
        assert reloaded["generation"] == 1
        workers, _ = _explanations(server, 4)
        assert len(workers) == 2

        shutil.rmtree(shared)
        path.write_text(text.replace(SENTENCE, "Edited but not reloaded"))  # a new worker must not serve this
        deadline = time.monotonic() + 60
        while not (shared / "stamp.json").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (shared / "stamp.json").exists(), "no worker published the rules it serves again"
        assert shared.stat().st_mode & 0o077 == 0  # made again the owner's only

        os.kill(min(workers), signal.SIGKILL)
        started: set[int] = set()
        while not started and time.monotonic() < deadline + 60:
            answered, explanations = _explanations(server, 10)
            started = answered - workers
        assert started, "uvicorn started no new worker"
        assert all(e.startswith("Benzodiazepine medicines") for e in explanations)
        views = _views(server)
        assert len(views[0]) == 2 and views[1:] == ({(1, reloaded["rules_fingerprint"])}, {1.0})
        assert {server.request("GET", "/readyz").json["generation"] for _ in range(10)} == {1}

        again = server.request("POST", "/v1/reload")
        assert again.status == 200 and again.json["generation"] == 2
        workers, explanations = _explanations(server)
        assert len(workers) == 2 and all(e.startswith("Edited but not reloaded") for e in explanations)
        assert _views(server)[1:] == ({(2, again.json["rules_fingerprint"])}, {2.0})
    finally:
        server.stop()


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

    # The shared directory removed from under the service (a tmp cleaner): the rules serve on, and the first worker
    # to look publishes them again under their generation (nobody looks for the stamp on every request after that).
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


def _generation(shared: Path) -> int:
    stamp = SharedRules(shared).read()
    assert stamp is not None
    return stamp.generation


def test_generations_never_go_back_when_the_shared_directory_is_removed(rules_copy: Path, tmp_path: Path) -> None:
    """A tmp cleaner removes the workers' directory; a worker started afterwards (uvicorn starts one when one dies)
    must not make any worker serve, or any client see, a generation below the one served before."""
    shared = tmp_path / "shared"
    first = CatalogueHolder.open_shared(rules_copy, SharedRules(shared))
    second = CatalogueHolder.open_shared(rules_copy, SharedRules(shared))
    path, text = _benzo_rule(rules_copy)
    path.write_text(text.replace(SENTENCE, NEW))
    assert first.reload().catalogue.generation == 1
    path.write_text(text)
    assert first.reload().catalogue.generation == 2 and second.follow() is not None
    served = first.current.fingerprint

    # A worker looks before the next one starts: it makes the directory again (the owner's only) and publishes the
    # rules it serves, from the files it kept; a worker started later takes them up under their generation.
    shutil.rmtree(shared)
    assert first.stale() and first.follow() is None and _generation(shared) == 2
    assert shared.stat().st_mode & 0o077 == 0
    assert second.stale() and second.follow() is None and not second.stale()  # the same rules: nothing to compile
    path.write_text(text.replace(SENTENCE, "Something edited but not reloaded"))
    later = CatalogueHolder.open_shared(rules_copy, SharedRules(shared))
    assert (later.current.generation, later.current.fingerprint) == (2, served)
    assert _max_supply(later).startswith("Benzodiazepines")  # what the others serve, not the files as they are now

    # A worker started before any other looked numbers the files as they are from 0 again: the first worker to
    # look publishes its own rules again as generation 2, and the new worker follows them.
    shutil.rmtree(shared)
    early = CatalogueHolder.open_shared(rules_copy, SharedRules(shared))
    assert early.current.generation == 0 and early.current.fingerprint != served
    assert first.stale() and first.follow() is None and first.current.generation == 2
    assert _generation(shared) == 2
    followed = early.follow()
    assert followed is not None and (followed.generation, followed.fingerprint) == (2, served)
    assert _max_supply(early).startswith("Benzodiazepines")
    assert second.follow() is None and second.current.generation == 2 and later.follow() is None

    # The same rules numbered 0 by a new worker: renumbered, and followed without a compile.
    path.write_text(text)
    shutil.rmtree(shared)
    same = CatalogueHolder.open_shared(rules_copy, SharedRules(shared))
    assert (same.current.generation, same.current.fingerprint) == (0, served)
    assert second.follow() is None and _generation(shared) == 2
    renumbered = same.follow()
    assert renumbered is not None and (renumbered.generation, renumbered.fingerprint) == (2, served)
    assert renumbered.policies is same.current.policies is not None
    # And the next reload is numbered after that, whichever worker makes it.
    path.write_text(text.replace(SENTENCE, NEW))
    assert same.reload().catalogue.generation == 3
    assert all(h.follow() is not None and h.current.generation == 3 for h in (first, second, later, early))


def test_a_worker_started_when_the_stamp_is_gone_waits_for_another_to_publish_it_again(rules_copy: Path,
                                                                                       tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    first = CatalogueHolder.open_shared(rules_copy, SharedRules(shared))
    path, text = _benzo_rule(rules_copy)
    path.write_text(text.replace(SENTENCE, NEW))
    assert first.reload().catalogue.generation == 1
    shutil.rmtree(shared)
    path.write_text(text)  # edited, not reloaded
    survivor = threading.Timer(0.2, first.follow)  # the other worker's idle look, a moment after this one starts
    survivor.start()
    started = CatalogueHolder.open_shared(rules_copy, SharedRules(shared), wait=60)
    survivor.join()
    assert (started.current.generation, started.current.fingerprint) == (1, first.current.fingerprint)
    assert _max_supply(started).startswith("Benzodiazepine medicines")


def test_a_shared_directory_made_again_by_someone_else_is_refused(rules_copy: Path, tmp_path: Path) -> None:
    """After a removal, a directory in its place that is not private to this user is not read from or written to:
    the workers serve on with the rules they have, and a reload says why it cannot be published."""
    from rxpolicy.diagnostics import RxError

    shared = tmp_path / "shared"
    first = CatalogueHolder.open_shared(rules_copy, SharedRules(shared))
    shutil.rmtree(shared)
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)  # as another user's would be: others may read it (and, with 777, write it)
    with pytest.raises(RxError) as raised:
        first.follow()
    assert raised.value.diagnostics[0].code == "RX906" and "restart the service" in raised.value.diagnostics[0].help
    assert not first.stale() and first.current.generation == 0  # said once; the rules it has serve on
    with pytest.raises(RxError):
        first.reload()
    assert not list(shared.iterdir())  # nothing written there


def test_a_worker_never_takes_up_other_rules_under_the_generation_it_serves(rules_copy: Path, tmp_path: Path) -> None:
    """No reload yet (generation 0), an edit nobody reloaded, the directory removed, and a worker started before
    any other looked numbers the files as they are from 0. Failed before: the serving worker took those unreloaded
    rules up under generation 0; now it publishes what it serves again and the newcomer follows it."""
    shared = tmp_path / "shared"
    serving = CatalogueHolder.open_shared(rules_copy, SharedRules(shared))
    published = serving.current.fingerprint
    path, text = _benzo_rule(rules_copy)
    path.write_text(text.replace(SENTENCE, NEW))  # edited, not reloaded
    shutil.rmtree(shared)
    newcomer = CatalogueHolder.open_shared(rules_copy, SharedRules(shared))
    assert (newcomer.current.generation, newcomer.current.fingerprint != published) == (0, True)
    assert serving.follow() is None and (serving.current.generation, serving.current.fingerprint) == (0, published)
    followed = newcomer.follow()
    assert followed is not None and (followed.generation, followed.fingerprint) == (0, published)
    assert _max_supply(newcomer).startswith("Benzodiazepines")
    assert serving.follow() is None and newcomer.follow() is None and not serving.stale() and not newcomer.stale()
    assert path.read_text() != text and serving.reload().catalogue.generation == 1  # the next reload counts on


def test_a_reload_whose_directory_is_removed_and_made_again_never_publishes_a_missing_snapshot(
        rules_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The directory removed while a reload compiles, and made again (with a new lock) by another worker. Failed
    before: the reload, still holding the old deleted lock, published a stamp naming a snapshot that was gone, and
    every other worker's follow, and a new worker's start, failed with FileNotFoundError."""
    shared = tmp_path / "shared"
    holders = [CatalogueHolder.open_shared(rules_copy, SharedRules(shared)) for _ in range(3)]
    path, text = _benzo_rule(rules_copy)
    real, removed = catalogue_module.load_catalogue, []

    def removed_meanwhile(*args: Any, **kwargs: Any) -> Catalogue:
        compiled = real(*args, **kwargs)
        if not removed:
            removed.append(True)
            shutil.rmtree(shared)
            assert holders[1].follow() is None  # puts the directory, its lock and generation 0 back
        return compiled

    monkeypatch.setattr(catalogue_module, "load_catalogue", removed_meanwhile)
    path.write_text(text.replace(SENTENCE, NEW))
    result = holders[0].reload()
    monkeypatch.setattr(catalogue_module, "load_catalogue", real)
    assert removed and result.changed and result.catalogue.generation == 1
    stamp = SharedRules(shared).read()
    assert stamp is not None and stamp.generation == 1 and (shared / stamp.snapshot).is_dir()
    for holder in holders[1:]:
        assert holder.follow() is not None and holder.current.fingerprint == result.catalogue.fingerprint
    later = CatalogueHolder.open_shared(rules_copy, SharedRules(shared))
    assert (later.current.generation, later.current.fingerprint) == (1, result.catalogue.fingerprint)


def test_the_lock_taken_is_the_directorys_lock_of_now(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lock file removed (with its directory) while a process waited for it is let go, and the new one taken.
    Failed before: the waiter went on holding the deleted file while another process held the new one."""
    shared = SharedRules(tmp_path / "shared")
    entered, release, inside = threading.Event(), threading.Event(), []

    def holder() -> None:
        with shared.locked():
            entered.set()
            release.wait(10)

    first = threading.Thread(target=holder)
    first.start()
    assert entered.wait(10)
    waiter = SharedRules(tmp_path / "shared")

    def wait_for_lock() -> None:
        with waiter.locked():
            lock = os.stat(tmp_path / "shared" / "reload.lock")
            inside.append((lock.st_dev, lock.st_ino))

    # The waiter has opened the first lock file when it asks for the lock: from then on it holds that file, and
    # blocks on it until the first lets go, whether or not it is blocked yet when the directory is removed.
    real_flock, asking = shared_module.fcntl.flock, threading.Event()

    def flock(descriptor: int, operation: int) -> None:
        if threading.current_thread() is second and operation == shared_module.fcntl.LOCK_EX:
            asking.set()
        real_flock(descriptor, operation)

    monkeypatch.setattr(shared_module.fcntl, "flock", flock)
    second = threading.Thread(target=wait_for_lock)
    second.start()
    assert asking.wait(10)
    shutil.rmtree(tmp_path / "shared")
    with SharedRules(tmp_path / "shared").locked():  # a third takes the directory's new lock, and keeps it a while
        new = os.stat(tmp_path / "shared" / "reload.lock")
        release.set()
        first.join()
        time.sleep(0.2)
        assert not inside  # the waiter, given the old lock, let it go and now waits for the new one
    second.join()
    assert inside == [(new.st_dev, new.st_ino)]


def test_a_worker_starting_on_a_stamp_whose_snapshot_is_gone_starts(rules_copy: Path, tmp_path: Path) -> None:
    """A tmp cleaner removed the published snapshot alone. Failed before: a worker started then crashed with
    FileNotFoundError; now it publishes the files as they are, numbered after that stamp, and the others follow."""
    shared = tmp_path / "shared"
    serving = CatalogueHolder.open_shared(rules_copy, SharedRules(shared))
    stamp = SharedRules(shared).read()
    assert stamp is not None
    shutil.rmtree(shared / stamp.snapshot)
    started = CatalogueHolder.open_shared(rules_copy, SharedRules(shared))
    assert started.current.generation == 1 and _generation(shared) == 1
    assert serving.follow() is not None and serving.current.generation == 1


def test_a_watch_reload_that_fails_is_logged_once_and_retried_at_the_next_poll(
        rules_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Failed before: an exception from a reload (RX906, an OSError) ended that worker's --watch without a word; then
    the watcher took the edit as seen and never retried it. Now the next poll retries, and a failure that repeats
    alike is logged once."""
    holder = CatalogueHolder(load_catalogue(rules_copy))
    service = app_module._Service(config=app_module.ServiceConfig(policies=rules_copy, watch_seconds=0.05),
                                  holder=holder)
    logged: list[dict[str, object]] = []
    monkeypatch.setattr(app_module, "_log", lambda record: logged.append(dict(record)))
    real, calls = holder.reload, []

    def failing_twice() -> ReloadResult:
        calls.append(True)
        if len(calls) <= 2:
            raise OSError("the shared directory went")
        return real()

    monkeypatch.setattr(holder, "reload", failing_twice)
    real_stamp, stamps = app_module.rules_stamp, []

    def counted_stamp(root: Path) -> Any:
        result = real_stamp(root)
        stamps.append(result)
        return result

    monkeypatch.setattr(app_module, "rules_stamp", counted_stamp)
    path, text = _benzo_rule(rules_copy)

    async def scenario() -> None:
        watcher = asyncio.create_task(app_module._watch(service))
        while not stamps:  # the watcher's starting point is taken (polled: no guess at how long that takes)
            await asyncio.sleep(0.01)
        path.write_text(text.replace(SENTENCE, NEW))  # one edit only: the retries need no further change
        for _ in range(400):
            await asyncio.sleep(0.05)
            if holder.current.generation == 1:
                break
        watcher.cancel()

    asyncio.run(scenario())
    assert [r["error"] for r in logged if r["event"] == "reload_failed"] == ["OSError"]
    assert len(calls) == 3 and holder.current.generation == 1


def _until(condition: Any, what: str) -> None:
    """Poll ``condition`` (a state another thread brings about) for up to a minute; fail naming ``what``."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.01)


def test_a_worker_starts_when_a_tmp_cleaner_emptied_the_snapshot_but_left_its_folders(
        rules_copy: Path, tmp_path: Path) -> None:
    """Failed before: the snapshot's folders were there, so the worker compiled an empty copy three times and
    stopped with RX002 (`rules holds no policy directories`). Now a snapshot that does not give its stamp's rules
    is treated as a missing one."""
    shared = tmp_path / "shared"
    serving = CatalogueHolder.open_shared(rules_copy, SharedRules(shared))
    stamp = SharedRules(shared).read()
    assert stamp is not None
    for folder, _, names in os.walk(shared / stamp.snapshot):
        for name in names:
            os.unlink(os.path.join(folder, name))
    started = CatalogueHolder.open_shared(rules_copy, SharedRules(shared))
    assert started.current.fingerprint == serving.current.fingerprint
    assert serving.follow() is not None and serving.current.generation == started.current.generation == 1


@pytest.mark.parametrize("edit", ["unreloaded", "broken"])
def test_a_worker_starting_on_a_removed_snapshot_takes_up_the_rules_served_not_the_files(
        rules_copy: Path, tmp_path: Path, edit: str) -> None:
    """The snapshot alone was removed while a rule file was edited and not reloaded. Failed before: the worker
    starting published the files as they are, and the serving workers followed, so an edit nobody reloaded went
    live (or, files that do not check, the worker failed to start with RX104). Now it withdraws the stale stamp,
    a serving worker publishes the rules it serves again, and the newcomer takes those up."""
    shared = tmp_path / "shared"
    serving = CatalogueHolder.open_shared(rules_copy, SharedRules(shared))
    served = serving.current.fingerprint
    path, text = _benzo_rule(rules_copy)
    path.write_text(text.replace(SENTENCE, NEW) if edit == "unreloaded" else text + "\nthis is not a rule @@@\n")
    stamp = SharedRules(shared).read()
    assert stamp is not None
    shutil.rmtree(shared / stamp.snapshot)
    started: list[CatalogueHolder] = []
    newcomer = threading.Thread(target=lambda: started.append(
        CatalogueHolder.open_shared(rules_copy, SharedRules(shared), wait=60)))
    newcomer.start()
    # The serving worker's idle follow, once the newcomer has withdrawn the stamp (or has started anyway).
    _until(lambda: SharedRules(shared).key() is None or not newcomer.is_alive(), "the stale stamp withdrawn")
    serving.follow()
    newcomer.join()
    assert started and started[0].current.fingerprint == served
    assert serving.current.fingerprint == served and serving.current.generation == 0
    assert serving.follow() is None and _generation(shared) == 0


def test_a_reload_on_a_newcomer_that_numbered_the_files_puts_them_live_on_every_worker(
        rules_copy: Path, tmp_path: Path) -> None:
    """The shared directory was removed while a rule file was edited; a worker started then numbered the files
    from 0, and a reload reached it before the serving worker republished its rules. Failed before: the newcomer
    answered "unchanged" (its rules were the edit), then followed the older worker's rules: the client was told
    the edit is live, and nobody served it. Now such a reload publishes a new generation, which every worker follows."""
    shared = tmp_path / "shared"
    serving = CatalogueHolder.open_shared(rules_copy, SharedRules(shared))
    before = serving.current.fingerprint
    path, text = _benzo_rule(rules_copy)
    path.write_text(text.replace(SENTENCE, NEW))
    shutil.rmtree(shared)
    newcomer = CatalogueHolder.open_shared(rules_copy, SharedRules(shared), wait=0.01)
    assert newcomer.current.generation == 0 and newcomer.current.fingerprint != before
    result = newcomer.reload()
    assert result.changed and result.catalogue.generation == 1
    serving.follow()
    newcomer.follow()
    edited = load_catalogue(rules_copy).fingerprint
    assert serving.current.fingerprint == newcomer.current.fingerprint == edited
    assert serving.current.generation == newcomer.current.generation == 1
    assert not newcomer.reload().changed  # settled: a reload of unchanged files changes nothing again


def test_the_lock_is_taken_when_the_directory_goes_between_its_making_and_the_lock_files_opening(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Failed before: FileNotFoundError escaped locked() when the directory was removed just after it was made."""
    shared = SharedRules(tmp_path / "shared")
    real_private, made = shared._private, []

    def private_then_removed(*, create: bool) -> bool:
        result = real_private(create=create)
        if create and not made:
            made.append(True)
            shutil.rmtree(tmp_path / "shared")  # a tmp cleaner, right after the directory was made
        return result

    monkeypatch.setattr(shared, "_private", private_then_removed)
    with shared.locked():
        assert (tmp_path / "shared" / "reload.lock").is_file()
    assert made
