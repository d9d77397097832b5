"""Per-ICB slices and ICB code validation."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

import phm.refdata as refdata
from phm.errors import InputError


def test_known_icb_codes():
    codes = refdata.known_icb_codes()
    assert len(codes) == 42
    assert "QWU" in codes
    assert refdata.icbs().num_rows == 42


def test_qwu_lsoas():
    table = refdata.icb_lsoas("QWU")
    assert table.num_rows == 557
    assert table.column_names == [
        "lsoa21_code",
        "lsoa21_name",
        "sicbl24_code",
        "sicbl24_code_nhs",
        "sicbl24_name",
        "ltla24_code",
        "ltla24_name",
        "imd_rank",
        "imd_decile",
        "imd_score",
        "population",
    ]
    for col in table.column_names:
        assert table[col].null_count == 0, col
    assert set(table["ltla24_name"].to_pylist()) >= {"Coventry", "Warwick"}
    assert refdata.icb_lsoas(" qwu ") is table  # normalised, cached


def test_qwu_practices():
    table = refdata.icb_practices("QWU")
    assert table.num_rows == 120
    assert table.schema == refdata.practices().schema
    assert table["pcn_code"].null_count == 0  # every QWU practice is in the 2023-24 structures
    assert pc.all(pc.equal(table["icb_code"], "QWU")).as_py()


@pytest.mark.parametrize("bad", ["QXX", "", "E54000018", None, 42])
@pytest.mark.parametrize("fn", [refdata.icb_lsoas, refdata.icb_practices])
def test_unknown_icb_raises_input_error(fn, bad):
    with pytest.raises(InputError) as err:
        fn(bad)
    message = str(err.value)
    assert f"unknown ICB code {bad!r}" in message
    assert "QWU (NHS Coventry and Warwickshire ICB)" in message
    assert "phm refdata icbs" in message


def test_ons_code_gets_a_hint():
    with pytest.raises(InputError, match=r"E54000018 is the ONS code of QWU"):
        refdata.check_icb("E54000018")
