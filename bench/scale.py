"""Benchmarks at scale (issue 17, part 5), run from ``bench/run.py``:

- stage ``large``: a 3,000,000-person ICB (NHS Greater Manchester, ``QOP``) over 3 years,
  pseudonymised feeds (``--identity pseudonymised``: the NHS test range holds only 909,091
  numbers), through ``phm synth``, ``phm ingest`` and ``phm build``, each timed with its peak
  RSS; targets synth <= 9 min, ingest <= 12 min, build <= 15 min, peak RSS <= 12 GB each;
- stage ``region``: a 6-ICB region of 3,000,000 people in total (NHS England East of England,
  ``Y61``: its six ICBs, each sized by its published registered population), the same three
  steps against the same targets;
- stage ``spark``: ``phm ingest --backend spark`` and ``phm build`` on a Spark (local mode)
  warehouse at 100,000, 300,000 and 1,000,000 persons (pseudonymised feeds), each timed, and the
  scaling slope between sizes, ``b`` in time ~ persons^b (1 is linear). No target: the
  figures are for reading the slope (``PHM_BENCH_SPARK_SIZES`` picks other sizes). Its peak
  RSS is the phm process's: Spark's JVM runs beside it and may not be counted (a 100k build's
  JVM was seen at 5.0 GB with ``ps``).

Both 3M stages work out of core: DuckDB spills past ``PHM_DUCKDB_MEMORY`` (default 4 GB) to
its temporary directory, and synth writes in chunks.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

LARGE_PERSONS = 3_000_000
LARGE_ICB = "QOP"  # NHS Greater Manchester ICB, one of the largest (about 3.2M registered)
REGION = "Y61"  # East of England: six ICBs
TARGETS_S = {"synth": 9 * 60, "ingest": 12 * 60, "build": 15 * 60}
TARGET_GB = 12.0
SPARK_SIZES = tuple(int(n) for n in os.environ.get("PHM_BENCH_SPARK_SIZES", "100000,300000,1000000").split(","))


def pipeline(b, name: str, persons: int, icb: str, backend: str = "duckdb", steps=("synth", "ingest", "build")) -> dict:
    """synth -> ingest -> build of one synthetic extract (``b`` is bench/run.py's module);
    each step's wall time and peak RSS; the files are removed after."""
    src = b.OUT / f"{name}_src"
    wh = b.OUT / (f"{name}_spark" if backend == "spark" else f"{name}.duckdb")
    shutil.rmtree(src, ignore_errors=True)
    shutil.rmtree(wh, ignore_errors=True) if backend == "spark" else wh.unlink(missing_ok=True)
    out: dict = {"persons": persons, "icb": icb, "backend": backend}
    try:
        wall, peak = b.run(["synth", "--persons", str(persons), "--icb", icb, "--years", "3", "--out", str(src),
                            "--seed", "1", "--identity", "pseudonymised"])
        files = json.loads((src / "manifest.json").read_text())["files"]
        out["rows"] = sum(v["rows"] for v in files.values())
        out["synth"] = {"wall_s": wall, "peak_gb": peak}
        args = ["ingest", str(src), "--warehouse", str(wh)] + (["--backend", "spark"] if backend == "spark" else [])
        wall, peak, st = b.timed(args, env={"PHM_PSEUDO_KEY": b.BENCH_KEY})
        out["ingest"] = {"wall_s": wall, "peak_gb": peak, "steps": st}
        wall, peak, st = b.timed(["build", "--warehouse", str(wh)])
        out["build"] = {"wall_s": wall, "peak_gb": peak, "steps": st}
        out["warehouse_gb"] = _size(wh) / 1e9
    finally:
        shutil.rmtree(src, ignore_errors=True)
        shutil.rmtree(wh, ignore_errors=True) if backend == "spark" else wh.unlink(missing_ok=True)
    return out


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def target_lines(label: str, r: dict) -> list[str]:
    """One line per step with its verdict against the issue 17 targets."""
    lines = [f"{label}: {r['persons']:,} persons x 3 y ({r['icb']}), {r['rows']:,} rows, "
             f"warehouse {r['warehouse_gb']:.2f} GB"]
    for step, limit in TARGETS_S.items():
        x = r[step]
        ok = x["wall_s"] <= limit and x["peak_gb"] <= TARGET_GB
        lines.append(f"    phm {step:<8}{x['wall_s']:>8.1f} s (target <= {limit / 60:.0f} min), peak RSS "
                     f"{x['peak_gb']:5.2f} GB (target <= {TARGET_GB:.0f} GB): {'met' if ok else 'MISSED'}")
    return lines


def slope(sizes: list[int], seconds: list[float]) -> float:
    """The least-squares slope of log(seconds) on log(persons): time ~ persons^slope."""
    x = [math.log(s) for s in sizes]
    y = [math.log(t) for t in seconds]
    mx, my = sum(x) / len(x), sum(y) / len(y)
    return sum((a - mx) * (c - my) for a, c in zip(x, y, strict=True)) / sum((a - mx) ** 2 for a in x)


def spark_lines(results: dict[int, dict]) -> list[str]:
    sizes = sorted(results)
    lines = ["Spark (local mode) scaling:"]
    for n in sizes:
        r = results[n]
        lines.append(f"    {n:>9,} persons, {r['rows']:>12,} rows: ingest {r['ingest']['wall_s']:>7.1f} s "
                     f"(peak {r['ingest']['peak_gb']:.2f} GB, JVM not counted), build {r['build']['wall_s']:>7.1f} s "
                     f"(peak {r['build']['peak_gb']:.2f} GB)")
    if len(sizes) >= 2:
        for step in ("ingest", "build"):
            b = slope(sizes, [results[n][step]["wall_s"] for n in sizes])
            lines.append(f"    {step} time ~ persons^{b:.2f} over {sizes[0]:,}-{sizes[-1]:,} (1.00 is linear)")
    return lines


def main(b, stages: list[str]) -> None:
    """Run the scale stages named in ``stages``; print and record them as bench/run.py does."""
    if "large" in stages:
        r = pipeline(b, "large", LARGE_PERSONS, LARGE_ICB)
        print("\n".join(target_lines("3M-person ICB", r)), flush=True)
        b.record("large", LARGE_PERSONS, r)
    if "region" in stages:
        r = pipeline(b, "region", LARGE_PERSONS, REGION)
        print("\n".join(target_lines("6-ICB region", r)), flush=True)
        b.record("region", LARGE_PERSONS, r)
    if "spark" in stages:
        results = {}
        for n in SPARK_SIZES:
            results[n] = pipeline(b, f"spark_{n}", n, "QWU", backend="spark")
            b.record("spark", n, results[n])
            print(spark_lines({n: results[n]})[1], flush=True)
        print("\n".join(spark_lines(results)), flush=True)
