"""A README edit applied to the base's wheel: its METADATA description, nothing else.

A backend writes the project's README into the wheel once, as the body of METADATA (after
the headers' blank line), so a commit that edits only the README (crashtest 8435ee7f) made
the check build the wheel again for a file no module reads. Where the base wheel's body is
the base's README as it is in git — plus the newline a backend adds, poetry-core always,
setuptools when it is missing — the head's wheel is the base's with the head's README in
that place and the same suffix. Anything else is built as before: a body that is not the
README verbatim (a readme assembled from several files, substituted, or escaped into a
header), a README whose last newline comes or goes (the backends differ there), or a
generated member of the wheel that carries the README's text.
"""

from __future__ import annotations

__all__ = ["README_NAMES", "described", "is_readme"]

README_NAMES = ("readme",)  # README, README.md, README.rst, readme.txt: at the top


def is_readme(path: str) -> bool:
    """A top-level README file (the file `[project] readme` names, by convention)."""
    return "/" not in path and path.lower().startswith(README_NAMES)


def described(meta: str, old: str, new: str) -> str | None:
    """METADATA `meta` with its description `old` (the base's README) replaced by `new`;
    None when the body is not `old` as a backend writes it, or when where the two end
    differs (a trailing newline the backends treat differently)."""
    headers, sep, body = meta.partition("\n\n")
    if not sep or not old.strip() or old.endswith("\n") != new.endswith("\n"):
        return None
    suffix = body[len(old):] if body.startswith(old) else None
    if suffix not in ("", "\n"):
        return None
    return f"{headers}\n\n{new}{suffix}"
