"""Server-side rendering: Jinja templates, Markdown, highlighted diffs, and redaction.

Markdown is rendered with raw HTML off, so a narrative or an artifact a model
wrote cannot inject markup or script; highlighting uses CSS classes (served as
/static/pygments.css) so the Content-Security-Policy needs no inline styles.
"""

from __future__ import annotations

import functools
from datetime import datetime
from importlib import resources
from typing import Any

from markupsafe import Markup

from ..runtime.redact import redact, redact_text

__all__ = ["environment", "highlight", "markdown", "pygments_css"]


@functools.cache
def _md() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def markdown(text: str | None, shift: int = 0) -> Markup:
    """Markdown to HTML; `shift` demotes its headings to sit under the page's own."""
    md = _md()
    tokens = md.parse(redact_text(text or ""))
    for tok in tokens:
        if tok.type in ("heading_open", "heading_close"):
            tok.tag = f"h{min(6, int(tok.tag[1]) + shift)}"
    return Markup(md.renderer.render(tokens, md.options, {}))  # html=False: markup is escaped


def highlight(code: str | None, lexer: str = "diff") -> Markup:
    from pygments import highlight as pyg
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name

    formatter = HtmlFormatter(cssclass="code", wrapcode=True)
    return Markup(pyg(redact_text(code or ""), get_lexer_by_name(lexer), formatter))


@functools.cache
def pygments_css() -> str:
    from pygments.formatters import HtmlFormatter

    # "default" has AA contrast on white for every token class the diff lexer emits.
    return HtmlFormatter(style="default", cssclass="code").get_style_defs(".code")


def _when(ts: str | None) -> str:
    if not ts:
        return ""
    return datetime.fromisoformat(ts).strftime("%Y-%m-%d %H:%M:%S UTC")


def _usd(value: float | None) -> str:
    return "—" if value is None else f"${value:.4f}"


@functools.cache
def environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    folder = resources.files("shipyard.web") / "templates"
    env = Environment(loader=FileSystemLoader(str(folder)), undefined=StrictUndefined,
                      autoescape=select_autoescape(default=True), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters |= {"markdown": markdown, "highlight": highlight, "when": _when, "usd": _usd,
                    "redact": redact}
    return env


def render(template: str, context: dict[str, Any]) -> str:
    """The page, with every value redacted before and the whole page once more after."""
    html = environment().get_template(template).render(**redact(context))
    return redact_text(html)
