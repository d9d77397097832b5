"""Demo users: one per role, in real organisations of the built warehouse, with random
passwords that are printed once and stored only as Argon2 hashes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from phm.web.data import Dashboard
from phm.web.roles import Role
from phm.web.store import Store


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: Role
    organisation: str


def demo_organisations(data: Dashboard) -> dict[Role, str]:
    """A real organisation for each role: the ICB, its first place, PCN and practice, the
    provider with the most scored records, and the ICB for the analyst and admin."""
    h = data.hierarchy
    icb = h.areas("icb")[0][1]
    practice = h.areas("practice")[0]
    pcn = h.parent[practice]
    place = h.parent[pcn]
    practices = {a[1] for a in h.areas("practice")}
    records: dict[str, int] = {}
    for r in data.dq["dq_scores"]:
        if r["submitter"] and r["submitter"] not in practices:
            records[r["submitter"]] = records.get(r["submitter"], 0) + (r["records"] or 0)
    provider = max(sorted(records), key=lambda s: records[s]) if records else icb
    return {Role.ANALYST: icb, Role.PLACE: place[1], Role.PCN: pcn[1], Role.PRACTICE: practice[1],
            Role.PROVIDER: provider, Role.ADMIN: icb}


def create_demo_users(store: Store, data: Dashboard, passwords: dict[Role, str] | None = None) -> list[DemoLogin]:
    """(Re)create the demo users ``demo-<role>``; return their logins."""
    out = []
    for role, org in demo_organisations(data).items():
        password = (passwords or {}).get(role) or secrets.token_urlsafe(12)
        name = f"demo-{role.value}"
        store.add_user(name, password, role, org, f"Demo {role.label.lower()}", replace=True)
        out.append(DemoLogin(name, password, role, org))
    return out
