"""Planted data defects at set rates, with exact counts (filled in below)."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa

from phm.synth.config import SynthConfig
from phm.synth.population import Population


class DefectPlanter:
    def __init__(self, cfg: SynthConfig, pop: Population) -> None:
        self.cfg, self.pop = cfg, pop
        self.counts: dict[str, Counter] = {}

    def plant(self, index: int, tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
        return tables
