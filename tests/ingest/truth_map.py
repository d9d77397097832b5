"""Which data-quality rule detects each defect kind that phm synth plants (synth/defects.py)."""

KIND_TO_RULE = {
    "nhs_missing": "DQ-NHS-01",
    "nhs_invalid_check_digit": "DQ-NHS-02",
    "nhs_repeated_digits": "DQ-NHS-03",
    "excel_nhs_scientific": "DQ-NHS-04",
    "unregistered_person": "DQ-LNK-01",
    "lsoa_missing": "DQ-LSOA-01",
    "lsoa_invalid": "DQ-LSOA-02",
    "ethnicity_not_stated": "DQ-ETH-01",
    "ethnicity_not_known": "DQ-ETH-02",
    "excel_leading_zero_lost": "DQ-VAL-01",
    "unknown_icd10": "DQ-CODE-01",
    "unknown_opcs4": "DQ-CODE-02",
    "future_date": "DQ-DATE-01",
    "sentinel_date_null": "DQ-DATE-02",
    "sentinel_date_invalid": "DQ-DATE-03",
    "discharge_before_admission": "DQ-DATE-04",
    "activity_after_death": "DQ-DATE-05",
    "exact_duplicate": "DQ-DUP-01",
    "near_duplicate": "DQ-DUP-02",
    "excel_date_ddmmyyyy": "ING-DATE-02",
    "pseudonym_malformed": "DQ-PSN-01",
    "pseudonym_raw_nhs_number": "DQ-PSN-02",
    "pseudonym_lowercase": None,  # a quirk, not a defect: the token must link, and no rule may flag it
}


def rule_totals(wh) -> dict[tuple[str, str], int]:
    """Failures per (dataset, rule) summed over submitters and months."""
    t = wh.to_arrow("dq_results")
    out: dict[tuple[str, str], int] = {}
    for d, r, n in zip(t["dataset"].to_pylist(), t["rule_id"].to_pylist(), t["failures"].to_pylist(), strict=True):
        out[(d, r)] = out.get((d, r), 0) + n
    return out


def expected_totals(defects: dict, datasets, rule_ids) -> dict[tuple[str, str], int]:
    """Every (dataset, rule) pair: the planted count for the kind the rule detects, else 0."""
    exp = {(d, r): 0 for d in datasets for r in rule_ids}
    for d, kinds in defects.items():
        for kind, n in kinds.items():
            if KIND_TO_RULE[kind] is not None:
                exp[(d, KIND_TO_RULE[kind])] = exp.get((d, KIND_TO_RULE[kind]), 0) + n
    return exp
