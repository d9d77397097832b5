"""Keyed pseudonymisation of the NHS number (governance.md, "Pseudonymisation").

``person_id`` is the first 64 bits of HMAC-SHA256(key, cleaned NHS number), read as a
signed integer. Only numbers that pass validation get one: a missing, malformed,
repeated-digit or wrong-check-digit number gets ``person_id`` null and a status.

Why 64 bits: a BIGINT joins far faster than a 64-character string across 100 million
activity rows. HMAC truncation is allowed by RFC 2104 §5; the risk that matters here is
two people sharing an identifier, which for n people is about n²/2⁶⁵ (3×10⁻⁸ for a
million). Ingest checks every run's numbers for such a collision and stops if one occurs.

A feed that arrives already pseudonymised (the supplier put its own pseudonym where the NHS
number was; see ``phm.schema.IdentitySpec`` and docs/ingest.md) is keyed the same way, on a
labelled input: ``person_id`` = HMAC-SHA256(key, label + pseudonym). A value of the wrong form,
or a raw NHS number the supplier failed to pseudonymise, gets no ``person_id``, only a status.

The key is read from a key file or ``PHM_PSEUDO_KEY``; it is never written to the
warehouse or logs. The warehouse records only a *key identifier* (an HMAC of a fixed
label), which versions the pseudonyms and detects a changed key without revealing it.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from phm.codes import valid_nhs_number_array
from phm.errors import UserError

KEY_ENV = "PHM_PSEUDO_KEY"
MIN_KEY_CHARS = 32
_KEY_ID_LABEL = b"phm pseudonym key identifier v1"

STATUSES = ("valid", "missing", "malformed", "scientific_notation", "repeated_digits", "invalid_check_digit")
# a source that arrives already pseudonymised (see phm.schema.IdentitySpec)
PSEUDONYM_STATUSES = ("valid", "missing", "pseudonym_malformed", "raw_nhs_number")
_TOKEN_LABEL = b"phm supplier pseudonym v1\x00"  # keeps the two schemes' inputs apart


class PseudonymKey:
    """A data controller's secret. ``repr`` and ``str`` never show it."""

    def __init__(self, secret: bytes, origin: str) -> None:
        if len(secret) < MIN_KEY_CHARS:
            raise UserError(f"the pseudonymisation key from {origin} is too short: use at least "
                            f"{MIN_KEY_CHARS} random characters (e.g. `openssl rand -hex 32`)")
        self._secret = secret
        self.origin = origin
        self.key_id = hmac.new(secret, _KEY_ID_LABEL, "sha256").hexdigest()[:16]

    def __repr__(self) -> str:
        return f"PseudonymKey(id={self.key_id}, from {self.origin})"

    __str__ = __repr__

    def digest(self, nhs_number: str) -> int:
        d = hmac.digest(self._secret, nhs_number.encode("ascii"), "sha256")
        return int.from_bytes(d[:8], "big", signed=True)

    def token_digest(self, pseudonym: str) -> int:
        """``person_id`` of a supplier's pseudonym: the same keyed scheme, on a labelled input,
        so the ICB's own key still stands between the warehouse and the supplier's token."""
        d = hmac.digest(self._secret, _TOKEN_LABEL + pseudonym.encode("utf-8"), "sha256")
        return int.from_bytes(d[:8], "big", signed=True)


def demo_key_path() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return Path(os.environ.get("PHM_DEMO_KEY_FILE", base / "phm" / "demo-pseudonym.key"))


def load_key(key_file: Path | None = None, *, demo: bool = False) -> PseudonymKey:
    """The key from ``key_file``, else ``$PHM_PSEUDO_KEY``, else (``demo`` only) a generated
    demo key kept in the user's config folder, never in the warehouse."""
    if key_file is not None:
        try:
            secret = Path(key_file).read_bytes().strip()
        except OSError as e:
            raise UserError(f"cannot read key file {key_file}: {e.strerror}") from None
        return PseudonymKey(secret, f"key file {key_file}")
    env = os.environ.get(KEY_ENV)
    if env:
        return PseudonymKey(env.strip().encode(), f"${KEY_ENV}")
    if demo:
        path = demo_key_path()
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        return PseudonymKey(path.read_bytes().strip(), f"demo key file {path}")
    raise UserError(f"no pseudonymisation key: give --key-file FILE or set ${KEY_ENV} "
                    "(or use --demo for synthetic data only)")


_SCI = r"^[0-9](\.[0-9]+)?[eE]\+?[0-9]+$"


def classify(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Clean NHS numbers (surrounding space, inner spaces and hyphens removed) and their
    status, vectorised. Clean input (ten bare digits) takes a fast path with no regex."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    # ten bytes that are all digits: ASCII 0-9 only (other scripts' digits take more bytes)
    ten = pc.fill_null(pc.and_(pc.equal(pc.binary_length(values), 10), pc.utf8_is_digit(values)), False)
    if not pc.all(pc.or_(ten, pc.is_null(values))).as_py():
        cleaned = pc.replace_substring_regex(pc.utf8_trim_whitespace(values), r"[\s-]", "")
        values = pc.if_else(pc.equal(cleaned, ""), pa.scalar(None, pa.string()), cleaned)
        ten = pc.fill_null(pc.and_(pc.equal(pc.binary_length(values), 10), pc.utf8_is_digit(values)), False)
    cleaned = values
    n = len(cleaned)
    missing = pc.is_null(cleaned).to_numpy(zero_copy_only=False)
    ten_np = ten.to_numpy(zero_copy_only=False)
    as_int = pc.cast(pc.if_else(ten, cleaned, pa.scalar("0")), pa.int64()).to_numpy(zero_copy_only=False)
    valid = ten_np & valid_nhs_number_array(as_int)
    if not valid.all():
        odd = ~valid & ~missing & ~ten_np
        sci = np.zeros(n, bool)
        if odd.any():
            sci = pc.fill_null(pc.match_substring_regex(cleaned, _SCI), False).to_numpy(zero_copy_only=False)
        repeated = ten_np & (as_int % 1111111111 == 0)
        codes = np.zeros(n, np.int8)  # index into STATUSES
        codes[~missing] = STATUSES.index("malformed")
        codes[sci] = STATUSES.index("scientific_notation")
        codes[ten_np & ~valid] = STATUSES.index("invalid_check_digit")
        codes[repeated] = STATUSES.index("repeated_digits")
        codes[valid] = STATUSES.index("valid")
        codes[missing] = STATUSES.index("missing")
        status_arr = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(STATUSES)).cast(pa.string())
        return cleaned, status_arr
    return cleaned, constant(STATUSES[0], n)


def constant(value: str, n: int) -> pa.Array:
    """A string array of ``n`` copies of ``value``, built without Python objects per row."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int8)), pa.array([value])).cast(pa.string())


def classify_pseudonyms(values: pa.Array, regex: str, *, fold_case: bool) -> tuple[pa.Array, pa.Array]:
    """Clean supplier pseudonyms (trimmed; upper-cased when case is presentation only) and
    their status: ``valid`` when the whole value matches the format, ``raw_nhs_number`` when it
    is a valid NHS number (the supplier's pseudonymisation failed for that record; it is never
    turned into a person), ``missing`` or ``pseudonym_malformed``."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    cleaned = pc.utf8_trim_whitespace(values)
    if fold_case:
        cleaned = pc.utf8_upper(cleaned)
    cleaned = pc.if_else(pc.equal(cleaned, ""), pa.scalar(None, pa.string()), cleaned)
    fits = pc.fill_null(pc.match_substring_regex(cleaned, f"^(?:{regex})$"), False).to_numpy(zero_copy_only=False)
    _, nhs_status = classify(cleaned)
    raw = pc.equal(nhs_status, "valid").to_numpy(zero_copy_only=False)
    missing = pc.is_null(cleaned).to_numpy(zero_copy_only=False)
    codes = np.full(len(cleaned), PSEUDONYM_STATUSES.index("pseudonym_malformed"), np.int8)
    codes[fits] = PSEUDONYM_STATUSES.index("valid")
    codes[raw] = PSEUDONYM_STATUSES.index("raw_nhs_number")
    codes[missing] = PSEUDONYM_STATUSES.index("missing")
    status = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(PSEUDONYM_STATUSES)).cast(pa.string())
    return cleaned, status


class Pseudonymiser:
    """Maps valid cleaned NHS numbers (or, for an already pseudonymised source, valid supplier
    pseudonyms) to person_id, caching across a run, checking for collisions."""

    def __init__(self, key: PseudonymKey, identity=None) -> None:
        self.key = key
        self.identity = identity  # a phm.schema.IdentitySpec, or None for NHS numbers
        self._tokens = identity is not None and identity.scheme == "pseudonym"
        self._digest = key.token_digest if self._tokens else key.digest
        self._cache: dict[str, int] = {}
        self._seen_ids: set[int] = set()

    def pseudonymise(self, values: pa.Array) -> tuple[pa.Array, pa.Array]:
        """``(person_id, nhs_number_status)`` of raw NHS numbers. Each distinct value is
        cleaned, classified and keyed once (a GP or prescribing extract repeats each person's
        number many times), then the results are spread back to the rows."""
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        enc = pc.dictionary_encode(values)
        if self._tokens:
            cleaned, status = classify_pseudonyms(enc.dictionary, self.identity.regex,
                                                  fold_case=self.identity.format == "hex64")
        else:
            cleaned, status = classify(enc.dictionary)
        ids = self.person_ids(cleaned, status)
        status = pc.fill_null(pc.take(status, enc.indices), "missing")  # a null index: no value
        return pc.take(ids, enc.indices), status

    def person_ids(self, cleaned: pa.Array, status: pa.Array) -> pa.Array:
        valid = pc.equal(status, "valid")
        keep = pc.if_else(valid, cleaned, pa.scalar(None, pa.string()))
        enc = pc.dictionary_encode(keep).combine_chunks() if isinstance(keep, pa.ChunkedArray) else pc.dictionary_encode(keep)
        words = enc.dictionary.to_pylist()
        ids = np.empty(len(words), dtype=np.int64)
        cache = self._cache
        for i, w in enumerate(words):
            pid = cache.get(w)
            if pid is None:
                pid = self._digest(w)
                if pid in self._seen_ids:
                    what = "pseudonyms" if self._tokens else "NHS numbers"
                    raise UserError(f"two different {what} gave the same person_id; this is astronomically "
                                    "rare - rotate the key and re-ingest into a new warehouse")
                self._seen_ids.add(pid)
                cache[w] = pid
            ids[i] = pid
        return pc.take(pa.array(ids, pa.int64()), enc.indices)
