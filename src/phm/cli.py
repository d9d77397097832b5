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
) -> None:
    """Generate a synthetic ICB with planted truth (no real patient data)."""
    from phm.synth.run import SynthConfig, run_synth

    config = SynthConfig.from_cli(
        icb=icb, persons=persons, years=years, start=start, seed=seed,
        fmt=fmt, defects=defects, out=out, force=force,
    )
    run_synth(config, console=Console(stderr=True))


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Where the demo ICB is written.")] = Path("demo-data"),
    persons: Annotated[int, typer.Option("--persons", help="Registered persons.")] = 50000,
) -> None:
    """Generate the demo synthetic ICB (later stages add ingest, build and serve)."""
    from phm.synth.run import SynthConfig, run_synth

    config = SynthConfig.from_cli(
        icb="QWU", persons=persons, years=3, start="2022-04", seed=1,
        fmt="parquet", defects="default", out=out / "synth", force=True,
    )
    run_synth(config, console=Console(stderr=True))


def main(argv: list[str] | None = None) -> int:
    """Run phm with ``argv`` (without the program name); return the exit code."""
    command = typer.main.get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        command.main(args=args, prog_name="phm", standalone_mode=False)
    except UserError as err:
        err_console.print(f"phm: error: {err}", markup=False)
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
        err_console.print(
            f"phm: internal error ({type(err).__name__}): {err}. "
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
