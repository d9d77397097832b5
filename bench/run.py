"""Benchmarks: wall time, peak memory and rows per dataset. Run with ``make bench``.

Targets (issue 2, 2 cores / 24 GB): 1M persons x 3 years in <= 3 min and <= 6 GB.
The NHS test range holds only 909,091 valid NHS numbers, so the largest synthetic ICB
is 900,000 persons; the large run uses that. ``PHM_BENCH_SIZES`` overrides the sizes.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).parent / "out"
SIZES = [int(s) for s in os.environ.get("PHM_BENCH_SIZES", "100000,900000").split(",")]


def synth(persons: int) -> dict:
    out = OUT / f"synth_{persons}"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run([sys.executable, "-m", "phm.cli_entry", "synth", "--persons", str(persons), "--years", "3",
                    "--out", str(out), "--seed", "1"], check=True, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    files = json.loads((out / "manifest.json").read_text())["files"]
    shutil.rmtree(out, ignore_errors=True)
    return {"persons": persons, "wall_s": round(wall, 1), "peak_rss_gb": round(max(peak_kb, before) / 1e6, 2),
            "rows": {k: v["rows"] for k, v in files.items()}, "total_rows": sum(v["rows"] for v in files.values())}


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for n in SIZES:
        r = synth(n)
        print(f"phm synth {n:>9,} persons x 3 years: {r['wall_s']:>7.1f} s, peak RSS {r['peak_rss_gb']:.2f} GB, "
              f"{r['total_rows']:,} rows ({r['total_rows'] / r['wall_s']:,.0f} rows/s)")
        for k, v in r["rows"].items():
            print(f"    {k:<28}{v:>14,}")


if __name__ == "__main__":
    main()
