"""``rxpolicy serve``: the decision service and the workbench over HTTP (:mod:`rxpolicy.service`)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import click

from rxpolicy.cli.common import guarded

__all__ = ["command"]


@click.command("serve")
@click.option("--policies", "policies", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="A directory with one directory per policy and layer (default: the built-in rules).")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes; a reload (POST /v1/reload or --watch) reaches all of them.")
@click.option("--watch", "watch", type=click.FloatRange(min=0.1), default=None, metavar="SECONDS",
              help="Poll the rule files every SECONDS and reload when one changes.")
@click.option("--timeout", "timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds a request may compute before it is refused (RX904).")
@click.option("--max-body", "max_body", type=click.IntRange(min=1024), default=1_000_000, show_default=True,
              help="The largest request body in bytes (RX901); batches have --max-batch.")
@click.option("--max-batch", "max_batch", type=click.IntRange(min=1024), default=64_000_000, show_default=True,
              help="The largest /v1/batch body in bytes.")
@click.option("--log-case-field", "log_case_fields", multiple=True, metavar="FIELD",
              help="A case field to write in the access log (e.g. medicine.atc); none by default, as case fields "
                   "may be personal data. Repeat for more.")
@click.option("--no-access-log", is_flag=True, help="Write no access-log lines.")
@guarded
def command(policies: Path | None, host: str, port: int, workers: int, watch: float | None, timeout: float,
            max_body: int, max_batch: int, log_case_fields: tuple[str, ...], no_access_log: bool) -> None:
    """Serve decisions over HTTP (POST /v1/evaluate, /v1/batch, /v1/check …) and the workbench at /."""
    try:
        import uvicorn

        from rxpolicy.service.app import ServiceConfig, configure_access_log, create_app
    except ImportError as error:
        raise click.UsageError(f"the service needs a package that is not installed ({error.name}); install "
                               "rxpolicy with its service extra: pip install 'rxpolicy[serve]'") from None
    from rxpolicy.language.facts import FIELDS

    for field in log_case_fields:
        if field not in FIELDS:
            raise click.BadParameter(f"`{field}` is not a case field", param_hint="--log-case-field")
    # Several workers share a private directory: the rules a reload in one checked, and the stamp that makes every
    # other follow them before its next request (rxpolicy.service.shared). Removed when the command ends.
    shared = Path(tempfile.mkdtemp(prefix="rxpolicy-serve-")) if workers > 1 else None
    try:
        config = ServiceConfig(policies=policies, max_body_bytes=max_body, max_batch_bytes=max_batch,
                               timeout_seconds=timeout, watch_seconds=watch, log_case_fields=log_case_fields,
                               access_log=not no_access_log, shared_dir=shared)
        # The rules are checked here first, so rules that do not check stop the command with their messages
        # (with workers, the checked rules are what each of them starts on).
        app = create_app(config)
        configure_access_log(config.access_log)
        click.echo(f"rxpolicy: serving on http://{host}:{port}/ (workbench at /, API at /v1/, /openapi.json)",
                   err=True)
        common = {"host": host, "port": port, "access_log": False, "log_level": "warning",
                  "timeout_graceful_shutdown": 10}
        if workers == 1:
            uvicorn.run(app, **common)  # type: ignore[arg-type]
        else:
            os.environ["RXPOLICY_SERVICE_CONFIG"] = config.to_json()
            uvicorn.run("rxpolicy.service.app:app_from_environment", factory=True, workers=workers,
                        **common)  # type: ignore[arg-type]
    finally:
        if shared is not None:
            shutil.rmtree(shared, ignore_errors=True)
