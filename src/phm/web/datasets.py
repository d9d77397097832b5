"""The datasets the dashboard and its JSON API serve: a list of data (names, tables, columns
and how disclosure control treats each column). A test checks every dataset is documented
in ``docs/web.md`` and served by the API.

Every dataset is an aggregate table written by ``phm build`` (:mod:`phm.analysis`), stacked
over the four area levels (``level``, ``area_code``). Column kinds (:class:`phm.disclosure.Kind`):
counts are suppressed 1-7 and rounded to 5 for non-analyst roles; money follows the magnitude
rule (8+ people, p% dominance, 3 significant figures); standardised values are withheld when the
count behind them is; ratios (percentages, crude rates, per-head
values) are recomputed from the rounded counts; analyst-only columns (crude confidence
limits, which would let an exact count be backed out) are dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from phm.disclosure import SUPPRESSED, Column, Kind

C, M, S, L, A = Kind.COUNT, Kind.MONEY, Kind.STANDARDISED, Kind.LABEL, Kind.ANALYST_ONLY


def count(name: str, label: str) -> Column:
    return Column(name, C, label=label)


def money(name: str, label: str, order_statistic: bool = False) -> Column:
    return Column(name, M, label=label, order_statistic=order_statistic)


def std(name: str, basis: str, label: str) -> Column:
    return Column(name, S, basis=basis, label=label)


def ratio(name: str, num: str, den: str, label: str, scale: float = 1.0, mean: bool = False) -> Column:
    return Column(name, Kind.RATIO, numerator=num, denominator=den, scale=scale, mean=mean, label=label)


def per_unit(name: str, num: str, den: str, label: str) -> Column:
    """A ratio in each row's own unit: numerator / denominator x the row's ``per``."""
    return Column(name, Kind.RATIO, numerator=num, denominator=den, scale_by="per", label=label)


def label(name: str, text: str) -> Column:
    return Column(name, L, label=text)


def analyst(name: str, text: str) -> Column:
    return Column(name, A, label=text)


@dataclass(frozen=True)
class Dataset:
    name: str
    table: str
    title: str
    description: str
    keys: tuple[Column, ...]  # category columns (after level, area_code, fy)
    measures: tuple[Column, ...]
    all_years: bool = False
    hierarchical: bool = True  # counts of child areas add up to their parent's
    levels: tuple[str, ...] | None = None  # the area levels it is served at (None: every level)
    # Recomputes, for roles other than analyst, values that would otherwise give away an exact
    # count (e.g. funnel limits, which are a function of the exact denominator).
    after_protect: Callable[[list[dict]], None] | None = None

    @property
    def columns(self) -> tuple[Column, ...]:
        return (*self.keys, *self.measures)

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.keys)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def support(self) -> tuple[str, ...]:
        """The money support columns (people, two largest contributions) read from the table."""
        return tuple(s for c in self.measures if c.kind is M and not c.order_statistic for s in c.support)


def funnel_from_shown(rows: list[dict]) -> None:
    """Funnel limits and position from the rounded denominator and prevalence shown, not the
    exact ones: limits are ``target -/+ z sqrt(target (1 - target) / n)``, so limits at the exact
    ``n`` would let anyone solve for it (:func:`phm.stats.proportion_limits`)."""
    from phm.analysis._measures import outlier
    from phm.stats import proportion_limits

    for r in rows:
        n, p, target = r.get("denominator"), r.get("prevalence"), r.get("icb_prevalence")
        if not isinstance(n, int) or n <= 0 or target is None:
            r.update(funnel_lower_95=None, funnel_upper_95=None, funnel_lower_998=None, funnel_upper_998=None)
            r["outlier"] = SUPPRESSED if r.get("outlier") == SUPPRESSED else None
            continue
        l95, u95 = (float(np.atleast_1d(x)[0]) for x in proportion_limits(n, target, 0.95))
        l998, u998 = (float(np.atleast_1d(x)[0]) for x in proportion_limits(n, target, 0.998))
        r.update(funnel_lower_95=l95, funnel_upper_95=u95, funnel_lower_998=l998, funnel_upper_998=u998)
        if isinstance(p, float) and r.get("outlier") != SUPPRESSED:
            r["outlier"] = outlier(p, l95, u95, l998, u998)


AREA = (label("level", "Level"), label("area_code", "Area"), label("area_name", "Area name"),
        label("fy", "Financial year"))

DATASETS: dict[str, Dataset] = {d.name: d for d in (
    Dataset(
        "summary", "dash_summary", "Key measures",
        "Registered persons, spend and key measures by financial year.",
        (),
        (count("persons", "Registered persons"), count("person_years", "Person-years"),
         money("spend", "Spend (£)"),
         ratio("spend_per_head", "spend", "persons", "Spend per head (£)", mean=True),
         count("emergency_admissions", "Emergency admissions"),
         ratio("emergency_per_1000", "emergency_admissions", "persons", "Emergency admissions per 1,000", 1000),
         count("ae_attendances", "A&E attendances"),
         ratio("ae_per_1000", "ae_attendances", "persons", "A&E attendances per 1,000", 1000),
         count("ltc2plus", "People with 2+ long-term conditions"),
         ratio("ltc2plus_pct", "ltc2plus", "persons", "% with 2+ long-term conditions", 100),
         count("hri", "High resource individuals"),
         count("core20", "People in Core20 areas"),
         ratio("core20_pct", "core20", "persons", "% in Core20 areas", 100),
         count("age65plus", "People aged 65+"),
         ratio("age65plus_pct", "age65plus", "persons", "% aged 65+", 100),
         count("deaths", "Deaths in year")),
        all_years=True,
    ),
    Dataset(
        "pyramid", "dash_pyramid", "Population pyramid", "Registered persons by age band and sex.",
        (label("age_band", "Age band"), label("sex", "Sex"), label("sex_name", "Sex name")),
        (count("persons", "Registered persons"),),
    ),
    Dataset(
        "imd", "dash_imd", "Deprivation profile", "Registered persons by IMD 2019 decile (1 = most deprived).",
        (label("imd2019_decile", "IMD 2019 decile"),), (count("persons", "Registered persons"),),
    ),
    Dataset(
        "segments", "dash_segments", "Bridges to Health segments",
        "People, spend and spend per head by Bridges to Health segment.",
        (label("segment", "Segment"), label("segment_name", "Segment name")),
        (count("persons", "People"), count("person_years", "Person-years"), money("spend", "Spend (£)"),
         ratio("spend_per_head", "spend", "persons", "Spend per head (£)", mean=True)),
    ),
    Dataset(
        "settings", "spend_access_intensity", "Spend by setting",
        "Spend per head by setting, as access (users per head) x intensity (spend per user).",
        (label("setting", "Setting"), label("setting_name", "Setting name")),
        (count("population", "Registered persons"), count("users", "Users"),
         money("spend", "Spend (£)"),
         ratio("spend_per_head", "spend", "population", "Spend per head (£)", mean=True),
         ratio("access", "users", "population", "Users per head"),
         ratio("intensity", "spend", "users", "Spend per user (£)", mean=True),
         analyst("access_index", "Access index (ICB = 1)"), analyst("intensity_index", "Intensity index (ICB = 1)"),
         analyst("spend_per_head_index", "Spend per head index (ICB = 1)")),
    ),
    Dataset(
        "programmes", "spend_programme_budget", "Programme budgeting",
        "Spend by programme of care and setting.",
        (label("programme", "Programme"), label("programme_name", "Programme name"), label("setting", "Setting"),
         label("setting_name", "Setting name")),
        (count("contacts", "Contacts"), money("spend", "Spend (£)"),
         count("population", "Registered persons"),
         ratio("spend_per_head", "spend", "population", "Spend per head (£)", mean=True),
         analyst("person_years", "Person-years")),
    ),
    Dataset(
        "rcm", "dash_rcm", "Resource consumption map", "Spend by segment and setting.",
        (label("segment", "Segment"), label("segment_name", "Segment name"), label("setting", "Setting"),
         label("setting_name", "Setting name")),
        (count("persons", "People in segment"), count("users", "Users"), money("spend", "Spend (£)"),
         ratio("spend_per_person", "spend", "persons", "Spend per person (£)", mean=True)),
    ),
    Dataset(
        "top_cohort", "dash_top_cohort", "Top-cost cohort",
        "The costliest 5% of the ICB's registered people: who they are and where the money goes.",
        (label("dimension", "Breakdown"), label("group", "Group"), label("group_name", "Group name")),
        (count("persons", "People"), money("spend", "Spend (£)"),
         count("area_persons", "People in cohort (area)"), money("area_spend", "Cohort spend (area, £)"),
         ratio("share_of_cohort_spend", "spend", "area_spend", "% of cohort spend", 100),
         money("threshold", "Cohort threshold (£, ICB)", order_statistic=True)),
    ),
    Dataset(
        "inequalities", "dash_ineq", "Inequalities",
        "Emergency admissions (directly standardised) and spend per head by deprivation, ethnicity and Core20.",
        (label("dimension", "Breakdown"), label("group", "Group")),
        (count("persons", "Registered persons"), count("person_years", "Person-years"),
         money("spend", "Spend (£)"),
         ratio("cost_per_head", "spend", "persons", "Spend per head (£)", mean=True),
         analyst("cost_per_head_se", "SE"), analyst("cost_per_head_lower", "Lower 95%"),
         analyst("cost_per_head_upper", "Upper 95%"),
         count("admissions", "Emergency admissions"),
         ratio("crude_rate", "admissions", "person_years", "Crude rate per 100,000", 100_000),
         analyst("crude_lower", "Crude lower 95%"), analyst("crude_upper", "Crude upper 95%"),
         std("dsr", "admissions", "DSR per 100,000"), analyst("dsr_lower", "DSR lower 95%"),
         analyst("dsr_upper", "DSR upper 95%")),
    ),
    Dataset(
        "sii", "dash_ineq_sii", "Slope and relative index of inequality",
        "SII and RII across IMD 2019 quintiles (regression summaries; not counts).",
        (label("measure", "Measure"), label("dimension", "Breakdown"), label("quantiles", "Quantiles")),
        (label("sii", "SII"), label("sii_lower", "SII lower 95%"), label("sii_upper", "SII upper 95%"),
         label("rii", "RII"), label("rii_lower", "RII lower 95%"), label("rii_upper", "RII upper 95%")),
        hierarchical=False,
    ),
    Dataset(
        "prevalence", "hna_prevalence", "Recorded prevalence",
        "Recorded prevalence of long-term conditions against expected (indirectly standardised) from the ICB's rates and from England's (QOF 2022-23), with funnel limits.",
        (label("condition", "Condition"), label("condition_name", "Condition name"), label("min_age", "Minimum age")),
        (count("register", "Register"), count("denominator", "List size (eligible ages)"),
         ratio("prevalence", "register", "denominator", "Recorded prevalence"),
         analyst("prevalence_lower", "Prevalence lower 95%"), analyst("prevalence_upper", "Prevalence upper 95%"),
         analyst("expected", "Expected register"),
         std("isr", "register", "Ratio to expected"), analyst("isr_lower", "Ratio lower 95%"),
         analyst("isr_upper", "Ratio upper 95%"),
         std("standardised_prevalence", "register", "Standardised prevalence"),
         analyst("standardised_lower", "Standardised lower 95%"),
         analyst("standardised_upper", "Standardised upper 95%"),
         label("reference", "Reference"), label("icb_prevalence", "ICB prevalence"),
         label("funnel_lower_95", "Funnel lower 95%"), label("funnel_upper_95", "Funnel upper 95%"),
         label("funnel_lower_998", "Funnel lower 99.8%"), label("funnel_upper_998", "Funnel upper 99.8%"),
         std("outlier", "register", "Funnel position"),
         label("england_prevalence", "England prevalence (QOF 2022-23)"),
         analyst("expected_england", "Expected register (England rates)"),
         std("isr_england", "register", "Ratio to England"),
         analyst("isr_england_lower", "Ratio to England lower 95%"),
         analyst("isr_england_upper", "Ratio to England upper 95%"),
         label("icb_standardised_to_england", "ICB prevalence on England's age structure"),
         count("hospital_only", "Coded in hospital, not on the GP register")),
        after_protect=lambda rows: funnel_from_shown(rows),
    ),
    Dataset(
        "emergency", "hna_emergency_dsr", "Emergency admissions",
        "Emergency admissions per 100,000 person-years, crude and directly standardised (ESP2013).",
        (),
        (count("admissions", "Emergency admissions"), count("person_years", "Person-years"),
         ratio("crude_rate", "admissions", "person_years", "Crude rate per 100,000", 100_000),
         analyst("crude_lower", "Crude lower 95%"), analyst("crude_upper", "Crude upper 95%"),
         std("dsr", "admissions", "DSR per 100,000"), analyst("dsr_lower", "DSR lower 95%"),
         analyst("dsr_upper", "DSR upper 95%")),
        all_years=True,
    ),
    Dataset(
        "monthly", "dash_monthly", "Monthly activity and spend",
        "Emergency admissions, A&E attendances, elective admissions, outpatient attendances and ICB "
        "spend (in all and by setting) by calendar month, attributed to the area where each person "
        "was registered that year: the points of the SPC charts. `month_days` is the days of the "
        "month the extract covers (a month past the extract date is partial).",
        (label("month", "Month"), label("month_days", "Days covered")),
        (count("emergency_admissions", "Emergency admissions"), count("ae_attendances", "A&E attendances"),
         count("elective_admissions", "Elective admissions"), count("op_attendances", "Outpatient attendances"),
         money("spend", "ICB spend (£)"),
         *(money(f"spend_{s}", f"Spend: {n} (£)") for s, n in (
             ("apc", "admitted care"), ("op", "outpatients"), ("ecds", "A&E"), ("community", "community"),
             ("mh", "mental health"), ("gp", "GP appointments"), ("prescribing", "prescribing"),
             ("social_care", "adult social care")))),
        all_years=True,
    ),
    Dataset(
        "indicators", "dash_indicators", "Commissioning indicators",
        "Emergency readmissions within 30 days, avoidable (ACSC) admissions, frequent A&E attenders and "
        "Evidence-Based Interventions by area (docs/indicators.md defines each): numerator, denominator and "
        "the crude rate in the indicator's unit (numerator / denominator x `per`), with `target`, the ICB's "
        "crude rate, as the funnel's centre. ACSC admissions are served from PCN level up: by practice their "
        "counts, a lower bound on emergency admissions, would have disclosure control withhold emergency "
        "admissions far more widely. For ICB analysts, each EBI intervention's row also says what would be "
        "released if every practice above the ICB's lower quartile of practice rates, or above its similar "
        "practices' pooled rate, came down to it (spells, and cost at the practice's own cost per spell).",
        (label("indicator", "Indicator"), label("indicator_name", "Indicator name"), label("unit", "Unit"),
         label("per", "Unit multiplier")),
        (count("numerator", "Numerator"), count("denominator", "Denominator"),
         per_unit("crude", "numerator", "denominator", "Crude rate (in the unit)"),
         analyst("crude_lower", "Crude lower 95%"), analyst("crude_upper", "Crude upper 95%"),
         label("target", "ICB crude rate (funnel centre)"),
         analyst("lower_quartile_rate", "EBI: ICB lower-quartile practice rate"),
         analyst("released_spells", "EBI: spells released at the lower quartile"),
         analyst("released_cost", "EBI: cost released at the lower quartile (£)"),
         analyst("peer_rate", "EBI: similar practices' rate"),
         analyst("peer_released_spells", "EBI: spells released at similar practices' rate"),
         analyst("peer_released_cost", "EBI: cost released at similar practices' rate (£)")),
    ),
    Dataset(
        "indicators_standardised", "dash_indicators_standardised", "Standardised indicators",
        "The indicators whose definition standardises: readmissions indirectly (the standardised % and the "
        "ratio of observed to expected), ACSC admissions directly (ESP2013, per 100,000 person-years).",
        (label("indicator", "Indicator"), label("indicator_name", "Indicator name"), label("unit", "Unit")),
        (count("numerator", "Numerator"), std("value", "numerator", "Standardised value (in the unit)"),
         analyst("lower", "Lower 95%"), analyst("upper", "Upper 95%"), analyst("expected", "Expected"),
         std("ratio", "numerator", "Ratio to expected"), analyst("ratio_lower", "Ratio lower 95%"),
         analyst("ratio_upper", "Ratio upper 95%"), label("reference", "Reference")),
    ),
    Dataset(
        "indicators_monthly", "dash_indicators_monthly", "Indicators by month",
        "Each indicator's numerator and denominator by calendar month, at place and ICB level: the points "
        "of its SPC chart. `month_days` is the days of the month the extract covers.",
        (label("month", "Month"), label("month_days", "Days covered"), label("indicator", "Indicator"),
         label("indicator_name", "Indicator name")),
        (count("numerator", "Numerator"), count("denominator", "Denominator")),
        all_years=True,
        levels=("icb", "place"),
    ),
    Dataset(
        "provider_indicators", "dash_provider_indicators", "Provider indicators",
        "Indicators of the trusts that treat the ICB's people, whoever they treat: readmissions by the trust "
        "of the index stay, the SHMI (its denominator is the expected deaths, so its rate is the SHMI; "
        "`funnel_lower`/`funnel_upper` are its overdispersed 95% limits and `band` its banding) and the "
        "clinical coding audit. The same rows are shown under each ICB.",
        (label("provider_code", "Provider"), label("indicator", "Indicator"), label("indicator_name", "Indicator name"),
         label("unit", "Unit"), label("per", "Unit multiplier")),
        (count("numerator", "Numerator"), count("denominator", "Denominator"),
         per_unit("crude", "numerator", "denominator", "Rate (in the unit)"),
         label("funnel_lower", "SHMI lower limit"), label("funnel_upper", "SHMI upper limit"),
         std("band", "numerator", "SHMI band"), label("reference", "Reference")),
        hierarchical=False,
        levels=("icb",),
    ),
    Dataset(
        "provider_indicators_monthly", "dash_provider_indicators_monthly", "Provider indicators by month",
        "The provider indicators by calendar month: the points of each trust's SPC chart (the clinical coding "
        "audit's changes month on month). `month_days` is the days of the month the extract covers. The same "
        "rows are shown under each ICB.",
        (label("month", "Month"), label("month_days", "Days covered"), label("provider_code", "Provider"),
         label("indicator", "Indicator"), label("indicator_name", "Indicator name"), label("unit", "Unit"),
         label("per", "Unit multiplier")),
        (count("numerator", "Numerator"), count("denominator", "Denominator"),
         per_unit("crude", "numerator", "denominator", "Rate (in the unit)")),
        all_years=True,
        hierarchical=False,
        levels=("icb",),
    ),
)}



# ---- the additive structure: which released cells equal or sum to which ------------------
# Complementary suppression (phm.web.links) runs over all of it at once, with the parent-child
# sums of every hierarchical dataset, so that no withheld cell can be recovered from any
# combination of tables. tests/web/test_links.py checks every relation holds on the data.


@dataclass(frozen=True)
class Same:
    """``cells`` show the same quantity as ``of`` (one value shown in two places), matched on
    level, area, year and the ``on`` keys."""

    cells: str  # "dataset.column"
    of: str
    on: tuple[str, ...] = ()
    only: tuple[tuple[str, tuple], ...] = ()  # keep the ``cells`` rows whose key is one of these


@dataclass(frozen=True)
class Sum:
    """``parts`` summed equal ``total``, for the same level, area, year and ``by`` keys (the
    ``by`` keys the total's dataset has are matched; the others only group the parts). ``only``
    keeps the part rows whose key is one of the values given; ``where`` picks the total's row
    by key values."""

    parts: str  # "dataset.column"
    total: str
    by: tuple[str, ...] = ()
    only: tuple[tuple[str, tuple], ...] = ()
    where: tuple[tuple[str, object], ...] = ()
    sense: str = "="  # "<=": the parts add up to at most the total (a bound, not a margin)
    rename: tuple[tuple[str, str], ...] = ()  # a ``by`` key of the parts -> the total's key name


@dataclass(frozen=True)
class Bands:
    """Age bands of ``bands`` (e.g. ``pyramid.persons`` by ``age_band``) against a count of
    people from a minimum age (``count``, e.g. ``prevalence.denominator`` by ``min_age``): the
    count is at least the bands starting at or above the minimum age and at most the bands
    reaching it, and falls as the minimum age rises. ``shift``: the count's ages are taken
    that many years later than the bands' (prevalence denominators use age on the year end,
    QOF's achievement date; the pyramid age at the year start), so a band reaching the
    minimum age less ``shift`` may hold people counted."""

    bands: str
    count: str
    band_key: str
    age_key: str
    shift: int = 0


INEQ = ("persons", "person_years", "spend")
ACSC = ("acsc_chronic", "acsc_acute", "acsc_vaccine_preventable", "acsc_broad")
FREQUENT = ("frequent_ae_attenders", "high_intensity_users")
BANDS_65 = ("65-69", "70-74", "75-79", "80-84", "85-89", "90+")
RELATIONS: tuple[Same | Sum | Bands, ...] = (
    Same("settings.population", "summary.persons"),
    Same("programmes.population", "summary.persons"),
    Same("rcm.persons", "segments.persons", on=("segment",)),
    Same("top_cohort.area_persons", "top_cohort.area_persons"),
    Same("top_cohort.area_spend", "top_cohort.area_spend"),
    Same("emergency.admissions", "summary.emergency_admissions"),
    Same("emergency.person_years", "summary.person_years"),
    Same("prevalence.denominator", "prevalence.denominator", on=("min_age",)),  # per minimum age
    Same("prevalence.denominator", "summary.persons", only=(("min_age", (0,)),)),
    Same("inequalities.persons", "summary.core20", only=(("dimension", ("core20",)), ("group", ("Core20",)))),
    Sum("pyramid.persons", "summary.persons"),
    Sum("pyramid.persons", "summary.age65plus", only=(("age_band", BANDS_65),)),
    Sum("imd.persons", "summary.persons"),
    *(Sum("imd.persons", "inequalities.persons", only=(("imd2019_decile", deciles),),
          where=(("dimension", "imd2019_quintile"), ("group", q)))
      for q, deciles in [*((str(q), (str(2 * q - 1), str(2 * q))) for q in range(1, 6)), ("Unknown", ("Unknown",))]),
    *(Sum(f"segments.{m}", f"summary.{m}") for m in ("persons", "person_years", "spend")),
    Sum("settings.spend", "summary.spend"),
    *(Sum(f"monthly.{m}", f"summary.{m}") for m in ("emergency_admissions", "ae_attendances", "spend")),
    Sum("programmes.spend", "settings.spend", by=("setting",)),
    Sum("rcm.spend", "segments.spend", by=("segment",)),
    Sum("rcm.spend", "settings.spend", by=("setting",)),
    # not rcm.users -> settings.users: rcm's users have contacts (n > 0) and are registered,
    # settings' have cost > 0 in any person-year of the area: neither bounds the other.
    *(Sum(f"inequalities.{m}", f"summary.{m}", by=("dimension",)) for m in INEQ),
    Sum("inequalities.admissions", "summary.emergency_admissions", by=("dimension",)),
    Sum("top_cohort.persons", "top_cohort.area_persons", by=("dimension",),
        only=(("dimension", ("segment", "age_band_broad", "ltc_count")),)),
    Sum("top_cohort.spend", "top_cohort.area_spend", by=("dimension",)),
    Sum("imd.persons", "summary.core20", only=(("imd2019_decile", ("1", "2")),)),
    # bounds an attacker can also use (docs/governance.md, "Secondary disclosure")
    Sum("rcm.users", "rcm.persons", by=("segment", "setting"), sense="<="),
    Sum("prevalence.register", "prevalence.denominator", by=("condition", "min_age"), sense="<="),
    Sum("top_cohort.persons", "top_cohort.area_persons", by=("dimension", "group"), sense="<="),
    *(Sum(f"top_cohort.{m}", f"segments.{m}", by=("group",), rename=(("group", "segment"),),
          only=(("dimension", ("segment",)),), sense="<=") for m in ("persons", "spend")),
    Sum("top_cohort.persons", "summary.ltc2plus", only=(("dimension", ("ltc_count",)), ("group", ("2", "3", "4+"))),
        sense="<="),
    Sum("top_cohort.persons", "summary.age65plus",
        only=(("dimension", ("age_band_broad",)), ("group", ("65-74", "75-84", "85+"))), sense="<="),
    Bands("pyramid.persons", "prevalence.denominator", band_key="age_band", age_key="min_age", shift=1),
    # the indicators: one numerator shown twice, months adding up to the year, and bounds
    Same("indicators_standardised.numerator", "indicators.numerator", on=("indicator",)),
    *(Sum(f"indicators_monthly.{m}", f"indicators.{m}", by=("indicator",)) for m in ("numerator", "denominator")),
    *(Sum(f"provider_indicators_monthly.{m}", f"provider_indicators.{m}", by=("provider_code", "indicator"))
      for m in ("numerator", "denominator")),
    Same("indicators.denominator", "summary.persons", only=(("indicator", FREQUENT),)),
    *(Sum("indicators.numerator", "summary.emergency_admissions", only=(("indicator", (a,)),), sense="<=")
      for a in ACSC),
    *(Sum("indicators.numerator", "summary.persons", only=(("indicator", (f,)),), sense="<=") for f in FREQUENT),
)

DatasetName = StrEnum("DatasetName", {n: n for n in DATASETS})  # the API's path enum


LEVEL_TEXT = {"icb": "ICB", "place": "place", "pcn": "PCN", "practice": "practice"}
_YEARS = ("every financial year of the build's window, one at a time (`?fy=2023` for 2023/24; "
          "the latest by default)")


def datasets_markdown() -> str:
    """The dataset reference section of ``docs/web.md`` (a test keeps the two in step)."""
    lines = ["<!-- generated by phm.web.datasets.datasets_markdown(); a test checks it -->", ""]
    for d in DATASETS.values():
        where = f" Served at {' and '.join(LEVEL_TEXT[x] for x in d.levels)} level only." if d.levels else ""
        lines += [f"### `{d.name}`: {d.title}", "", f"{d.description} Table `{d.table}`; "
                  f"{'every financial year at once' if d.all_years else _YEARS}.{where}", "",
                  "| column | label | for roles other than ICB analyst |", "|---|---|---|"]
        from phm.web.significance import COLUMNS

        significance = {c.name for c in COLUMNS.get(d.name, ())}
        for c in (*d.columns, *COLUMNS.get(d.name, ())):
            if c.name in significance:
                lines.append(f"| `{c.name}` | {c.label} | higher / similar / lower at 95% (exact data), "
                             "or suppressed |")
                continue
            rule = {
                Kind.LABEL: "shown", Kind.COUNT: "1-7 → *, else rounded to 5",
                Kind.STANDARDISED: f"withheld when `{c.basis}` is suppressed",
                Kind.MONEY: "rounded to 3 significant figures (order statistic)" if c.order_statistic
                            else "withheld unless 8+ people and no dominant person (p% rule); "
                                 "else 3 significant figures, at least £1,000",
                Kind.RATIO: f"`{c.numerator}` / `{c.denominator}`"
                            + (f" × {c.scale:g}" if c.scale != 1 else "")
                            + (f" × `{c.scale_by}`" if c.scale_by else "") + " from the rounded values"
                            + (" (8+ values)" if c.mean else ""),
                Kind.ANALYST_ONLY: "analysts only",
            }[c.kind]
            lines.append(f"| `{c.name}` | {c.label} | {rule} |")
        lines.append("")
    return "\n".join(lines)
