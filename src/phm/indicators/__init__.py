"""Commissioning indicators (issue 18): pure Ibis transforms over the marts, then statistics.

Each indicator has a definition row in ``definitions/indicators.csv`` (numerator, denominator,
exclusions, standardisation, confidence interval, source, version, what is UNVERIFIED) and its
code lists as data beside it; ``docs/indicators.md`` is generated from them
(:func:`indicators_markdown`; a test keeps the page in step).

- :mod:`.readmission`: emergency readmissions within 30 days (NHS Digital I02040 / NHS OF 3b);
  the mart ``ind_readmissions`` holds one row per index discharge (and why any was excluded);
- :mod:`.acsc`: emergency admissions for ambulatory care sensitive conditions (CCG OIS 2.6 /
  NHS OF 2.3.i chronic; acute, vaccine-preventable and the 19-condition list); the mart
  ``ind_acsc_admissions`` holds one row per counted emergency admission;
- :mod:`.frequent`: frequent A&E attenders and high intensity users from ``person_year``
  (parameters in ``definitions/parameters.csv``); their activity and cost in every setting in
  ``ind_frequent_attenders``;
- :mod:`.coding`: the clinical coding audit by provider (the mart ``ind_coding_spells``; by
  treatment function in ``ind_coding_specialty``);
- :mod:`.ebi`: Evidence-Based Interventions (low-priority procedures; the mart
  ``ind_ebi_spells``, rates and what the lower quartile would release in ``ind_ebi``);
- :mod:`.mortality` and :mod:`.shmi`: deaths in hospital or within 30 days of discharge against
  expected (SHMI; the mart ``ind_shmi_spells``; ``ind_shmi`` banded by provider and year,
  ``ind_shmi_groups`` by diagnosis group);
- :mod:`.values`: ``ind_values``, every indicator by area and period with confidence limits;
- :mod:`.dashboard`: the ``dash_indicators*`` and ``dash_provider_indicators`` tables the
  dashboard serves through disclosure control.
"""

from __future__ import annotations

from phm.indicators.acsc import LISTS, acsc_admissions, admission_episodes
from phm.indicators.codes import indicator, indicators, rows
from phm.indicators.coding import coding_by_specialty, coding_spells, coding_values
from phm.indicators.ebi import ebi_candidates, ebi_spells, ebi_table, requirement_codes, rule_table
from phm.indicators.frequent import cohort_profile, frequent_values
from phm.indicators.mortality import charlson_codes, group_codes, shmi_spells
from phm.indicators.readmission import index_discharges
from phm.indicators.shmi import shmi_tables
from phm.indicators.values import acsc_values, readmission_values

MARTS = ("ind_readmissions", "ind_acsc_admissions", "ind_coding_spells", "ind_ebi_spells", "ind_shmi_spells")
TABLES = ("ind_values", "ind_frequent_attenders", "ind_coding_specialty", "ind_ebi", "ind_shmi", "ind_shmi_groups",
          "dash_indicators", "dash_indicators_standardised", "dash_indicators_monthly", "dash_provider_indicators",
          "dash_provider_indicators_monthly")


def indicator_marts(spells, person, episodes, refs, extract_date, stage=lambda name, expr: expr,
                    provider_spells=None) -> dict:
    """The patient-level indicator marts as Ibis expressions (``{name: expr}``). ``stage(name,
    expr)`` materialises an intermediate table that several parts of an expression read (the
    build passes its scratch-table helper; by default the expression is inlined)."""
    admissions = stage("acsc admission episodes", admission_episodes(episodes, person))
    out = {
        "ind_readmissions": index_discharges(spells, person, episodes, extract_date),
        "ind_acsc_admissions": acsc_admissions(admissions, refs["ref_acsc_codes"]),
    }
    if provider_spells is not None:
        out["ind_coding_spells"] = coding_spells(provider_spells, episodes, refs)
        candidates = stage("ebi candidate spells", ebi_candidates(provider_spells, episodes, person))
        out["ind_ebi_spells"] = ebi_spells(candidates, refs["ref_ebi_codes"], refs["ref_ebi_rules"])
        out["ind_shmi_spells"] = shmi_spells(provider_spells, person, refs, extract_date)
    return out


def indicator_tables(marts: dict, peers=None) -> dict:
    """``ind_values`` and ``ind_frequent_attenders`` from the indicator marts and ``person_year``
    (``peers``: ``dash_peers``, each practice's similar practices, for the EBI benchmark)."""
    import pyarrow as pa

    py = marts["person_year"]
    parts = [readmission_values(marts["ind_readmissions"], py),
             acsc_values(marts["ind_acsc_admissions"], py, LISTS),
             frequent_values(py)]
    out = {"ind_frequent_attenders": cohort_profile(py)}
    if "ind_coding_spells" in marts:
        parts.append(coding_values(marts["ind_coding_spells"]))
        out["ind_coding_specialty"] = coding_by_specialty(marts["ind_coding_spells"])
    if "ind_ebi_spells" in marts:
        out["ind_ebi"] = ebi_table(marts["ind_ebi_spells"], py, peers)
    if "ind_shmi_spells" in marts:
        shmi = shmi_tables(marts["ind_shmi_spells"])
        parts.append(shmi.pop("values"))
        out.update(shmi)
    return {"ind_values": pa.concat_tables(parts), **out}


def indicator_notes(readmissions, acsc, shmi=None) -> list[str]:
    """How much of each indicator rests on UNVERIFIED definitions (two small queries): the index
    discharges each unverified readmission rule set apart, and the admissions counted only by
    the unverified ACSC lists."""
    from phm.indicators.readmission import UNVERIFIED_RULES
    from phm.warehouse import fetch

    r = readmissions
    by = {x["excluded"]: x["n"] for x in fetch(r.group_by("excluded").aggregate(n=r.count())).to_pylist()}
    total = sum(by.values()) or 1
    unverified = {k: v for k, v in by.items() if k in UNVERIFIED_RULES}
    a = acsc
    counts = fetch(a.aggregate(**{lst: a[f"acsc_{lst}"].cast("int64").sum() for lst in LISTS})).to_pylist()[0]
    return [
        f"readmissions: of {total:,} continuous spells, rules whose codes are UNVERIFIED "
        "(indicators/definitions/readmission_exclusions.csv) set apart "
        + ", ".join(f"'{k}' {n:,} ({100 * n / total:.1f}%)" for k, n in sorted(unverified.items()))
        + f"; {by.get(None, 0):,} index discharges remain",
        f"ACSC: {counts['chronic'] or 0:,} chronic admissions rest on the verified CCG OIS 2.6 v1.15 codes; "
        f"{counts['acute'] or 0:,} acute, {counts['vaccine_preventable'] or 0:,} vaccine-preventable and "
        f"{counts['broad'] or 0:,} 19-condition admissions rest wholly on UNVERIFIED code lists",
    ] + (_shmi_note(shmi) if shmi is not None else [])


def _shmi_note(spells) -> list[str]:
    from phm.warehouse import fetch

    t = spells.filter(spells.excluded.isnull())
    row = fetch(t.aggregate(n=t.count(), d=t.died.cast("int64").sum(),
                            inv=(t.diagnosis_group == "invalid").cast("int64").sum())).to_pylist()[0]
    n, d, inv = row["n"] or 0, row["d"] or 0, row["inv"] or 0
    return [f"SHMI: all {n:,} spells and {d:,} deaths are modelled in phm's diagnosis groups and SHMI Charlson "
            f"weights, both UNVERIFIED (shmi_diagnosis_groups.csv, shmi_charlson.csv), against the warehouse's own "
            f"case-mix model (not England's); {inv:,} ({100 * inv / max(n, 1):.1f}%) have an invalid primary diagnosis"]


def indicators_markdown() -> str:
    """The whole of ``docs/indicators.md``: each indicator's definition, then its code lists.

    Regenerate with ``python -m phm.indicators > docs/indicators.md``."""
    out = [
        "# Indicators\n",
        "Generated from `src/phm/indicators/definitions/` by `phm.indicators.indicators_markdown()` "
        "(regenerate with `python -m phm.indicators > docs/indicators.md`); a test fails when this page "
        "is out of date. UNVERIFIED marks what phm has not checked against the published specification.\n",
    ]
    fields = ("unit", "numerator", "denominator", "exclusions", "standardisation", "confidence_interval",
              "reference", "source", "version", "verified", "unverified")
    for r in indicators():
        out.append(f"## {r['name']} (`{r['id']}`)\n")
        for f in fields:
            label = "UNVERIFIED" if f == "unverified" else f.replace("_", " ").capitalize()
            if r[f]:
                out.append(f"- **{label}**: {r[f]}")
        out.append("")
    for name, title in (("parameters.csv", "Parameters"), ("acsc_conditions.csv", "ACSC code lists"),
                        ("ebi_interventions.csv", "Evidence-Based Interventions"),
                        ("readmission_exclusions.csv", "Readmission exclusions"),
                        ("shmi_diagnosis_groups.csv", "SHMI diagnosis groups"),
                        ("shmi_charlson.csv", "SHMI Charlson conditions and weights")):
        table = rows(name)
        cols = list(table[0])
        out.append(f"## {title} (`{name}`)\n")
        out.append("| " + " | ".join(cols) + " |")
        out.append("|" + "---|" * len(cols))
        for r in table:
            out.append("| " + " | ".join(r[c].replace("|", "\\|") for c in cols) + " |")
        out.append("")
    return "\n".join(out)


def reference_tables() -> dict:
    """The indicator code tables the build writes beside the model's ``ref_*`` tables."""
    from phm.indicators.acsc import condition_codes

    return {"ref_acsc_codes": condition_codes(), "ref_ebi_codes": requirement_codes(), "ref_ebi_rules": rule_table(),
            "ref_shmi_charlson": charlson_codes(), "ref_shmi_groups": group_codes()}


__all__ = ["MARTS", "TABLES", "indicator", "indicator_marts", "indicator_notes", "indicator_tables", "indicators",
           "indicators_markdown"]
