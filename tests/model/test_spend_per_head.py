"""The synthetic ICB's cost per head by setting against published national figures (issue 13).

Measured on 2023/24 (the latest year with a national cost schedule phm can cite), at 2023/24
prices, NHS-funded activity (ICB- and NHS England-commissioned; private patients excluded),
over the registered population's person-years. Each setting must land within 15% of its
national figure; the table in docs/synthetic-icb.md ("Spend per head") is this test's output.

National figures (England, population 57,690,300: ONS mid-2023 estimate):
- National Cost Collection 2023/24, national schedule (NHS England; the copy shipped in
  ../shared/refdata/costs/ncc_2023_24.csv), total cost by department: admitted care =
  non-elective long and short stay, elective inpatients, day cases and regular day or night
  admissions (£42.96bn); outpatients = consultant-led, non-consultant-led and outpatient
  procedures (£16.73bn); emergency care (£6.01bn); community health services (£5.94bn);
  mental health = care contacts, provider spells (bed days) and NHS Talking Therapies
  (£11.78bn).
- NHSBSA Prescription Cost Analysis 2023/24: 1.21bn items, £10.9bn net ingredient cost.
- NHS England, Appointments in General Practice, year to March 2024: 363.6m appointments
  (excluding COVID-19 vaccinations).
"""

from __future__ import annotations

import duckdb
import pytest

pytestmark = pytest.mark.xdist_group("cips20k")

ENGLAND = 57_690_300
NATIONAL = {  # per head, 2023/24
    "apc": 42.96e9 / ENGLAND,
    "op": 16.73e9 / ENGLAND,
    "ecds": 6.01e9 / ENGLAND,
    "community": 5.94e9 / ENGLAND,
    "mh": 11.78e9 / ENGLAND,
    "prescribing": 10.9e9 / ENGLAND,
}
ITEMS_PER_HEAD = 1.21e9 / ENGLAND
GP_APPOINTMENTS_PER_HEAD = 363.6e6 / ENGLAND
TOLERANCE = 0.15


def per_head(wh) -> dict[str, float]:
    with duckdb.connect(str(wh), read_only=True) as c:
        (people,) = c.sql("SELECT sum(exposure_days) / 365.25 FROM person_year WHERE fy = 2023").fetchone()
        cost = dict(c.sql("SELECT setting, sum(cost) FROM activity WHERE fy = 2023 AND funder IN ('icb', 'nhse') "
                          "GROUP BY 1").fetchall())
        (items,) = c.sql("SELECT sum(quantity) FROM activity WHERE fy = 2023 AND setting = 'prescribing'").fetchone()
        (gp,) = c.sql("SELECT count(*) FROM activity WHERE fy = 2023 AND setting = 'gp'").fetchone()
    out = {s: cost.get(s, 0.0) / people for s in NATIONAL}
    out["prescription_items"] = items / people
    out["gp_appointments"] = gp / people
    return out


@pytest.mark.parametrize("setting", [*NATIONAL, "prescription_items", "gp_appointments"])
def test_cost_per_head_is_within_15_percent_of_the_national_figure(icb20k_clean, setting):
    _, wh = icb20k_clean
    got = per_head(wh)[setting]
    want = {"prescription_items": ITEMS_PER_HEAD, "gp_appointments": GP_APPOINTMENTS_PER_HEAD}.get(
        setting, NATIONAL.get(setting))
    assert abs(got / want - 1) <= TOLERANCE, f"{setting}: {got:.2f} a head against {want:.2f}"
