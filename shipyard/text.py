"""What a person types into shipyard: a feature request, a comment, a name.

Checked before anything is recorded or the repository is touched, so bad input is a
clear error naming the fix, never a half-started run.
"""

from __future__ import annotations

from .errors import FeatureTextError

__all__ = ["MAX_FEATURE_CHARS", "validate_feature", "validate_text"]

MAX_FEATURE_CHARS = 8_000  # a request longer than this belongs in a file the request names


def validate_text(text: str, what: str) -> str:
    """Plain text only: valid Unicode, no control characters but tab and newline."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise FeatureTextError(f"the {what} is not valid UTF-8 text; pass plain text "
                               f"(check the file's or terminal's encoding).") from None
    bad = sorted({f"U+{ord(c):04X}" for c in text if ord(c) < 32 and c not in "\t\n\r"
                  or 0x7F <= ord(c) < 0xA0})
    if bad:
        raise FeatureTextError(f"the {what} contains control characters ({', '.join(bad[:5])}); "
                               f"pass plain text.")
    return text


def validate_feature(text: str) -> str:
    """The feature request, stripped: plain text, not empty, at most MAX_FEATURE_CHARS."""
    feature = validate_text((text or "").strip(), "feature text")
    if not feature:
        raise FeatureTextError("the feature text is empty; describe the change, e.g. "
                               "run-feature \"Add a slugify() helper\" --repo .")
    if len(feature) > MAX_FEATURE_CHARS:
        raise FeatureTextError(
            f"the feature text is {len(feature):,} characters; the limit is "
            f"{MAX_FEATURE_CHARS:,}. Put the details in a file in the repository and "
            f"reference it in a short request.")
    return feature
