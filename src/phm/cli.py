"""The ``phm`` command line.

Every command has ``--help``. A user error prints one line, ``phm: error: …``, and
exits with a stable code from :mod:`phm.errors`; it never shows a traceback.
:func:`main` takes ``argv`` and returns the exit code, so tests run it in-process.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

try:  # Typer >= 0.29 vendors click; older Typer uses the click package
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover - depends on the installed Typer
    from click import exceptions as click_exc
from phm.errors import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, UserError

app = typer.Typer(
    name="phm",
    help="Population health management for an NHS integrated care board.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
refdata_app = typer.Typer(help="Reference data shipped with phm, and its provenance.", no_args_is_help=True)
app.add_typer(refdata_app, name="refdata")

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


@refdata_app.command("list")
def refdata_list() -> None:
    """Print the provenance table: file, source, publisher, licence, vintage."""
    from rich.table import Table

    from phm.refdata import provenance

    table = Table(title="phm reference data", show_lines=False)
    for col in ("file", "dataset", "publisher", "vintage", "licence", "source"):
        table.add_column(col, overflow="fold")
    for row in provenance():
        table.add_row(row.file, row.dataset, row.publisher, row.vintage, row.licence, row.source)
    Console(width=200).print(table)


@refdata_app.command("icbs")
def refdata_icbs() -> None:
    """List the ICB codes phm knows (ODS code, ONS code, name, LSOA count)."""
    from rich.table import Table

    from phm.refdata import icbs

    t = icbs()
    table = Table(title="Integrated care boards (ONS LSOA21 to ICB, April 2024)")
    for col in t.column_names:
        table.add_column(col)
    for row in t.to_pylist():
        table.add_row(*(str(v) for v in row.values()))
    Console(width=160).print(table)


@app.command()
def synth(
    out: Annotated[Path, typer.Option("--out", help="Output directory (must be empty or absent).")],
    persons: Annotated[int, typer.Option("--persons", help="Registered persons to generate.")] = 20000,
    icb: Annotated[str, typer.Option("--icb", help="ICB ODS code, e.g. QWU.")] = "QWU",
    years: Annotated[int, typer.Option("--years", help="Financial years of activity.")] = 3,
    start: Annotated[str, typer.Option("--start", help="First month, YYYY-MM.")] = "2022-04",
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same bytes.")] = 1,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    defects: Annotated[str, typer.Option("--defects", help="default or none.")] = "default",
    force: Annotated[bool, typer.Option("--force", help="Overwrite a non-empty --out.")] = False,
    identity: Annotated[str, typer.Option(
        "--identity", help="nhs_number (test-range NHS numbers, at most 900,000 persons) or pseudonymised "
                           "(a supplier pseudonym column, as commissioners receive; ingest with --profile "
                           "pseudonymised)")] = "nhs_number",
) -> None:
    """Generate a synthetic ICB with planted truth (no real patient data)."""
    from phm.synth.run import SynthConfig, run_synth

    config = SynthConfig.from_cli(
        icb=icb, persons=persons, years=years, start=start, seed=seed,
        fmt=fmt, defects=defects, out=out, force=force, identity=identity,
    )
    run_synth(config, console=Console(stderr=True))


@app.command()
def ingest(
    source: Annotated[str, typer.Argument(help="A file, a folder of files, or a database URL (e.g. duckdb:///x.db).")],
    warehouse: Annotated[Path, typer.Option("--warehouse", help="Warehouse: a .duckdb file (default) or a Spark folder.")],
    profile: Annotated[str | None, typer.Option("--profile", help="Source profile: canonical, hes, pseudonymised, or a YAML file (default: canonical, or what a phm synth manifest says).")] = None,
    key_file: Annotated[Path | None, typer.Option("--key-file", help="File holding the pseudonymisation key (else $PHM_PSEUDO_KEY).")] = None,
    demo_key: Annotated[bool, typer.Option("--demo", help="Synthetic data only: use a generated demo key kept outside the warehouse.")] = False,
    backend: Annotated[str | None, typer.Option("--backend", help="duckdb or spark (default: what the warehouse is, else duckdb).")] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", help="Which dataset the file(s) hold, if the names do not say.")] = None,
    encoding: Annotated[str | None, typer.Option("--encoding", help="CSV encoding (default: sniffed).")] = None,
    delimiter: Annotated[str | None, typer.Option("--delimiter", help="CSV delimiter (default: sniffed).")] = None,
    extract_date: Annotated[str | None, typer.Option("--extract-date", help="Date the extract was taken, YYYY-MM-DD (default: manifest, else today).")] = None,
    no_dq: Annotated[bool, typer.Option("--no-dq", help="Skip the data-quality rules after loading.")] = False,
    timings: Annotated[bool, typer.Option("--timings", help="Print seconds, rows and peak memory per dataset and part.")] = False,
    timings_json: Annotated[Path | None, typer.Option("--timings-json", help="Also write those timings to this JSON file (make bench does).")] = None,
) -> None:
    """Validate, pseudonymise and load sources into the warehouse; quarantine bad rows with reasons."""
    import datetime as dt

    from phm.errors import InputError
    from phm.ingest import ingest as run_ingest

    when = None
    if extract_date:
        try:
            when = dt.date.fromisoformat(extract_date)
        except ValueError:
            raise UserError(f"--extract-date {extract_date!r} is not a date in the form YYYY-MM-DD") from None
    console = Console(stderr=True)
    report = run_ingest(source, warehouse, profile=profile, key_file=key_file, demo=demo_key, backend=backend,
                        dataset=dataset, encoding=encoding, delimiter=delimiter, extract_date=when,
                        run_dq=not no_dq, console=console, progress=True)
    _ingest_summary(console, report)
    _timings(console, report.timings, "phm ingest", timings, timings_json)
    if report.failed:
        raise InputError(f"{len(report.failed)} source{'s' if len(report.failed) > 1 else ''} could not be loaded "
                         "(see above); everything else was loaded")


def _ingest_summary(console: Console, report) -> None:
    from rich.table import Table

    t = Table(title=f"Ingest into {report.warehouse}")
    for col, just in (("dataset", "left"), ("source", "left"), ("status", "left"), ("rows in", "right"),
                      ("loaded", "right"), ("quarantined", "right")):
        t.add_column(col, justify=just)
    totals = [0, 0, 0]
    for r in report.results:
        t.add_row(r.dataset, r.name, r.status, f"{r.rows_in:,}", f"{r.rows_loaded:,}", f"{r.rows_quarantined:,}")
        totals = [totals[0] + r.rows_in, totals[1] + r.rows_loaded, totals[2] + r.rows_quarantined]
    t.add_row("total", "", "", *(f"{v:,}" for v in totals))
    console.print(t)
    for r in report.results:
        if r.error:
            console.print(f"phm: error: {r.error}", markup=False, highlight=False)
        for note in r.notes:
            console.print(f"note: {r.name}: {note}", markup=False, highlight=False)
    for s in report.skipped:
        console.print(f"note: skipped {s}", markup=False, highlight=False)
    if report.dq_computed:
        console.print("Data-quality rules recomputed: see 'phm dq'.", highlight=False)


@app.command()
def dq(
    warehouse: Annotated[Path, typer.Option("--warehouse", help="The warehouse to report on.")],
    out: Annotated[Path, typer.Option("--out", help="Report file: .xlsx or .html. Its feedback CSVs go in its own folder, <name>-<format>-feedback/ (dq.xlsx: dq-xlsx-feedback/).")],
    provider: Annotated[str | None, typer.Option("--provider", help="Only this submitter (trust, practice or LA code).")] = None,
    recompute: Annotated[bool, typer.Option("--recompute", help="Re-run the rules even if they are up to date.")] = False,
) -> None:
    """Write the data-quality report and record-level feedback files per provider."""
    from phm.quality import compute_quality, dq_is_current
    from phm.quality.report import write_report
    from phm.warehouse import WarehouseInUse, connect

    # Read-only first: readers share the file (the dashboard may be serving it). Only stale
    # data-quality tables (or --recompute) need a writer, which needs the file to itself.
    with connect(warehouse, read_only=True) as wh:
        current = dq_is_current(wh)
        paths = write_report(wh, out, provider=provider) if current and not recompute else None
    if paths is None:
        try:
            wh = connect(warehouse)
        except WarehouseInUse as e:
            if not e.holder_reads:  # a writer (phm ingest or build): its own message says to let it finish
                raise
            why = ("--recompute re-runs the data-quality rules" if current else
                   "the data-quality tables are out of date (data was loaded since they were computed) and must "
                   "be recomputed")
            instead = "; or leave out --recompute to report from the current tables" if current else ""
            raise UserError(f"{why}, which needs warehouse {warehouse} to itself, but it is open to read in "
                            f"{e.held_by}: stop that process, then run phm dq again{instead}") from None
        with wh:
            compute_quality(wh)
            paths = write_report(wh, out, provider=provider)
    console = Console(stderr=True, highlight=False)
    console.print(f"Data-quality report: {paths[0]}")
    if len(paths) > 1:
        console.print(f"Feedback files: {len(paths) - 1} in {paths[1].parent}")


schema_app = typer.Typer(help="Dataset contracts and source profiles.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")


@schema_app.command("docs")
def schema_docs(
    out: Annotated[Path | None, typer.Option("--out", help="Write the page here (default: print it).")] = None,
) -> None:
    """The data dictionary generated from the contracts (docs/data-dictionary.md)."""
    from phm.schema import data_dictionary_markdown

    text = data_dictionary_markdown()
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")


@app.command()
def build(
    warehouse: Annotated[Path, typer.Option("--warehouse", help="Warehouse: a .duckdb file or a Spark folder.")],
    years: Annotated[int, typer.Option("--years", help="Financial years to build, ending with the extract's.")] = 3,
    profile: Annotated[bool, typer.Option("--profile", "--timings", help="Print seconds, rows and peak memory per step.")] = False,
    timings_json: Annotated[Path | None, typer.Option("--timings-json", help="Also write those timings to this JSON file (make bench does).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when the marts are current (same loads, same phm).")] = False,
) -> None:
    """Build the marts (person, spells, activity, person_year) and the analysis tables."""
    console = Console(stderr=True)
    summary = _run_build(warehouse, years, console, force=force)
    _build_summary(console, summary)
    _timings(console, summary.timings, "phm build", profile, timings_json)


def _timings(console: Console, timings, command: str, show: bool, json_path: Path | None) -> None:
    """Print a run's :class:`phm.timings.Timings` and/or write them as JSON."""
    import json

    if show:
        console.print(timings.table(f"{command}: where the time goes"))
    if json_path is not None:
        json_path.write_text(json.dumps({"command": command, "steps": timings.as_dicts()}, indent=1))


def _run_build(warehouse: Path, years: int, console: Console, force: bool = False):
    from phm.build import STEPS
    from phm.build import build as run_build
    from phm.progress import progress
    from phm.warehouse import connect

    if years < 1:
        raise UserError("--years must be at least 1")
    with connect(warehouse) as wh, progress(console, steps=True) as bar:
        task = bar.add_task("build", total=len(STEPS))

        def step(name: str) -> None:
            bar.update(task, description=f"build: {name}", completed=STEPS.index(name) if name in STEPS else 0)

        summary = run_build(wh, years=years, step=step, force=force)
        bar.update(task, completed=len(STEPS))
    return summary


def _build_summary(console: Console, summary) -> None:
    from rich.table import Table

    w = summary.window
    if summary.up_to_date:
        console.print(f"phm build: the marts are current: built from exactly what is loaded now, for financial "
                      f"years {w.first}/{(w.first + 1) % 100:02d} to {w.last}/{(w.last + 1) % 100:02d}, by this "
                      "version of phm and its definitions; nothing rebuilt (--force rebuilds).", highlight=False)
        return
    table = Table(title=f"phm build: financial years {w.first}/{(w.first + 1) % 100:02d} to "
                        f"{w.last}/{(w.last + 1) % 100:02d} (extract {w.extract_date})")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("seconds", justify="right")
    for name, rows in summary.rows.items():
        step = summary.timings.steps.get(name)
        secs = None if step is None else step.seconds
        table.add_row(name, f"{rows:,}", "" if secs is None else f"{secs:.1f}")
    console.print(table)
    for note in getattr(summary, "notes", []):
        console.print(f"  {note}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Where the demo ICB and its warehouse are written.")] = Path("demo-data"),
    persons: Annotated[int, typer.Option("--persons", help="Registered persons.")] = 50000,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the dashboard after the build.")] = True,
    host: Annotated[str, typer.Option("--host", help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to serve on.")] = 8000,
) -> None:
    """Generate a synthetic ICB, ingest it with a demo key, build it, create demo users and serve
    the dashboard (or stop after the build with --no-serve)."""
    from contextlib import nullcontext

    from phm.ingest import ingest as run_ingest
    from phm.synth.run import SynthConfig, run_synth
    from phm.web.listen import listening

    console = Console(stderr=True)
    # a busy port is refused now, not after the build
    with listening(host, port) if serve else nullcontext([]) as sockets:
        config = SynthConfig.from_cli(
            icb="QWU", persons=persons, years=3, start="2022-04", seed=1,
            fmt="parquet", defects="default", out=out / "synth", force=True,
        )
        run_synth(config, console=console)
        warehouse = out / "warehouse.duckdb"
        if warehouse.exists():
            warehouse.unlink()
        report = run_ingest(out / "synth", warehouse, demo=True, console=console, progress=True)
        _ingest_summary(console, report)
        _build_summary(console, _run_build(warehouse, 3, console))
        console.print(f"Warehouse: {warehouse}", highlight=False)
        if serve:
            _serve(warehouse, None, host, sockets, console, demo_users=True)


@app.command()
def serve(
    warehouse: Annotated[Path, typer.Option("--warehouse", help="A built warehouse (.duckdb file).")],
    host: Annotated[str, typer.Option("--host", help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to serve on.")] = 8000,
    auth: Annotated[Path | None, typer.Option("--auth", help="Auth store (users, sessions, audit); default phm-web.sqlite beside the warehouse.")] = None,
    demo_users: Annotated[bool, typer.Option("--demo-users", help="(Re)create one demo user per role and print the logins.")] = False,
) -> None:
    """Serve the web dashboard and JSON API (docs at /api/docs)."""
    from phm.web.listen import listening

    if not warehouse.exists():
        raise UserError(f"no warehouse at {warehouse}; run 'phm demo --no-serve' or 'phm build' first")
    with listening(host, port) as sockets:  # before the slow start: a busy port is one line at once
        _serve(warehouse, auth, host, sockets, Console(stderr=True), demo_users=demo_users)


def _serve(warehouse: Path, auth: Path | None, host: str, sockets: list, console: Console, demo_users: bool) -> None:
    """Serve on ``sockets`` (``host``'s, bound by :func:`phm.web.listen.bind`) until Ctrl+C."""
    import uvicorn

    from phm.web.app import Settings, create_app
    from phm.web.data import Dashboard

    settings = Settings.for_warehouse(warehouse, auth=auth)
    data = Dashboard(warehouse)
    app_ = create_app(settings, data)
    if demo_users:
        from rich.table import Table

        from phm.web.demo import create_demo_users

        logins = create_demo_users(app_.state.web.store, data)
        table = Table(title="Demo logins (shown once; passwords are stored only as hashes)")
        for col in ("user name", "password", "role", "organisation"):
            table.add_column(col)
        for login in logins:
            table.add_row(login.username, login.password, login.role.label, login.organisation)
        console.print(table)
    port = sockets[0].getsockname()[1]  # the port chosen, if --port 0
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    console.print(f"Dashboard: http://{where}/  (API docs: http://{where}/api/docs; Ctrl+C stops)", highlight=False)
    uvicorn.Server(uvicorn.Config(app_, log_level="warning", access_log=False)).run(sockets=sockets)


users_app = typer.Typer(help="Dashboard users.", no_args_is_help=True)
app.add_typer(users_app, name="user")


@users_app.command("add")
def user_add(
    warehouse: Annotated[Path, typer.Option("--warehouse", help="The warehouse the dashboard serves.")],
    username: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option("--role", help="analyst, place, pcn, practice, provider or admin.")],
    organisation: Annotated[str, typer.Option("--org", help="Organisation code known to the warehouse: the ICB (analyst), a place, PCN or practice, or a data-quality submitter (provider).")],
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    auth: Annotated[Path | None, typer.Option("--auth", help="Auth store; default beside the warehouse.")] = None,
) -> None:
    """Add a dashboard user; the password is read from the PHM_PASSWORD environment variable or prompted."""
    import os

    from phm.web.app import default_auth_path
    from phm.web.organisations import Organisations
    from phm.web.roles import Role
    from phm.web.store import Store

    try:
        role_ = Role(role)
    except ValueError:
        raise UserError(f"unknown role {role!r}; choose from {', '.join(r.value for r in Role)}") from None
    organisation = Organisations.of_warehouse(warehouse).check(role_, organisation)  # before asking for a password
    password = os.environ.get("PHM_PASSWORD") or typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    Store(auth or default_auth_path(warehouse)).add_user(username, password, role_, organisation, name)
    Console(stderr=True).print(f"Added {username} ({role_.label}, {organisation}).", highlight=False)


def main(argv: list[str] | None = None) -> int:
    """Run phm with ``argv`` (without the program name); return the exit code."""
    command = typer.main.get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        command.main(args=args, prog_name="phm", standalone_mode=False)
    except UserError as err:
        from phm.codes import redact_nhs_numbers

        err_console.print(f"phm: error: {redact_nhs_numbers(str(err))}", markup=False)
        return err.exit_code
    except typer.Exit as done:
        return int(done.exit_code or 0)
    except typer.Abort:
        err_console.print("phm: aborted", markup=False)
        return 130
    except click_exc.ClickException as err:
        err_console.print(f"phm: error: {err.format_message()}", markup=False)
        return EXIT_USAGE if err.exit_code in (1, 2) else err.exit_code
    except KeyboardInterrupt:
        err_console.print("phm: interrupted", markup=False)
        return 130
    except Exception as err:  # a bug: one line for the user, details for the developer
        from phm.codes import redact_nhs_numbers

        err_console.print(
            f"phm: internal error ({type(err).__name__}): {redact_nhs_numbers(str(err))}. "
            "This is a bug in phm; set PHM_DEBUG=1 to see the traceback.",
            markup=False,
        )
        import os

        if os.environ.get("PHM_DEBUG"):
            raise
        return EXIT_INTERNAL
    return EXIT_OK


def run() -> None:  # console-script entry point
    sys.exit(main())
