"""CLI verbs of the allocation service: ``serve``, ``users``, ``export``, ``audit``.

``register(app)`` adds them to the ``bitframe`` Typer app. Every verb finds the database
from ``--db URL`` (``sqlite:///PATH`` or ``postgresql://USER@HOST:PORT/DB``), else from
``--data-dir DIR`` (``DIR/service.db``, SQLite), else ``$BITFRAME_SERVICE_DB``, else
``./bitframe-service/service.db``. The command line has the database itself and acts as
``cli:<login name>`` with admin rights; everything it changes is in the audit log.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bitframe.errors import BitframeError, Problem

if TYPE_CHECKING:
    from bitframe.service.core import Service

DEFAULT_DATA_DIR = Path("bitframe-service")
DB_FILE = "service.db"

_DB_HELP = "Database URL: sqlite:///PATH or postgresql://USER@HOST:PORT/DB (default: SQLite in --data-dir)."
_DIR_HELP = "Data directory for the embedded SQLite database (default ./bitframe-service)."


def resolve_db(db: str | None, data_dir: Path | None, *, create: bool = False) -> str:
    """The database URL the verbs use (see the module docs)."""
    from bitframe.service.db import normalise_url, sqlite_url

    if db and data_dir:
        raise BitframeError(Problem("BF801", "give --db or --data-dir, not both"))
    if not db and not data_dir:
        db = os.environ.get("BITFRAME_SERVICE_DB") or None
    if db:
        try:
            return normalise_url(db)
        except ValueError as exc:
            raise BitframeError(Problem("BF801", str(exc))) from None
    folder = data_dir or DEFAULT_DATA_DIR
    path = folder / DB_FILE
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    elif not path.exists():
        raise BitframeError(
            Problem("BF802", f"no service database at {path}",
                    hint="set one up with `bitframe serve PROTOCOL --init-only`, or pass --db / --data-dir")
        )
    return sqlite_url(path)


@contextlib.contextmanager
def service_errors() -> Iterator[None]:
    """Turn the service's refusals into the CLI's error (message, exit code 1)."""
    from bitframe.service.errors import ServiceError

    try:
        yield
    except ServiceError as exc:
        raise BitframeError(Problem("BF8" + {401: "10", 403: "11", 404: "12", 409: "13", 422: "14", 503: "15"}.get(
            exc.status, "00"), exc.message, hint=f"code: {exc.code}")) from None
    except ValueError as exc:
        raise BitframeError(Problem("BF800", str(exc))) from None


def _open(db: str | None, data_dir: Path | None):
    from bitframe.service.core import Service

    url = resolve_db(db, data_dir)
    with service_errors():
        return Service.open(url)


@contextlib.contextmanager
def _opened(db: str | None, data_dir: Path | None) -> Iterator[Service]:
    """The service, with its refusals as the CLI's errors; closed however the block ends."""
    service = _open(db, data_dir)
    try:
        with service_errors():
            yield service
    finally:
        service.close()


def _existing_engine(db: str | None, data_dir: Path | None):
    from bitframe.service.db import open_existing

    url = resolve_db(db, data_dir)
    with service_errors():
        return open_existing(url)


def _check_port(host: str, port: int) -> None:
    """Refuse a port another process holds before the service starts (uvicorn would exit 3)."""
    import socket

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # as uvicorn binds: a port left in TIME_WAIT by a stopped server is free to use
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise BitframeError(Problem("BF805", f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                                    hint="another program (perhaps another `bitframe serve`) holds the port; "
                                         "stop it or choose another with --port")) from None


def register(app: typer.Typer) -> None:
    db_opt = typer.Option(None, "--db", help=_DB_HELP)
    dir_opt = typer.Option(None, "--data-dir", help=_DIR_HELP)

    @app.command()
    def serve(
        protocol_path: Path = typer.Argument(..., metavar="PROTOCOL", help="The trial protocol."),
        db: str | None = db_opt,
        data_dir: Path | None = dir_opt,
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback by default)."),
        port: int = typer.Option(8000, "--port", min=0, max=65535, help="TCP port."),
        list_size: int | None = typer.Option(
            None, "--list-size", min=1, max=1_000_000,
            help="Sealed-list slots per stratum, set once (default: the planned n, at least 1000)."),
        low_list: int | None = typer.Option(
            None, "--low-list", min=0, help="Alert when a stratum has this many slots left (default 10%)."),
        site_column: str | None = typer.Option(
            None, "--site-column", help="Participant column holding the site; enrollers enrol at their own site."),
        init_only: bool = typer.Option(False, "--init-only", help="Set up the database and exit."),
        access_log: bool = typer.Option(False, "--access-log", help="Log every HTTP request."),
    ) -> None:
        """Serve concealed, sequential enrolment for PROTOCOL (API and enrolment page)."""
        from bitframe.protocol import load_protocol_with_source
        from bitframe.service.core import Service
        from bitframe.service.db import display_url

        loaded = load_protocol_with_source(protocol_path)
        if not init_only:
            _check_port(host, port)
        url = resolve_db(db, data_dir, create=True)
        with service_errors():
            service = Service.open(url, loaded, list_size=list_size, low_list=low_list, site_column=site_column)
        try:
            if loaded.protocol.randomised.seed is not None and service.meta.get("seed_source") == "protocol":
                typer.echo(
                    "warning: the protocol holds the randomisation seed, so anyone with the protocol can regenerate "
                    "the allocations; for concealment leave the seed out (a 128-bit seed is then drawn and kept in "
                    "the database)", err=True)
            token = service.bootstrap_admin()
            if token:
                typer.echo(f"created the first user 'admin' (role admin). Its token, shown once:\n  {token}", err=True)
            plan = service.plan
            typer.echo(
                f"trial '{plan.trial_id}': {plan.scheme} ({plan.mode.replace('_', ' ')}), database {display_url(url)}",
                err=True)
            if init_only:
                return
            import gc

            import uvicorn

            from bitframe.service.app import create_app

            typer.echo(f"serving on http://{host}:{port}/ (Ctrl+C to stop)", err=True)
            app = create_app(service)
            # Everything made so far (the app, the modules' objects) lives as long as the server:
            # frozen, the collector's full passes skip it instead of walking it all, which stalled
            # requests for tens of ms (p99 of the load benchmark 185 -> 90 ms; docs/decisions/0006-service-throughput.md).
            gc.freeze()
            try:
                uvicorn.run(app, host=host, port=port, log_level="warning", access_log=access_log,
                            server_header=False,
                            timeout_graceful_shutdown=10)
            except SystemExit as exc:
                # uvicorn exits 3 when it cannot start (the port taken since the check above, say)
                if exc.code in (0, None):
                    raise
                raise BitframeError(Problem("BF805", f"the server could not start on {host}:{port}",
                                            hint="see the message above; free the port or choose another with "
                                                 "--port")) from None
        finally:
            service.close()

    users_app = typer.Typer(help="Manage the service's users and their tokens.", no_args_is_help=True)
    app.add_typer(users_app, name="users")

    @users_app.command("add")
    def users_add(
        name: str = typer.Argument(..., help="User name (letters, digits, _ . @ -)."),
        role: str = typer.Option(..., "--role", help="enroller, statistician, auditor or admin."),
        site: str | None = typer.Option(None, "--site", help="The enroller's site."),
        db: str | None = db_opt,
        data_dir: Path | None = dir_opt,
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Add a user and print their token (shown once; only its hash is stored)."""
        from bitframe.service.core import cli_actor

        with _opened(db, data_dir) as service:
            user, token = service.add_user(cli_actor(), name, role, site=site)
        if as_json:
            typer.echo(json.dumps({**user.public(), "token": token}))
        else:
            typer.echo(f"added {user.role} '{user.name}'" + (f" at site '{user.site}'" if user.site else ""))
            typer.echo(f"token (shown once): {token}")

    @users_app.command("list")
    def users_list(
        db: str | None = db_opt,
        data_dir: Path | None = dir_opt,
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """List users (never their tokens)."""
        from bitframe.service.audit import to_the_second

        service = _open(db, data_dir)
        try:
            rows = service.list_users()
        finally:
            service.close()
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        line = "{:<24} {:<13} {:<24} {:<8} {:<13} {}"
        typer.echo(line.format("name", "role", "site", "state", "token", "changed (UTC)"))
        for r in rows:
            state = "active" if r["active"] else "revoked"
            typer.echo(line.format(r["name"], r["role"], r["site"] or "-", state, f"{r['token_hint']}...",
                                   to_the_second(r["updated_at"])))

    @users_app.command("revoke")
    def users_revoke(
        name: str = typer.Argument(...), db: str | None = db_opt, data_dir: Path | None = dir_opt
    ) -> None:
        """Revoke a user: their token stops working at once."""
        from bitframe.service.core import cli_actor

        with _opened(db, data_dir) as service:
            service.revoke_user(cli_actor(), name)
        typer.echo(f"revoked '{name}'")

    @users_app.command("rotate")
    def users_rotate(
        name: str = typer.Argument(...), db: str | None = db_opt, data_dir: Path | None = dir_opt
    ) -> None:
        """Give a user a new token (the old one stops working)."""
        from bitframe.service.core import cli_actor

        with _opened(db, data_dir) as service:
            token = service.rotate_token(cli_actor(), name)
        typer.echo(f"new token for '{name}' (shown once): {token}")

    @app.command()
    def export(
        what: str = typer.Argument(..., help="allocations, list (the sealed list) or audit."),
        out: Path = typer.Option(..., "--out", "-o", help="CSV file to write."),
        db: str | None = db_opt,
        data_dir: Path | None = dir_opt,
        force: bool = typer.Option(False, "--force", help="Overwrite existing files."),
    ) -> None:
        """Export allocations, the sealed list (with manifest and slot file for `bitframe verify`) or the audit log."""
        from bitframe.errors import check_choice
        from bitframe.io import ensure_writable, write_bytes_atomic, write_text_atomic
        from bitframe.service.core import cli_actor
        from bitframe.spreadsheet import neutralise_frame

        with service_errors():
            check_choice("export", what, ("allocations", "list", "audit"))
        if out.suffix.lower() != ".csv":
            raise BitframeError(Problem("BF804", f"--out must name a .csv file, got {out}"))
        stem = out.with_suffix("")
        targets = [out]
        if what == "list":
            targets += [Path(f"{stem}.manifest.json"), Path(f"{stem}.slots.csv")]
        ensure_writable(targets, force=force)
        service = _open(db, data_dir)
        try:
            with service_errors():
                if what == "allocations":
                    frame = service.allocations_frame()
                    write_text_atomic(out, neutralise_frame(frame).to_csv(index=False, lineterminator="\n"))
                    rows = len(frame)
                elif what == "audit":
                    frame = service.audit_frame()
                    write_text_atomic(out, neutralise_frame(frame).to_csv(index=False, lineterminator="\n"))
                    rows = len(frame)
                else:
                    from bitframe.service.plan import slot_csv

                    manifest = service.list_manifest()
                    write_bytes_atomic(out, service.list_csv())
                    write_text_atomic(targets[1], json.dumps({**manifest, "list_file": out.name}, indent=2) + "\n")
                    write_bytes_atomic(targets[2], slot_csv(service.plan.slot_frame(service.list_size)))
                    rows = int(manifest["n"])
                service.record_export(cli_actor(), {"list": "sealed_list"}.get(what, what), rows)
        finally:
            service.close()
        typer.echo(f"wrote {rows} rows to {out}" + (f" (with {targets[1].name} and {targets[2].name})"
                                                      if what == "list" else ""))

    audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
    app.add_typer(audit_app, name="audit")

    @audit_app.command("verify")
    def audit_verify(
        db: str | None = db_opt,
        data_dir: Path | None = dir_opt,
        anchor: str | None = typer.Option(
            None, "--anchor", help="SEQ:HASH recorded earlier (e.g. from a previous verify): must still be there."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Recompute the audit chain; exit 1 if any event or allocation was edited, deleted or added."""
        from bitframe.service.audit import (
            AuditProblem,
            AuditReport,
            anchor_file,
            latest_anchor,
            parse_anchor,
            verify_chain,
        )
        from bitframe.service.db import GENESIS_HASH, open_existing

        with service_errors():
            parsed = parse_anchor(anchor) if anchor else None
        url = resolve_db(db, data_dir)
        parsed = parsed or latest_anchor(anchor_file(url))
        sqlite_file = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
        if sqlite_file is not None and not sqlite_file.is_file():
            # Opening would create an empty database; a missing one is a broken audit trail.
            report = AuditReport(ok=False, n_events=0, head_seq=0, head_hash=GENESIS_HASH, n_allocations=0,
                                 problems=(AuditProblem("missing_file", f"the database file {sqlite_file} is missing"),))
        else:
            with service_errors():  # not a database, never set up, or a server out of reach
                engine = open_existing(url)
            try:
                report = verify_chain(engine, anchor=parsed)
            finally:
                engine.dispose()
        if as_json:
            typer.echo(json.dumps(report.to_dict(), indent=2))
        else:
            (typer.echo if report.ok else lambda t: typer.echo(t, err=True))(report.report())
        if not report.ok:
            raise typer.Exit(1)

    @audit_app.command("anchor")
    def audit_anchor(
        db: str | None = db_opt,
        data_dir: Path | None = dir_opt,
    ) -> None:
        """Record the chain's head as an anchor (run it from cron): `audit verify` then checks the
        log up to it was not rewritten or cut short. Refused if the chain does not verify now."""
        service = _open(db, data_dir)
        try:
            report = service.verify_audit()
            if not report.ok:
                typer.echo(report.report(), err=True)
                raise typer.Exit(1)
            anchor = service.anchor(report.head_seq, report.head_hash)
        finally:
            service.close()
        if anchor is None:
            raise BitframeError(Problem("BF805", "there is nowhere to record the anchor",
                                        hint="set BITFRAME_AUDIT_ANCHORS to a file outside the database"))
        typer.echo(f"anchor {anchor[0]}:{anchor[1]} recorded in {service.anchor_path}")

    @audit_app.command("show")
    def audit_show(
        db: str | None = db_opt,
        data_dir: Path | None = dir_opt,
        last: int = typer.Option(20, "--last", min=1, help="How many of the latest events."),
    ) -> None:
        """Print the latest audit events."""
        from bitframe.service.audit import events_frame

        engine = _existing_engine(db, data_dir)
        try:
            frame = events_frame(engine)
        finally:
            engine.dispose()
        for r in frame.tail(last).to_dict("records"):
            typer.echo(f"{r['seq']:>7} {r['ts']} {r['actor']:<16} {r['action']:<20} {r['target'] or ''}")

