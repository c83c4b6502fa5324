"""The approval console (`shipyard serve`): a web page for the human at the gates.

`create_app(repos, token=...)` builds the FastAPI app; nothing starts at import.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
