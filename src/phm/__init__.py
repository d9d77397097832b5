"""phm: population health management for an NHS integrated care board.

Layers (see docs/architecture.md): codes → refdata → schema → synth/ingest →
warehouse → model/indicators/finance → disclosure → web/cli.
"""

__version__ = "0.1.0"
