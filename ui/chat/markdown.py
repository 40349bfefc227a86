"""Safe Markdown: untrusted text becomes inert rich text (no raw HTML, no images, only plain links)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from markdown_it import MarkdownIt

# Links the app will open after a click; anything else is shown as plain text.
ALLOWED_SCHEMES = ("http", "https", "file", "biseo")
MONO = "'DejaVu Sans Mono', 'Consolas', 'Menlo', monospace"
CODE_CSS = f"font-family: {MONO}; background-color: #f3f5f8;"
DEFAULT_CSS = f"""
p {{ margin-top: 0px; margin-bottom: 8px; }}
code {{ {CODE_CSS} }}
pre {{ font-family: {MONO}; background-color: #f6f8fa; padding: 8px; }}
th {{ background-color: #f1f4f9; font-weight: 600; }}
a {{ color: #1d4fa8; }}
h1, h2, h3, h4 {{ margin-top: 8px; margin-bottom: 6px; }}
"""


def is_safe_url(url: str) -> bool:
    """True for http(s), file and biseo links: the only ones the app ever opens (after a click)."""
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return False
    return scheme in ALLOWED_SCHEMES


@dataclass
class Segment:
    """A piece of a rendered message: rich text (`html`) or a code block (`code`, with its language)."""

    kind: str  # "html" or "code"
    text: str
    language: str = ""


def _image(self, tokens, idx, options, env) -> str:
    """An image never loads: its alt text is shown instead, in brackets."""
    alt = "".join(child.content for child in (tokens[idx].children or [])) or "image"
    return f"[{html.escape(alt)}]"


def _link_open(self, tokens, idx, options, env) -> str:
    href = tokens[idx].attrGet("href") or ""
    if not is_safe_url(str(href)):
        return "<a>"  # an anchor without href is plain text in Qt
    return f'<a href="{html.escape(str(href), quote=True)}">'


def _table_open(self, tokens, idx, options, env) -> str:
    return '<table border="1" cellspacing="0" cellpadding="6" style="border-color: #d5dbe5;">\n'


def _code_block(self, tokens, idx, options, env) -> str:
    return f"<pre>{html.escape(tokens[idx].content)}</pre>\n"


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("image", _image)
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("table_open", _table_open)
    md.add_render_rule("fence", _code_block)
    md.add_render_rule("code_block", _code_block)
    return md


def to_html(text: str) -> str:
    """The whole text as safe rich text (code blocks inline as <pre>)."""
    return _parser().render(text or "")


def segments(text: str) -> list[Segment]:
    """Top-level code blocks become their own segments (they get a Copy button); the rest is rich text."""
    md = _parser()
    tokens = md.parse(text or "")
    out: list[Segment] = []
    pending: list = []

    def flush() -> None:
        if pending:
            rendered = md.renderer.render(pending, md.options, {})
            if rendered.strip():
                out.append(Segment("html", rendered))
            pending.clear()

    for token in tokens:
        if token.type in ("fence", "code_block") and token.level == 0:
            flush()
            out.append(Segment("code", token.content.rstrip("\n"), (token.info or "").strip().split(" ")[0]))
        else:
            pending.append(token)
    flush()
    return out
