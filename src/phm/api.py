"""The Python API: ``phm.connect(path_or_url)`` opens a built warehouse for notebooks.

>>> import phm
>>> icb = phm.connect("demo-data/warehouse.duckdb")      # doctest: +SKIP
>>> py = icb.person_year                                  # an Ibis table
>>> py.group_by("segment").aggregate(cost=py.cost_total.sum()).to_pandas()   # doctest: +SKIP

Marts are read-only Ibis tables: filter, join and aggregate them lazily in the engine and
call ``.to_pandas()`` / ``.to_pyarrow()`` on the (small) result.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from phm.errors import UserError

MART_NAMES = ("person", "spells", "provider_spells", "activity", "activity_unlinked", "person_condition", "person_year")


class Model:
    """A built warehouse. Every table is an attribute (``icb.person``) or ``icb[name]``."""

    def __init__(self, wh) -> None:
        self.warehouse = wh
        missing = [m for m in ("person", "person_year") if not wh.has_table(m)]
        if missing:
            wh.close()
            raise UserError(f"warehouse {wh.path} has no {', '.join(missing)}; run 'phm build --warehouse {wh.path}' first")

    def tables(self) -> list[str]:
        return self.warehouse.list_tables()

    def __getitem__(self, name: str):
        if name not in self.tables():
            raise KeyError(f"no table {name!r}; the tables are: {', '.join(self.tables())}")
        return self.warehouse.table(name)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError as e:
            raise AttributeError(str(e)) from None

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self.tables()))

    @property
    def build_info(self) -> dict[str, str]:
        """What the marts were built from: window, extract date, ledger fingerprint, phm version."""
        t = self.warehouse.to_arrow("build_meta")
        return dict(zip(t["key"].to_pylist(), t["value"].to_pylist(), strict=True))

    def close(self) -> None:
        self.warehouse.close()

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<phm model {self.warehouse.backend}:{self.warehouse.path}>"


def connect(path_or_url: str | Path, backend: str | None = None) -> Model:
    """Open a built warehouse: a ``.duckdb`` file, a Spark warehouse folder, or a URL
    ``duckdb:///path/to/file.duckdb`` or ``spark:///path/to/folder``. DuckDB opens read-only."""
    from phm.warehouse import connect as wh_connect

    text = str(path_or_url)
    if "://" in text:
        url = urlparse(text)
        if url.scheme not in ("duckdb", "spark"):
            raise UserError(f"phm.connect: unsupported URL scheme {url.scheme!r}; use duckdb:/// or spark:///")
        backend = url.scheme
        text = url.path if not url.netloc else url.netloc + url.path
    wh = wh_connect(Path(text), backend=backend, read_only=(backend or "duckdb") == "duckdb" and not (Path(text) / "catalog.json").exists())
    return Model(wh)
