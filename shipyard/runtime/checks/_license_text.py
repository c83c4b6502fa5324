"""Identify a license by its text: what to do when a package's `License` field is the whole file.

Real packages put their full LICENSE into the `License` metadata field. Such
text is no SPDX expression (and license-expression's parser can crash on it),
but the common licenses are recognised by phrases that only they contain. Each
rule lists phrases that must all occur and phrases that must not (the LGPL
quotes the GPL's name; 0BSD is ISC without the notice clause).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["identify_text", "looks_like_text"]


@dataclass(frozen=True, kw_only=True, slots=True)
class _Rule:
    spdx: str
    all_of: tuple[str, ...]
    none_of: tuple[str, ...] = ()


_MIT = "permission is hereby granted free of charge to any person obtaining a copy"
_UNLICENSE = "this is free and unencumbered software released into the public domain"
_ISC = "permission to use copy modify and or distribute this software for any purpose"
_BSD = "redistribution and use in source and binary forms with or without modification"
_ENDORSE = "endorse or promote products derived from this software"
# Order matters only for readability: every matching rule is reported.
_RULES = (
    _Rule(spdx="MIT", all_of=(_MIT,)),
    _Rule(spdx="BSD-3-Clause", all_of=(_BSD, _ENDORSE)),
    _Rule(spdx="BSD-2-Clause", all_of=(_BSD,), none_of=(_ENDORSE,)),
    _Rule(spdx="Apache-2.0", all_of=("apache license", "version 2 0")),
    _Rule(spdx="ISC", all_of=(_ISC, "provided that the above copyright notice")),
    _Rule(spdx="0BSD", all_of=(_ISC,), none_of=("provided that the above copyright notice",)),
    _Rule(spdx="MPL-2.0", all_of=("mozilla public license", "2 0")),
    _Rule(spdx="PSF-2.0", all_of=("python software foundation", "license agreement")),
    _Rule(spdx="Unlicense", all_of=(_UNLICENSE,)),
    _Rule(spdx="Zlib", all_of=("altered source versions must be plainly marked as such",)),
    _Rule(spdx="AGPL-3.0", all_of=("gnu affero general public license",)),
    _Rule(spdx="LGPL-3.0", all_of=("gnu lesser general public license", "version 3")),
    _Rule(spdx="LGPL-2.1", all_of=("gnu lesser general public license", "version 2 1")),
    _Rule(spdx="LGPL-2.0", all_of=("gnu library general public license",)),
    _Rule(spdx="GPL-3.0", all_of=("gnu general public license", "version 3"),
          none_of=("gnu lesser general public license", "gnu affero general public license",
                   "gnu library general public license")),
    _Rule(spdx="GPL-2.0", all_of=("gnu general public license", "version 2"),
          none_of=("gnu lesser general public license", "gnu library general public license",
                   "version 3")),
)
_VERSIONED = ("AGPL-", "LGPL-", "GPL-")
_LATER = "or at your option any later version"
_FULL_TERMS = "terms and conditions for copying distribution and modification"


def looks_like_text(raw: str) -> bool:
    """A license *text* rather than a name: long, or several lines."""
    return len(raw) > 120 or raw.count("\n") >= 2


def _normalise(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9]+", " ", text.lower()).strip() + " "


def identify_text(raw: str) -> str | None:
    """The SPDX expression of a license text (`A AND B` when it holds two), or None."""
    text = _normalise(raw)
    found = [r.spdx for r in _RULES
             if all(p in text for p in r.all_of) and not any(p in text for p in r.none_of)]
    if not found:
        return None
    return " AND ".join(_gpl_suffix(spdx, text) for spdx in found)


def _gpl_suffix(spdx: str, text: str) -> str:
    """GPL-family ids need -only / -or-later. A bare notice saying "any later version" is
    -or-later; the full license text (which quotes that phrase in its appendix) is -only."""
    if not spdx.startswith(_VERSIONED):
        return spdx
    later = _LATER in text and _FULL_TERMS not in text
    return f"{spdx}-or-later" if later else f"{spdx}-only"
