"""Feeds that arrive already pseudonymised (issue 17, part 1): the supplier's pseudonym stands
where the NHS number was. Spec tests for each validation (format, a raw NHS number hiding in the
column, the same pseudonym across datasets), the warehouse's refusal to mix identity schemes,
and the guarantees every feed keeps (no raw NHS number stored, re-ingest a no-op)."""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from phm.errors import UserError
from phm.ingest.pseudonym import Pseudonymiser, PseudonymKey, classify_pseudonyms
from phm.schema import PSEUDONYM_FORMATS, IdentitySpec, load_profile
from phm.synth.config import SynthConfig
from phm.warehouse import connect, table_checksum
from phm_testing import TEST_KEY, ingest_with_key, synth

from .test_ingest import _assert_counts_equal_truth, raw_nhs_numbers_in

pytestmark = pytest.mark.xdist_group("ingest")

HEX = "A541CAF13D376B9AD1072C3096AE141CFF1E67B027CEB632D194D3C6577AB8BF"  # Open Pseudonymiser's form


@pytest.fixture(scope="module")
def pseudo_icb(tmp_path_factory):
    return synth(tmp_path_factory.mktemp("pseudo"), "--persons", "2000", "--seed", "4", "--identity", "pseudonymised")


@pytest.fixture(scope="module")
def pseudo_wh(pseudo_icb, tmp_path_factory):
    wh = tmp_path_factory.mktemp("pseudo_wh") / "w.duckdb"
    report = ingest_with_key(pseudo_icb, wh)
    assert not report.failed
    return wh, report


def _status(values, fmt="hex64"):
    cleaned, status = classify_pseudonyms(pa.array(values, pa.string()), PSEUDONYM_FORMATS[fmt],
                                          fold_case=fmt == "hex64")
    return cleaned.to_pylist(), status.to_pylist()


def test_hex64_format_case_and_space_are_presentation_only():
    cleaned, status = _status([HEX, HEX.lower(), f"  {HEX} "])
    assert status == ["valid"] * 3
    assert cleaned == [HEX] * 3


@pytest.mark.parametrize("value", [HEX[:63], HEX + "0", HEX[:-1] + "G", "not-a-pseudonym", "9990000027"])
def test_a_value_not_of_the_format_is_malformed(value):
    # 9990000027 is ten digits failing modulus 11: not an NHS number, not a pseudonym either
    assert _status([value])[1] == ["pseudonym_malformed"]


@pytest.mark.parametrize("value", [None, "", "   "])
def test_empty_is_missing(value):
    assert _status([value])[1] == ["missing"]


@pytest.mark.parametrize("value", ["9990000026", "999 000 0026", "999-000-0026", " 9990000018 "])
@pytest.mark.parametrize("fmt", ["hex64", "digits"])
def test_a_raw_nhs_number_in_the_pseudonym_column_is_caught(value, fmt):
    assert _status([value], fmt)[1] == ["raw_nhs_number"]


def test_digits_format_takes_any_length_but_ten():
    assert _status(["12345678", "123456789012", "1234567890"], "digits")[1] == [
        "valid", "valid", "pseudonym_malformed"]


@pytest.mark.parametrize(("spec", "message"), [
    ({"scheme": "pseudonym"}, "needs 'column'"),
    ({"scheme": "pseudonym", "column": "p", "format": "pattern"}, "needs 'pattern'"),
    ({"scheme": "pseudonym", "column": "p", "format": "pattern", "pattern": "[0-9]{10}"}, "ten-digit"),
    ({"scheme": "pseudonym", "column": "p", "format": "pattern", "pattern": "[0-9"}, "not a valid regular"),
    ({"scheme": "pseudonym", "column": "p", "pattern": "x"}, "only used with format 'pattern'"),
])
def test_an_identity_spec_that_cannot_work_is_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        IdentitySpec(**spec)


def test_pseudonyms_are_keyed_by_the_icb_and_apart_from_nhs_numbers():
    key = PseudonymKey(TEST_KEY.encode(), "test")
    spec = load_profile("pseudonymised").identity
    ids, status = Pseudonymiser(key, spec).pseudonymise(pa.array([HEX, HEX.lower(), "9990000026", None]))
    assert status.to_pylist() == ["valid", "valid", "raw_nhs_number", "missing"]
    assert ids.to_pylist()[0] == ids.to_pylist()[1] == key.token_digest(HEX)
    assert ids.to_pylist()[2:] == [None, None]  # a raw NHS number never becomes a person
    other = PseudonymKey(b"another-key-another-key-another-key-12", "test")
    assert other.token_digest(HEX) != key.token_digest(HEX)
    assert key.token_digest("9990000026") != key.digest("9990000026")  # the two schemes never meet


def test_synth_lifts_the_test_number_ceiling_only_for_pseudonymised_feeds(tmp_path):
    kw = dict(icb="QWU", years=1, start="2022-04", seed=1, fmt="parquet", defects="none", out=tmp_path, force=False)
    with pytest.raises(UserError, match="--identity pseudonymised"):
        SynthConfig.from_cli(persons=950_000, **kw)
    assert SynthConfig.from_cli(persons=3_000_000, identity="pseudonymised", **kw).persons == 3_000_000


def test_planted_pseudonym_defects_found_exactly_and_lowercase_links(pseudo_icb, pseudo_wh):
    wh, report = pseudo_wh
    planted = _assert_counts_equal_truth(wh, pseudo_icb)
    kinds = {k for _, k in planted}
    assert {"pseudonym_malformed", "pseudonym_raw_nhs_number", "pseudonym_lowercase", "unregistered_person"} <= kinds
    assert any("did not pseudonymise them" in n for r in report.results for n in r.notes)


def test_person_id_is_the_keyed_pseudonym_and_no_nhs_number_is_stored(pseudo_icb, pseudo_wh):
    wh, _ = pseudo_wh
    key = PseudonymKey(TEST_KEY.encode(), "test")
    feed = pq.read_table(pseudo_icb / "patients.parquet")["pseudo_nhs_number"].to_pylist()
    want = {key.token_digest(t) for t in feed if t is not None and len(t) == 64}
    leaked = [t for t in feed if t is not None and raw_nhs_numbers_in(t)]
    assert leaked  # the synthetic supplier did let NHS numbers through
    with connect(wh) as w:
        got = set(w.to_arrow("raw_patients")["person_id"].drop_null().to_pylist())
        assert got == want
        for name in w.list_tables():
            t = w.to_arrow(name)
            for col in t.column_names:
                if pa.types.is_string(t.schema.field(col).type):
                    text = "\n".join(v for v in t[col].to_pylist() if v is not None)
                    assert raw_nhs_numbers_in(text) == [], (name, col)
        meta = w.meta()
    assert meta["identity_scheme"] == "pseudonym:hex64"


def test_re_ingest_is_a_no_op(pseudo_icb, pseudo_wh):
    wh, _ = pseudo_wh
    with connect(wh) as w:
        before = table_checksum(w, "raw_apc_episodes")
    report = ingest_with_key(pseudo_icb, wh)
    assert {r.status for r in report.results} == {"unchanged"}
    with connect(wh) as w:
        assert table_checksum(w, "raw_apc_episodes") == before


def test_a_warehouse_refuses_a_second_identity_scheme(pseudo_wh, icb_small, tmp_path):
    wh, _ = pseudo_wh
    with pytest.raises(UserError, match="never mixes"):
        ingest_with_key(icb_small, wh)  # NHS-number feeds into a pseudonym warehouse
    nhs_wh = tmp_path / "nhs.duckdb"
    assert not ingest_with_key(icb_small, nhs_wh, dataset=None).failed
    with pytest.raises(UserError, match="identifies people by NHS number"):
        ingest_with_key(icb_small, nhs_wh, profile="pseudonymised")


def test_a_feed_pseudonymised_with_another_salt_is_not_loaded(pseudo_icb, pseudo_wh, tmp_path):
    wh, _ = pseudo_wh
    src = tmp_path / "other"
    src.mkdir()
    t = pq.read_table(pseudo_icb / "op_attendances.parquet")
    other = [None if v is None else hashlib.sha256(v.encode()).hexdigest().upper() for v in t["pseudo_nhs_number"].to_pylist()]
    t = t.set_column(t.column_names.index("pseudo_nhs_number"), "pseudo_nhs_number", pa.array(other, pa.string()))
    pq.write_table(t, src / "op_attendances_other_dscro.parquet")
    (src / "manifest.json").write_text(json.dumps(json.loads((pseudo_icb / "manifest.json").read_text())))
    with connect(wh) as w:
        before = table_checksum(w, "raw_op_attendances")
    report = ingest_with_key(src, wh)
    [r] = report.results
    assert r.status == "failed"
    assert "0.0% of its" in r.error and "different key or salt" in r.error
    with connect(wh) as w:
        assert table_checksum(w, "raw_op_attendances") == before  # nothing of it was loaded
