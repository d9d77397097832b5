"""Data quality: a rule catalogue held as data, evaluated as Ibis expressions.

``rules.csv`` lists every rule with a stable ID, its Kahn category (conformance,
completeness, plausibility), the datasets it applies to, a threshold (the highest
acceptable failure rate) and its source. ``ING-*`` rules are applied by ingest and
counted from the quarantine table; ``DQ-*`` rules run on the loaded ``raw_*`` tables.

:func:`compute_quality` writes, in one transaction:

- ``dq_flags``   one row per failing record (or cell) with the submitter's own record
  identifier, source and line: the record-level feedback;
- ``dq_results`` count, records, rate and pass/fail per rule, dataset, submitter and month;
- ``dq_scores``  a DQMI-style score per submitter and dataset;
- ``dq_linkage`` the share of each dataset's records that link to the registered population;
- ``dq_rules``   the catalogue itself;
- ``dq_state``   the ledger fingerprint and rules version they were computed from, so a
  later ingest (or ``phm dq``) knows when they are stale.
"""

from __future__ import annotations

from phm.quality.catalogue import Rule, rules
from phm.quality.compute import compute_quality, dq_is_current

__all__ = ["Rule", "compute_quality", "dq_is_current", "rules"]
