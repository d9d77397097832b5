"""Benchmarks: wall time, peak memory and rows. Run with ``make bench``; prints the figures.

Targets on this machine (2 cores, 24 GB):
- issue 2, ``phm synth``: 1M persons x 3 years in <= 3 min and <= 6 GB;
- issue 3, ``phm ingest`` from parquet: 1M persons x 3 years in <= 4 min and <= 8 GB
  (ingest from CSV is measured too; it has no target);
- issue 4, ``phm build`` (every mart and analysis table) on 1M persons x 3 years in <= 5 min and
  <= 8 GB (stage ``build``: it ingests the parquet ICB first, untimed).

The NHS test range holds only 909,091 valid NHS numbers, so the largest synthetic ICB is
900,000 persons; the large run uses that. Environment:
``PHM_BENCH_SIZES`` (default ``100000,900000``) and ``PHM_BENCH_STAGES`` (default
``synth,ingest-parquet,build,ingest-csv``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).parent / "out"
SIZES = [int(s) for s in os.environ.get("PHM_BENCH_SIZES", "100000,900000").split(",")]
STAGES = os.environ.get("PHM_BENCH_STAGES", "synth,ingest-parquet,build,ingest-csv").split(",")
BENCH_KEY = "phm-benchmark-key-not-a-secret-0123456789abcdef"


def run(args: list[str], env: dict | None = None) -> tuple[float, float]:
    """Run ``python -m phm.cli_entry ARGS``; return (wall seconds, peak RSS in GB) of that child."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "phm.cli_entry", *args], env={**os.environ, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"phm {' '.join(args)} failed:\n{proc.stderr.read().decode()[-3000:]}")
    return wall, usage.ru_maxrss / 1e6  # ru_maxrss is in kB on Linux


def synth(persons: int, fmt: str) -> tuple[Path, dict]:
    out = OUT / f"synth_{persons}_{fmt}"
    shutil.rmtree(out, ignore_errors=True)
    wall, peak = run(["synth", "--persons", str(persons), "--years", "3", "--out", str(out), "--seed", "1",
                      "--format", fmt])
    files = json.loads((out / "manifest.json").read_text())["files"]
    return out, {"wall_s": wall, "peak_gb": peak, "rows": sum(v["rows"] for v in files.values()),
                 "per_file": {k: v["rows"] for k, v in files.items()}}


def ingest(source: Path, keep: bool = False) -> dict:
    wh = OUT / f"{source.name}.duckdb"
    wh.unlink(missing_ok=True)
    wall, peak = run(["ingest", str(source), "--warehouse", str(wh)], env={"PHM_PSEUDO_KEY": BENCH_KEY})
    size = wh.stat().st_size / 1e9
    if not keep:
        wh.unlink(missing_ok=True)
    return {"wall_s": wall, "peak_gb": peak, "warehouse_gb": size, "path": wh}


def build(wh: Path) -> dict:
    before = wh.stat().st_size / 1e9
    wall, peak = run(["build", "--warehouse", str(wh)])
    after = wh.stat().st_size / 1e9
    wh.unlink(missing_ok=True)
    return {"wall_s": wall, "peak_gb": peak, "marts_gb": after - before}


def line(label: str, persons: int, r: dict, rows: int) -> str:
    return (f"{label:<22}{persons:>9,} persons x 3 y: {r['wall_s']:>7.1f} s, peak RSS {r['peak_gb']:5.2f} GB, "
            f"{rows:>12,} rows ({rows / r['wall_s']:>10,.0f} rows/s)")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for n in SIZES:
        src, s = synth(n, "parquet")
        if "synth" in STAGES:
            print(line("phm synth (parquet)", n, s, s["rows"]), flush=True)
            for k, v in s["per_file"].items():
                print(f"    {k:<28}{v:>14,}")
        if "ingest-parquet" in STAGES or "build" in STAGES:
            r = ingest(src, keep="build" in STAGES)
            if "ingest-parquet" in STAGES:
                print(line("phm ingest parquet", n, r, s["rows"]) + f", warehouse {r['warehouse_gb']:.2f} GB", flush=True)
            if "build" in STAGES:
                b = build(r["path"])
                print(line("phm build", n, b, s["rows"]) + f", marts {b['marts_gb']:.2f} GB", flush=True)
        shutil.rmtree(src, ignore_errors=True)
        if "ingest-csv" in STAGES:
            src, s = synth(n, "csv")
            r = ingest(src)
            print(line("phm ingest CSV", n, r, s["rows"]) + f", warehouse {r['warehouse_gb']:.2f} GB", flush=True)
            shutil.rmtree(src, ignore_errors=True)


if __name__ == "__main__":
    main()
