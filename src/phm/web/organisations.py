"""The organisations a dashboard user may belong to, as the built warehouse knows them.

A user's organisation decides what the dashboard shows them (:mod:`phm.web.roles`), so it
must be one the dashboard knows, of the kind the role needs; a code it does not know would
give a user who can sign in and see nothing. The codes come from the same tables the
dashboard reads: ``dash_areas`` (written by ``phm build``) for the ICB, places, PCNs and
practices, and the data-quality scores (``dq_scores``, written by ``phm ingest``) for the
submitters a provider user may be.

=========== ========================================
role        organisation
=========== ========================================
analyst     the ICB
place       a place
pcn         a PCN
practice    a practice
provider    a data-quality submitter (trust, practice, local authority)
admin       any of these
=========== ========================================
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from phm.errors import InputError, UserError
from phm.web.roles import LEVELS, Role

KINDS = (*LEVELS, "provider", "region")
KIND_NAMES = {
    "icb": ("the ICB", "ICBs"),
    "region": ("the NHS region of a warehouse of several ICBs", "regions"),
    "place": ("a place", "places"),
    "pcn": ("a PCN", "PCNs"),
    "practice": ("a practice", "practices"),
    "provider": ("a data-quality submitter", "submitters"),
}
ROLE_KINDS = {
    Role.ANALYST: ("icb", "region"),  # a region: a warehouse-wide analyst of several ICBs
    Role.PLACE: ("place",),
    Role.PCN: ("pcn",),
    Role.PRACTICE: ("practice",),
    Role.PROVIDER: ("provider",),
    Role.ADMIN: KINDS,
}
SOURCES = {"provider": "dq_scores (written by phm ingest)",
           "region": "dash_areas (its ICBs' NHS regions, when it holds several)"} | {
    level: "dash_areas (written by phm build)" for level in LEVELS
}
KIND_ROLE = {
    "icb": Role.ANALYST,
    "place": Role.PLACE,
    "pcn": Role.PCN,
    "practice": Role.PRACTICE,
    "provider": Role.PROVIDER,
    "region": Role.ANALYST,
}


@dataclass(frozen=True)
class Organisations:
    """Organisation codes by kind (``icb``, ``place``, ``pcn``, ``practice``, ``provider``)."""

    codes: dict[str, frozenset[str]]
    warehouse: str  # where they came from, for messages

    @classmethod
    def of_warehouse(cls, path: str | Path) -> Organisations:
        """The organisations of the built warehouse at ``path`` (opened read-only, so this works
        while the dashboard serves it)."""
        from phm.warehouse import connect

        with connect(path, read_only=True) as wh:
            tables = set(wh.list_tables())
            if "dash_areas" not in tables:
                raise InputError(
                    f"warehouse {path} has no dash_areas table, where the dashboard's organisations "
                    f"come from; run 'phm build --warehouse {path}' first"
                )
            areas = wh.to_arrow("dash_areas").to_pydict()
            scores = (
                wh.to_arrow("dq_scores").to_pydict() if "dq_scores" in tables else {"submitter": []}
            )
        codes = {
            level: frozenset(c for c in areas.get(f"{level}_code", []) if c) for level in LEVELS
        }
        codes["provider"] = frozenset(s for s in scores["submitter"] if s)
        codes["region"] = _regions(codes["icb"]) if len(codes["icb"]) > 1 else frozenset()
        return cls(codes, str(path))

    def check(self, role: Role, organisation: str) -> str:
        """The organisation code for a ``role`` user, as the warehouse spells it. Raises
        :class:`~phm.errors.UserError` naming it, what it is instead, and close matches."""
        role = Role(role)
        wanted = ROLE_KINDS[role]
        code = organisation.strip()
        for kind in wanted:
            found = self._find(kind, code)
            if found:
                return found
        want = (
            " or ".join(KIND_NAMES[k][0] for k in wanted)
            if role is not Role.ADMIN
            else "an organisation"
        )
        plural = KIND_NAMES[wanted[0]][1] if len(wanted) == 1 else "organisations"
        tables = " and table ".join(dict.fromkeys(SOURCES[k] for k in wanted))
        message = (
            f"organisation {organisation!r} is not {want} in warehouse {self.warehouse}, whose {plural} "
            f"are in its table {tables}"
        )
        elsewhere = [k for k in KINDS if k not in wanted and self._find(k, code)]
        if elsewhere:
            k = elsewhere[0]
            message += (
                f": it is {KIND_NAMES[k][0]}; use --role {KIND_ROLE[k].value} for it, or give "
                f"--role {role.value} {want}'s code"
            )
        known = sorted(set().union(*(self.codes[k] for k in wanted)))
        # 0.8: one character wrong in a six-character code; looser matches are noise
        close = difflib.get_close_matches(code.upper(), known, n=3, cutoff=0.8)
        if close:
            message += f"; did you mean {' or '.join(close)}?"
        elif not elsewhere:
            message += (
                f"; its {plural}: {', '.join(known[:6])}{', ...' if len(known) > 6 else ''} "
                f"({len(known)} in all)"
                if known
                else f"; it has no {plural}"
            )
        raise UserError(message)

    def _find(self, kind: str, code: str) -> str | None:
        if code in self.codes[kind]:
            return code
        folded = [c for c in self.codes[kind] if c.casefold() == code.casefold()]
        return folded[0] if len(folded) == 1 else None


def _regions(icbs: frozenset[str]) -> frozenset[str]:
    """The NHS regions (ODS, e.g. Y60) of these ICBs, from the shipped allocations file."""
    from phm.refdata import practices

    p = practices()
    return frozenset(r for i, r in zip(p["icb_code"].to_pylist(), p["region_code"].to_pylist(), strict=True)
                     if i in icbs and r)
