"""Checks on the output directory: refuse to clobber, explain unwritable paths."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from phm.errors import OutputError

MARKER = "manifest.json"


def prepare_output_dir(out: Path, *, force: bool) -> Path:
    """Create ``out`` or check it is empty; with ``force``, clear a previous synth output.

    ``--force`` only ever deletes a directory that a previous ``phm synth`` wrote
    (it holds ``manifest.json``), so a mistyped path cannot wipe unrelated files.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"output path '{out}' is a file, not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise OutputError(
                f"output directory '{out}' is not empty; choose an empty directory or pass --force"
            )
        if not (out / MARKER).is_file():
            raise OutputError(
                f"output directory '{out}' is not empty and is not a previous phm synth "
                "output (no manifest.json), so --force will not delete it"
            )
        for child in out.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".phm-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except PermissionError:
        raise OutputError(f"cannot write to '{out}': permission denied") from None
    except OSError as err:
        raise OutputError(f"cannot write to '{out}': {err.strerror or err}") from None
    if not os.access(out, os.W_OK):
        raise OutputError(f"cannot write to '{out}': permission denied")
    return out
