"""Ingest: read, validate, pseudonymise, quarantine and load sources into the warehouse."""

from phm.ingest.pseudonym import PseudonymKey, load_key
from phm.ingest.readers import BadFile
from phm.ingest.run import IngestReport, SourceResult, ingest

__all__ = ["BadFile", "IngestReport", "PseudonymKey", "SourceResult", "ingest", "load_key"]
