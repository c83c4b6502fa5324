"""Text helpers."""

from __future__ import annotations


def normalize_whitespace(text: str) -> str:
    """Collapse every run of whitespace to one space and trim both ends.

    >>> normalize_whitespace("  a \\n\\t b  ")
    'a b'
    """
    return " ".join(text.split())


def truncate(text: str, width: int, suffix: str = "...") -> str:
    """Shorten `text` to at most `width` characters, ending with `suffix` if cut.

    Cuts at the last space before the limit when there is one, so words stay whole.
    """
    if width < len(suffix):
        raise ValueError(f"width must be at least {len(suffix)} (the suffix length)")
    if len(text) <= width:
        return text
    cut = text[: width - len(suffix)]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip() + suffix


def count_words(text: str) -> int:
    """Number of whitespace-separated words in `text`."""
    return len(text.split())
