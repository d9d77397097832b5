"""Helpers shared by test packages (tests/ is on sys.path through tests/conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

from phm.cli import main

TEST_KEY = "phm-test-key-0123456789abcdef0123456789abcdef"
OTHER_KEY = "phm-other-key-fedcba9876543210fedcba9876543210"


def synth(out: Path, *args: str) -> Path:
    assert main(["synth", "--out", str(out), *args]) == 0
    return out


def ingest_with_key(source, warehouse, key: str = TEST_KEY, **kw):
    """Ingest with ``key`` set in the environment only for the call."""
    from phm.ingest import ingest

    old = os.environ.get("PHM_PSEUDO_KEY")
    os.environ["PHM_PSEUDO_KEY"] = key
    try:
        return ingest(source, warehouse, **kw)
    finally:
        if old is None:
            os.environ.pop("PHM_PSEUDO_KEY", None)
        else:
            os.environ["PHM_PSEUDO_KEY"] = old


def differences(d, s, names: tuple[str, str] = ("left", "right")) -> list[str]:
    """Columns of two normalised tables that differ (doubles may differ in the last bits:
    engines, and parts of a build, add in another order), each with its first differing rows,
    so a failure says where to look."""
    import numpy as np
    import pyarrow as pa

    out = []
    for name in d.column_names:
        x, y = d[name], s[name]
        if pa.types.is_floating(x.type):
            a, b = x.to_numpy(zero_copy_only=False), y.to_numpy(zero_copy_only=False)
            bad = ~np.isclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True)
        else:
            bad = np.array([p != q for p, q in zip(x.to_pylist(), y.to_pylist(), strict=True)], dtype=bool)
        if bad.any():
            rows = np.flatnonzero(bad)[:3].tolist()
            out.append(f"{name}: {int(bad.sum())} rows, e.g. " + "; ".join(
                f"{ {k: d[k][i].as_py() for k in d.column_names if not pa.types.is_floating(d[k].type)} } "
                f"{names[0]}={x[i].as_py()!r} {names[1]}={y[i].as_py()!r}" for i in rows))
    return out


def assert_same_tables(a: dict, b: dict, names: tuple[str, str] = ("left", "right")) -> None:
    """Every normalised table of ``a`` has the schema, row count and values (doubles to the
    last bits, :func:`differences`) of the same-named table of ``b``."""
    for name in a:
        assert a[name].schema == b[name].schema, name
        assert a[name].num_rows == b[name].num_rows, name
        assert not (diff := differences(a[name], b[name], names)), f"{name}: {diff}"
