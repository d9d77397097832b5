"""Validated settings for ``phm synth``."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from phm.errors import UserError

# The NHS test range 999 000 0000 - 999 999 9999 holds 909,091 valid NHS numbers
# (one prefix in eleven has no valid check digit). Persons plus the planted
# unregistered people must fit, so a synthetic ICB has at most this many persons.
MAX_PERSONS = 900_000
# Feeds that arrive pseudonymised (``--identity pseudonymised``) carry no NHS number, so the
# test range does not bind; the limit is then memory (the population is held whole).
MAX_PERSONS_PSEUDONYMISED = 5_000_000
IDENTITIES = ("nhs_number", "pseudonymised")
CHUNK_PERSONS = 20_000  # fixed, so output never depends on the machine


class SynthConfig(BaseModel):
    """Everything that determines a synthetic ICB; the same config gives the same bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    icb: str
    persons: int
    years: int
    start: dt.date
    seed: int
    fmt: Literal["parquet", "csv"]
    defects: Literal["default", "none"]
    out: Path
    force: bool = False
    workers: int = 2
    identity: Literal["nhs_number", "pseudonymised"] = "nhs_number"

    @property
    def icbs(self) -> tuple[str, ...]:
        """The ICBs to generate: one, or several written into one extract (a region)."""
        return tuple(self.icb.split(","))

    def for_icb(self, icb: str, persons: int) -> SynthConfig:
        """This config narrowed to one ICB of a region."""
        return self.model_copy(update={"icb": icb, "persons": persons})

    @property
    def end(self) -> dt.date:
        """First day after the window (exclusive)."""
        return self.start.replace(year=self.start.year + self.years)

    @property
    def extract_date(self) -> dt.date:
        """The last day the extract covers; later dates are 'future dates'."""
        return self.end - dt.timedelta(days=1)

    @property
    def window_days(self) -> int:
        return (self.end - self.start).days

    def fy_bounds(self) -> list[int]:
        """Day offsets of each year boundary, from 0 to window_days."""
        return [
            (self.start.replace(year=self.start.year + k) - self.start).days
            for k in range(self.years + 1)
        ]

    def fy_labels(self) -> list[str]:
        y = self.start.year
        if self.start.month == 4:
            return [f"{y + k}/{(y + k + 1) % 100:02d}" for k in range(self.years)]
        return [f"{self.start.replace(year=y + k).isoformat()[:7]}+12m" for k in range(self.years)]

    @classmethod
    def from_cli(
        cls,
        *,
        icb: str,
        persons: int,
        years: int,
        start: str,
        seed: int,
        fmt: str,
        defects: str,
        out: Path,
        force: bool,
        workers: int = 2,
        identity: str = "nhs_number",
    ) -> SynthConfig:
        """Check CLI values and explain any problem in one line."""
        if persons <= 0:
            raise UserError(f"--persons must be a positive whole number (got {persons})")
        identity = identity.lower().strip().replace("-", "_")
        if identity not in IDENTITIES:
            raise UserError(f"--identity must be nhs_number or pseudonymised (got '{identity}')")
        if identity == "pseudonymised" and persons > MAX_PERSONS_PSEUDONYMISED:
            raise UserError(f"--persons {persons:,} is too many: at most {MAX_PERSONS_PSEUDONYMISED:,} "
                            "persons (the population is held in memory)")
        if identity == "nhs_number" and persons > MAX_PERSONS:
            raise UserError(
                f"--persons {persons:,} is too many: the NHS test range 999 000 0000 to "
                f"999 999 9999 holds only 909,091 valid NHS numbers, so at most "
                f"{MAX_PERSONS:,} persons; --identity pseudonymised writes feeds without NHS numbers "
                f"and allows up to {MAX_PERSONS_PSEUDONYMISED:,}"
            )
        if not 1 <= years <= 10:
            raise UserError(f"--years must be between 1 and 10 (got {years})")
        if seed < 0:
            raise UserError(f"--seed must be zero or positive (got {seed})")
        m = re.fullmatch(r"(\d{4})-(\d{2})", start.strip())
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise UserError(f"--start must be a month as YYYY-MM, e.g. 2022-04 (got '{start}')")
        start_date = dt.date(int(m.group(1)), int(m.group(2)), 1)
        if not 2000 <= start_date.year <= 2090:
            raise UserError(f"--start year must be between 2000 and 2090 (got {start_date.year})")
        fmt = fmt.lower().strip()
        if fmt not in ("parquet", "csv"):
            raise UserError(f"--format must be parquet or csv (got '{fmt}')")
        defects = defects.lower().strip()
        if defects not in ("default", "none"):
            raise UserError(f"--defects must be default or none (got '{defects}')")
        return cls(
            icb=_icb_list(icb), persons=persons, years=years, start=start_date,
            seed=seed, fmt=fmt, defects=defects, out=out, force=force,
            workers=max(1, workers), identity=identity,
        )


def _icb_list(text: str) -> str:
    """'QWU', 'QWU,QHM' or an NHS region code ('Y60': every ICB in it), as a comma-joined list
    of distinct ICB ODS codes in the order given (a region's in code order)."""
    from phm.refdata import check_icb, practices

    codes = [c.strip().upper() for c in text.split(",") if c.strip()]
    if not codes:
        raise UserError("--icb needs an ICB ODS code (e.g. QWU), a comma-separated list, or a region code (e.g. Y60)")
    out: list[str] = []
    regions = dict(zip(practices()["icb_code"].to_pylist(), practices()["region_code"].to_pylist(), strict=True))
    for code in codes:
        in_region = sorted({icb for icb, region in regions.items() if region == code})
        for icb in in_region or [check_icb(code)]:
            if icb not in out:
                out.append(icb)
    return ",".join(out)
