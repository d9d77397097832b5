"""phm: population health management for an NHS integrated care board.

Layers (see docs/architecture.md): codes → refdata → schema → synth/ingest →
warehouse → model/indicators/finance → disclosure → web/cli.
"""

__version__ = "0.1.0"


def connect(path_or_url, backend=None):
    """Open a built warehouse; its marts are Ibis tables (see :mod:`phm.api`)."""
    from phm.api import connect as _connect

    return _connect(path_or_url, backend=backend)
