"""The synthetic ICB: realistic, linked, NHS-shaped data with planted truth.

No real patient data is used anywhere. See ``docs/synthetic-icb.md``.
"""
