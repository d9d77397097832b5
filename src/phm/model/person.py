"""The person spine: one row per registered person, including people with no activity.

Sources: the GP registration extract (``raw_patients``) with valid NHS numbers only
(a row without a pseudonym cannot be linked, and is counted by data quality instead),
deaths from ONS registrations (``raw_deaths``) or else the practice's date of death.

Deprivation: IMD 2025 is published on LSOA 2021, the LSOA the extracts carry. IMD 2019
is on LSOA 2011; an LSOA 2021 takes the IMD 2019 decile of its 2011 parent, and where
several 2011 LSOAs merged into one 2021 LSOA (ONS change code M or X), the most deprived
parent's decile (a documented choice: it never hides deprivation). Core20 is IMD 2019
deciles 1-2, the definition NHS England's Core20PLUS5 uses; ``core20_imd2025`` gives the
same on IMD 2025. Quintile = ceil(decile / 2).
"""

from __future__ import annotations

import ibis

from phm.model.common import Window, age_at, age_band, broad_age_band, clean_date

SEX_NAMES = {"1": "Male", "2": "Female", "9": "Indeterminate", "0": "Not known"}


def registrations(patients):
    """One registration row per linked person: the latest registration (then the row loaded last)."""
    p = patients.filter(patients.person_id.notnull())
    p = p.mutate(registration_start=clean_date(p.registration_start), registration_end=clean_date(p.registration_end),
                 date_of_death=clean_date(p.date_of_death), date_of_birth=clean_date(p.date_of_birth))
    w = ibis.window(group_by=p.person_id, order_by=[ibis.desc(p.registration_start), ibis.desc(p._source), ibis.desc(p._line)])
    return p.mutate(_rank=ibis.row_number().over(w)).filter(ibis._._rank == 0).drop("_rank")


def death_dates(deaths, window: Window):
    """The earliest registered date of death per person (ONS), on or before the extract date."""
    d = deaths.filter(deaths.person_id.notnull())
    d = d.mutate(date_of_death=clean_date(d.date_of_death))
    d = d.filter(d.date_of_death.notnull() & (d.date_of_death <= window.extract_date))
    return d.group_by("person_id").aggregate(ons_date_of_death=d.date_of_death.min())


def person(patients, deaths, refs, window: Window):
    """The ``person`` mart. ``refs`` maps reference-table names to Ibis tables (see :mod:`.refs`)."""
    r = registrations(patients)
    dd = death_dates(deaths, window)
    r = r.left_join(dd, "person_id").drop("person_id_right")
    practice_death = ibis.ifelse(r.date_of_death <= window.extract_date, r.date_of_death, ibis.null("date"))
    r = r.mutate(date_of_death=r.ons_date_of_death.coalesce(practice_death)).drop("ons_date_of_death")
    ref_date = window.end
    age = age_at(r.date_of_birth, ref_date)
    eth = refs["ref_ethnicity"]
    lsoa = refs["ref_lsoa"]
    prac = refs["ref_practice"]
    out = (
        r.left_join(eth, r.ethnic_category == eth.ethnic_code)
        .left_join(lsoa, r.lsoa == lsoa.lsoa21_code)
        .left_join(prac, r.practice_code == prac.ref_practice_code)
    )
    registered_at_end = (
        (out.registration_end.isnull() | (out.registration_end > ref_date))
        & (out.date_of_death.isnull() | (out.date_of_death > ref_date))
        & (out.registration_start.isnull() | (out.registration_start <= ref_date))
    )
    q19 = ((out.imd2019_decile + 1) // 2).cast("int64")
    q25 = ((out.imd2025_decile + 1) // 2).cast("int64")
    return out.select(
        "person_id",
        "sex",
        sex_name=out.sex.substitute(SEX_NAMES, else_="Not known"),
        date_of_birth=out.date_of_birth,
        age=age,
        age_band=age_band(age),
        age_band_broad=broad_age_band(age),
        date_of_death=out.date_of_death,
        deceased=out.date_of_death.notnull(),
        ethnic_category=out.ethnic_category,
        ethnic_group=out.ethnic_group.coalesce("Not stated or not known"),
        lsoa=out.lsoa,
        imd2019_decile=out.imd2019_decile,
        imd2019_quintile=q19,
        imd2025_decile=out.imd2025_decile,
        imd2025_quintile=q25,
        core20=(out.imd2019_decile <= 2).coalesce(False),
        core20_imd2025=(out.imd2025_decile <= 2).coalesce(False),
        practice_code=out.practice_code,
        pcn_code=out.pcn_code,
        pcn_name=out.pcn_name,
        place_code=out.place_code,
        place_name=out.place_name,
        icb_code=out.icb_code,
        registration_start=out.registration_start,
        registration_end=out.registration_end,
        registered_at_end=registered_at_end,
    )
