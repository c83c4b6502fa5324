"""textkit: small, dependency-free helpers for text and numbers."""

from textkit.numbers import clamp, mean, percent
from textkit.strings import count_words, normalize_whitespace, truncate

__all__ = [
    "clamp",
    "count_words",
    "mean",
    "normalize_whitespace",
    "percent",
    "truncate",
]
__version__ = "0.1.0"
