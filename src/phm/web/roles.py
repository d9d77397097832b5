"""Roles and what each may see (governance.md, Access).

Organisation scoping is decided here and only here, on the server, for every request:

========== ======================================================= ===================
role       areas                                                   other
========== ======================================================= ===================
analyst    every area (of their ICB, in a warehouse of several);   all DQ submitters
           row-level pseudonymised marts (warehouse-wide accounts)
place      their place, its PCNs and their practices               --
pcn        their PCN and its member practices                      --
practice   their practice                                          DQ of its own submissions
provider   none                                                    DQ of its own submissions
admin      none                                                    users and audit log
========== ======================================================= ===================

Comparators: the practice page shows the practice against its PCN and the ICB, and funnel
plots draw the ICB average; those comparators are disclosure-controlled aggregates of many
practices, never another practice's own figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    ANALYST = "analyst"
    PLACE = "place"
    PCN = "pcn"
    PRACTICE = "practice"
    PROVIDER = "provider"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]

    @property
    def sees_population(self) -> bool:
        return self in (Role.ANALYST, Role.PLACE, Role.PCN, Role.PRACTICE)

    @property
    def disclosure_controlled(self) -> bool:
        """Every output for every role except the ICB analyst passes disclosure control."""
        return self is not Role.ANALYST


ROLE_LABELS = {
    Role.ANALYST: "ICB analyst",
    Role.PLACE: "Place lead",
    Role.PCN: "PCN lead",
    Role.PRACTICE: "GP practice",
    Role.PROVIDER: "Provider",
    Role.ADMIN: "Administrator",
}

LEVELS = ("icb", "place", "pcn", "practice")  # top down
PARENT_LEVEL = {"place": "icb", "pcn": "place", "practice": "pcn"}


@dataclass
class Hierarchy:
    """Areas and their parents: ICB -> place -> PCN -> practice (from ``dash_areas``)."""

    names: dict[tuple[str, str], str] = field(default_factory=dict)
    parent: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: list[dict], icb_names: dict[str, str] | None = None) -> Hierarchy:
        h = cls()
        for r in rows:
            icb, place, pcn, prac = (("icb", r["icb_code"]), ("place", r["place_code"]),
                                     ("pcn", r["pcn_code"]), ("practice", r["practice_code"]))
            h.names.setdefault(icb, (icb_names or {}).get(r["icb_code"]) or r["icb_code"])
            for area, name, up in ((place, r.get("place_name"), icb), (pcn, r.get("pcn_name"), place),
                                   (prac, r.get("practice_name"), pcn)):
                if area[1] is None:
                    continue
                h.names.setdefault(area, name or area[1])
                if up[1] is not None:
                    h.parent.setdefault(area, up)
        return h

    def ancestors(self, area: tuple[str, str]) -> list[tuple[str, str]]:
        out = []
        while area in self.parent:
            area = self.parent[area]
            out.append(area)
        return out

    def descendants(self, area: tuple[str, str]) -> set[tuple[str, str]]:
        return {a for a in self.names if area in self.ancestors(a)}

    def areas(self, level: str) -> list[tuple[str, str]]:
        return sorted(a for a in self.names if a[0] == level)

    def name(self, area: tuple[str, str]) -> str:
        return self.names.get(area, area[1])


def home_area(role: Role, organisation: str) -> tuple[str, str] | None:
    """The area a user's organisation is, for the population roles."""
    return {Role.PLACE: ("place", organisation), Role.PCN: ("pcn", organisation),
            Role.PRACTICE: ("practice", organisation)}.get(role)


def permitted_areas(role: Role, organisation: str, h: Hierarchy) -> set[tuple[str, str]]:
    """Every area whose own figures this user may see."""
    if role is Role.ANALYST:
        if spans_warehouse(role, organisation, h):
            return set(h.names)
        return {("icb", organisation)} | h.descendants(("icb", organisation))
    home = home_area(role, organisation)
    if home is None or home not in h.names:
        return set()
    return {home} | h.descendants(home)


def spans_warehouse(role: Role, organisation: str, h: Hierarchy) -> bool:
    """Whether an analyst sees the whole warehouse: always when it holds one ICB; in a
    warehouse of several ICBs only an analyst whose organisation is not one of them (a region
    or commissioning-support account). An ICB's analyst sees their ICB, and other ICBs only
    through the disclosure-controlled peer aggregates."""
    icbs = h.areas("icb")
    return role is Role.ANALYST and (len(icbs) <= 1 or ("icb", organisation) not in icbs)


def permitted_submitters(role: Role, organisation: str) -> set[str] | None:
    """Data-quality submitters this user may see: None means all (analyst)."""
    if role is Role.ANALYST:
        return None
    if role in (Role.PROVIDER, Role.PRACTICE):
        return {organisation}
    return set()
