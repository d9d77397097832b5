"""``python -m phm.indicators``: print docs/indicators.md."""

from phm.indicators import indicators_markdown

print(indicators_markdown(), end="")
