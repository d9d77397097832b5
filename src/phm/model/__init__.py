"""The linked population model: pure Ibis transforms from the ``raw_*`` tables to the marts.

- :mod:`.person`: the spine, one row per registered person (including people with no activity);
- :mod:`.spells`: provider spells and continuous inpatient spells from APC episodes;
- :mod:`.activity`: one costed row per contact in every setting, with a programme of care;
- :mod:`.person_year`: one row per person per financial year: conditions, comorbidity,
  segment, activity and cost by setting and programme, High Resource Individual flag.

Every function here takes and returns Ibis expressions; reading and writing happen in
:mod:`phm.build`. The same expressions run on DuckDB and Spark.
"""
