"""The local Spark session's configuration (phm.warehouse.spark)."""

from __future__ import annotations

import os

from phm.warehouse import spark


def test_driver_memory_is_45_percent_of_the_machine_between_4_and_16_gb(monkeypatch):
    page = 4096
    for gb, want in ((8, "4g"), (24, "10g"), (64, "16g")):
        monkeypatch.setattr(os, "sysconf", lambda name, gb=gb: page if name == "SC_PAGE_SIZE" else gb * 2**30 // page)
        assert spark.driver_memory() == want


def test_driver_memory_falls_back_to_4_gb_where_the_machine_cannot_say(monkeypatch):
    def no_sysconf(name):
        raise ValueError(name)

    monkeypatch.setattr(os, "sysconf", no_sysconf)
    assert spark.driver_memory() == "4g"
