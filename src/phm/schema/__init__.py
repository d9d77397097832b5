"""Dataset contracts and source profiles.

A *contract* (``contracts.yaml``) says what phm expects of each canonical dataset:
columns, types, which values are required, allowed codes, the natural key and who
submits it. A *profile* maps a source's own column names onto a contract (``hes``
maps ``ADMIDATE`` to ``admission_date``); users write their own in YAML.

Both are data, validated by pydantic on load, so a mistake in a user's profile is
a one-line error naming the file and the key, not a traceback.
"""

from __future__ import annotations

import fnmatch
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from phm.errors import UserError

__all__ = [
    "SCHEMA_VERSION",
    "ColumnSpec",
    "Contract",
    "DatasetProfile",
    "IdentitySpec",
    "Profile",
    "contract",
    "contracts",
    "data_dictionary_markdown",
    "dataset_names",
    "load_profile",
    "profile_names",
    "raw_schema",
]

ColumnType = Literal["string", "date", "timestamp", "integer", "number", "boolean", "nhs_number"]
Refset = Literal["icd10", "opcs4", "bnf", "snomed", "lsoa21"]

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(), "date": pa.date32(), "timestamp": pa.timestamp("us"),
    "integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_(),
}
# Columns every raw_* table carries besides the contract's own (the NHS number is replaced).
PROVENANCE_FIELDS = [
    pa.field("person_id", pa.int64()),          # keyed pseudonym; null when the NHS number is not valid
    pa.field("nhs_number_status", pa.string()),  # see phm.ingest.pseudonym.STATUSES
    pa.field("_source", pa.string()),            # the source name recorded in the load ledger
    pa.field("_line", pa.int64()),               # CSV: physical line the record starts on; parquet/database: row number from 1
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    name: str = ""
    type: ColumnType
    required: bool = False
    description: str
    codes: tuple[str, ...] | None = None
    refset: Refset | None = None
    pattern: str | None = None
    not_future: bool = False

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES["string" if self.type == "nhs_number" else self.type]

    def check_pattern(self) -> None:
        if self.pattern:
            re.compile(self.pattern)


class Contract(_Strict):
    name: str = ""
    description: str
    submitter: str | None = None
    default_submitter: str | None = None
    record_id: str | None = None
    activity_date: str
    natural_key: tuple[str, ...] = ()
    columns: dict[str, ColumnSpec]

    @model_validator(mode="after")
    def _refer_to_columns(self) -> Contract:
        for what in ("submitter", "record_id", "activity_date"):
            col = getattr(self, what)
            if col is not None and col not in self.columns:
                raise ValueError(f"{what} {col!r} is not a column")
        for col in self.natural_key:
            if col not in self.columns:
                raise ValueError(f"natural key column {col!r} is not a column")
        return self

    @property
    def column_names(self) -> list[str]:
        return list(self.columns)

    @property
    def has_nhs_number(self) -> bool:
        return any(c.type == "nhs_number" for c in self.columns.values())

    def raw_column(self, name: str) -> str:
        """The warehouse column holding contract column ``name`` (the NHS number becomes person_id)."""
        return "person_id" if self.columns[name].type == "nhs_number" else name


class _ContractFile(_Strict):
    schema_version: str
    datasets: dict[str, Contract]


@cache
def _contract_file() -> _ContractFile:
    text = resources.files("phm.schema").joinpath("contracts.yaml").read_text(encoding="utf-8")
    parsed = _ContractFile.model_validate(yaml.safe_load(text))
    datasets = {}
    for name, c in parsed.datasets.items():
        cols = {k: v.model_copy(update={"name": k}) for k, v in c.columns.items()}
        for col in cols.values():
            col.check_pattern()
        datasets[name] = c.model_copy(update={"name": name, "columns": cols})
    return _ContractFile(schema_version=parsed.schema_version, datasets=datasets)


SCHEMA_VERSION: str = _contract_file().schema_version


def contracts() -> dict[str, Contract]:
    """Every canonical dataset's contract, in load order (patients first, deaths last)."""
    return dict(_contract_file().datasets)


def dataset_names() -> list[str]:
    return list(_contract_file().datasets)


def contract(name: str) -> Contract:
    try:
        return _contract_file().datasets[name]
    except KeyError:
        raise UserError(f"unknown dataset {name!r}; phm knows: {', '.join(dataset_names())}") from None


def raw_schema(name: str) -> pa.Schema:
    """Arrow schema of the warehouse table ``raw_<name>``: contract columns, typed, then provenance."""
    c = contract(name)
    fields = [pa.field(col.name, col.arrow_type) for col in c.columns.values() if col.type != "nhs_number"]
    return pa.schema(fields + PROVENANCE_FIELDS)


# -- profiles --------------------------------------------------------------------------------


class DatasetProfile(_Strict):
    files: tuple[str, ...] = ()
    table: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    date_format: str | None = None
    timestamp_format: str | None = None


PSEUDONYM_FORMATS = {
    # Open Pseudonymiser and most SHA-256 tokenisers write 64 hexadecimal characters; case is
    # presentation only (one system writes A541CA..., another a541ca...), so it is folded.
    "hex64": r"[0-9A-F]{64}",
    # a numeric token (as in NHS England's Der_Pseudo_NHS_Number); never ten digits, see below
    "digits": r"[0-9]{1,9}|[0-9]{11,19}",
}


class IdentitySpec(_Strict):
    """How a source identifies people: by NHS number (phm pseudonymises it) or by a pseudonym
    the supplier already put in its place (the data services for commissioners replace the NHS
    number with a pseudonym that is the same across datasets for one recipient).

    ``format`` is ``hex64``, ``digits`` or ``pattern`` (then ``pattern`` is a regular
    expression the whole value must match). A ten-digit numeric pseudonym is refused: it could
    not be told from an NHS number, and phm must catch a raw NHS number in the column.
    ``min_match`` is the share of a non-patients file's distinct pseudonyms that must be on the
    patients list; below it the file was pseudonymised differently and is not loaded.
    """

    scheme: Literal["nhs_number", "pseudonym"] = "nhs_number"
    column: str | None = None
    format: Literal["hex64", "digits", "pattern"] = "hex64"
    pattern: str | None = None
    min_match: float = Field(0.5, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _complete(self) -> IdentitySpec:
        if self.scheme == "pseudonym" and not self.column:
            raise ValueError("a pseudonym identity needs 'column' (the source column holding the pseudonym)")
        if self.format == "pattern":
            if not self.pattern:
                raise ValueError("format 'pattern' needs 'pattern' (a regular expression)")
            try:
                rx = re.compile(self.pattern)
            except re.error as e:
                raise ValueError(f"pattern is not a valid regular expression: {e}") from None
            if rx.fullmatch("9990000026"):
                raise ValueError("pattern accepts ten-digit values, which cannot be told from NHS numbers")
        elif self.pattern is not None:
            raise ValueError(f"'pattern' is only used with format 'pattern', not {self.format!r}")
        return self

    @property
    def label(self) -> str:
        """What the warehouse records: two labels differ exactly when schemes may not mix."""
        if self.scheme == "nhs_number":
            return "nhs_number"
        return f"pseudonym:{self.format}" + (f":{self.pattern}" if self.pattern else "")

    @property
    def regex(self) -> str:
        return self.pattern if self.format == "pattern" else PSEUDONYM_FORMATS[self.format]


class Profile(_Strict):
    name: str
    description: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    date_format: str | None = None
    identity: IdentitySpec = Field(default_factory=IdentitySpec)
    datasets: dict[str, DatasetProfile] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_names(self) -> Profile:
        known = _contract_file().datasets
        for ds, dp in self.datasets.items():
            if ds not in known:
                raise ValueError(f"dataset {ds!r} is not a phm dataset (known: {', '.join(known)})")
            for col in dp.columns:
                if col not in known[ds].columns:
                    raise ValueError(f"{ds}: {col!r} is not a column of the contract "
                                     f"(columns: {', '.join(known[ds].columns)})")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise ValueError("delimiter must be one character")
        return self

    def source_column(self, dataset: str, column: str) -> str:
        dp = self.datasets.get(dataset)
        if dp and column in dp.columns:
            return dp.columns[column]
        if self.identity.scheme == "pseudonym" and contract(dataset).columns[column].type == "nhs_number":
            return self.identity.column
        return column

    def date_format_for(self, dataset: str) -> str | None:
        dp = self.datasets.get(dataset)
        return (dp.date_format if dp and dp.date_format else None) or self.date_format

    def timestamp_format_for(self, dataset: str) -> str | None:
        dp = self.datasets.get(dataset)
        return dp.timestamp_format if dp else None

    def dataset_for_file(self, filename: str) -> str | None:
        """Which dataset a file holds: the profile's patterns first, then the canonical name rule."""
        for ds, dp in self.datasets.items():
            if any(fnmatch.fnmatch(filename, pat) for pat in dp.files):
                return ds
        stem = filename.split(".", 1)[0]
        names = sorted(_contract_file().datasets, key=len, reverse=True)
        for ds in names:  # 'apc_episodes.csv', 'apc_episodes_2024-05.csv.gz'
            if stem == ds or stem.startswith(ds + "_") or stem.startswith(ds + "-"):
                return ds
        return None


def profile_names() -> list[str]:
    d = resources.files("phm.schema").joinpath("profiles")
    return sorted(p.name.removesuffix(".yaml") for p in d.iterdir() if p.name.endswith(".yaml"))


def load_profile(name_or_path: str | Path | None) -> Profile:
    """A shipped profile by name (``canonical``, ``hes``) or a user's YAML file."""
    if name_or_path is None:
        name_or_path = "canonical"
    path = Path(name_or_path)
    if str(name_or_path) in profile_names():
        text = resources.files("phm.schema").joinpath("profiles", f"{name_or_path}.yaml").read_text(encoding="utf-8")
        where = f"profile {name_or_path!r}"
    elif path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise UserError(f"profile file {path} does not exist")
        text = path.read_text(encoding="utf-8")
        where = f"profile file {path}"
    else:
        raise UserError(f"unknown profile {str(name_or_path)!r}: give one of {', '.join(profile_names())} "
                        f"or a .yaml file")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise UserError(f"{where} is not valid YAML{at}: {problem}") from None
    if not isinstance(data, dict):
        raise UserError(f"{where} must be a mapping with at least 'name:'")
    try:
        return Profile.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(x) for x in first["loc"]) or "(top level)"
        raise UserError(f"{where}: {loc}: {first['msg']}") from None


# -- documentation -----------------------------------------------------------------------------


def data_dictionary_markdown() -> str:
    """The data-dictionary page (docs/data-dictionary.md) generated from the contracts."""
    lines = [
        "# Data dictionary: the canonical datasets phm ingests",
        "",
        "Generated from `src/phm/schema/contracts.yaml` by `phm schema docs`; a test keeps it in step.",
        f"Schema version {SCHEMA_VERSION}.",
        "",
        "Every warehouse table `raw_<dataset>` holds these columns, typed, except that the NHS number",
        "is replaced by `person_id` (keyed pseudonym, null unless the number is valid) and",
        "`nhs_number_status`; `_source` and `_line` say where each row came from.",
        "",
        "A value that cannot be read as its type, or a missing required value, sends the row to",
        "`quarantine` with a reason. Codes, code lists and patterns are data-quality checks: the row",
        "loads and the data-quality report counts it.",
        "",
    ]
    for name, c in contracts().items():
        lines += [f"## {name}", "", c.description, ""]
        meta = []
        if c.submitter:
            meta.append(f"submitted by `{c.submitter}`")
        elif c.default_submitter:
            meta.append(f"submitted by {c.default_submitter}")
        if c.record_id:
            meta.append(f"record identifier `{c.record_id}`")
        if c.natural_key:
            meta.append("natural key (" + ", ".join(f"`{k}`" for k in c.natural_key) + ")")
        meta.append(f"activity date `{c.activity_date}`")
        text = "; ".join(meta)
        lines += [text[0].upper() + text[1:] + ".", ""]
        lines += ["| column | type | required | check | description |", "|---|---|---|---|---|"]
        for col in c.columns.values():
            check = []
            if col.codes:
                check.append("one of " + ", ".join(f"`{v}`" for v in col.codes))
            if col.refset:
                check.append(f"in {col.refset}")
            if col.pattern:
                check.append(f"matches `{col.pattern}`")
            if col.not_future:
                check.append("not after the extract date")
            lines.append(f"| `{col.name}` | {col.type} | {'yes' if col.required else ''} | "
                         f"{'; '.join(check)} | {col.description} |")
        lines.append("")
    lines += ["## Source profiles", "",
              "A profile maps a source's column names onto the contracts. Shipped: "
              + ", ".join(f"`{p}`" for p in profile_names()) + ". Write your own in YAML:", "",
              "```yaml", "name: my_trust", "encoding: cp1252        # optional; otherwise sniffed",
              "delimiter: '|'          # optional; otherwise sniffed", "date_format: '%d/%m/%Y' # optional; otherwise ISO 8601",
              "identity:               # optional; for feeds already pseudonymised (docs/ingest.md)",
              "  scheme: pseudonym     # default nhs_number", "  column: PSEUDO_ID     # in every dataset",
              "  format: hex64         # hex64 | digits | pattern",
              "datasets:", "  apc_episodes:", "    files: ['APC_*.csv']", "    columns:",
              "      admission_date: ADMIDATE", "      nhs_number: NHSNO", "```", ""]
    return "\n".join(lines)
