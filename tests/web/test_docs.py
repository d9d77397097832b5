"""docs/web.md documents every dataset, column and page the dashboard serves."""

from __future__ import annotations

from pathlib import Path

from phm.web.datasets import datasets_markdown
from phm.web.pages import NAV

DOC = Path(__file__).resolve().parents[2] / "docs" / "web.md"


def test_dataset_reference_is_current():
    text = DOC.read_text(encoding="utf-8")
    assert text.endswith(datasets_markdown()), "regenerate the Datasets section of docs/web.md"


def test_every_page_is_documented():
    text = DOC.read_text(encoding="utf-8")
    for path, label, _roles in NAV:
        assert f"`{path}" in text and label in text, path
