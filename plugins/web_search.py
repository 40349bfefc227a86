"""Built-in web tools: search (ddgs or a SearXNG instance) and fetch a page as readable text.

Requests reach only public internet addresses unless the user allowed a host (plugins/web_guard.py).
"""

from __future__ import annotations

import html
import re
import urllib.parse
from html.parser import HTMLParser
from typing import Annotated, Any, Callable

import httpx
from pydantic import Field

from assistant.api import ToolContext, ToolError, hookimpl, tool
from plugins.web_guard import Allowed, guarded_client

# Used when ctx.settings is missing (unit tests); the app passes its Settings.
DEFAULTS: dict[str, Any] = {"provider": "ddgs", "searxng_url": "http://127.0.0.1:8888", "max_results": 5,
                            "timeout_s": 10.0, "max_page_chars": 6000, "allowed_hosts": []}
USER_AGENT = "Mozilla/5.0 (compatible; Biseo/0.1; +local assistant)"
SNIPPET_CHARS = 300
MAX_PAGE_BYTES = 3_000_000
MAX_REDIRECTS = 5
HTML_TYPES = {"text/html", "application/xhtml+xml"}
TEXT_TYPES = {"text/plain", "text/markdown", "text/csv", "application/json", "text/xml", "application/xml"}


def _web(ctx: ToolContext | None, name: str) -> Any:
    web = getattr(getattr(ctx, "settings", None), "web", None)
    value = getattr(web, name, None)
    return DEFAULTS[name] if value is None else value


def _allowed(ctx: ToolContext | None, *also: str) -> Allowed:
    """The hosts the user allowed beyond the public internet (see plugins/web_guard.py)."""
    return Allowed([*(_web(ctx, "allowed_hosts") or []), *also])


def _clean(text: Any, limit: int | None = None) -> str:
    """Plain one-line text from a snippet that may hold tags and entities."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", str(text or "")))
    text = " ".join(text.split())
    return text if limit is None or len(text) <= limit else text[: limit - 3].rstrip() + "..."


# ---------------------------------------------------------------- search providers


def ddgs_text(query: str, max_results: int, timeout_s: float) -> list[dict[str, Any]]:
    """Search with the ddgs package (a seam: tests replace this function)."""
    from ddgs import DDGS

    return DDGS(timeout=max(1, round(timeout_s))).text(query, max_results=max_results)


def _search_ddgs(query: str, max_results: int, timeout_s: float) -> list[dict[str, str]]:
    # ddgs only talks to the public search engines it knows (not guarded here); the links it returns
    # are fetched by fetch_page, which is.
    try:
        raw = ddgs_text(query, max_results, timeout_s)
    except ImportError:
        raise ToolError("web search is unavailable: the 'ddgs' package is not installed") from None
    except Exception as exc:  # ddgs wraps network failures in its own exceptions
        message = str(exc)
        if "no results found" in message.lower():
            return []
        raise ToolError(_network_problem(exc, "web search", timeout_s)) from None
    return [{"title": r.get("title", ""), "url": r.get("href") or r.get("url", ""),
             "snippet": r.get("body") or r.get("content", "")} for r in raw or [] if isinstance(r, dict)]


def _search_searxng(query: str, max_results: int, timeout_s: float, base_url: str,
                    allowed: Allowed) -> tuple[list[dict[str, str]], list[str]]:
    endpoint = base_url.rstrip("/") + "/search"
    try:
        with guarded_client(allowed, timeout=timeout_s, follow_redirects=True) as client:
            response = client.get(endpoint, params={"q": query, "format": "json"},
                                  headers={"User-Agent": USER_AGENT, "Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise ToolError(_network_problem(exc, f"web search (SearXNG at {base_url})", timeout_s)) from None
    if response.status_code == 403:
        raise ToolError(f"the SearXNG server at {base_url} refused JSON output (HTTP 403): add 'json' to "
                        "search.formats in its settings.yml")
    if response.status_code != 200:
        raise ToolError(f"the SearXNG server at {base_url} answered HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        raise ToolError(f"the SearXNG server at {base_url} did not return JSON; check web.searxng_url") from None
    if not isinstance(data, dict):
        raise ToolError(f"the SearXNG server at {base_url} returned an unexpected answer")
    results = [{"title": r.get("title", ""), "url": r.get("url", ""), "snippet": r.get("content", "")}
               for r in data.get("results") or [] if isinstance(r, dict)][:max_results]
    answers = []
    for answer in data.get("answers") or []:
        text = answer.get("answer") if isinstance(answer, dict) else answer
        if text:
            answers.append(_clean(text, SNIPPET_CHARS))
    return results, answers


def _network_problem(exc: BaseException, what: str, timeout_s: float) -> str:
    """A clear sentence for a failed request: offline, timed out, rate limited, or other."""
    name, message = type(exc).__name__, str(exc)
    detail = _clean(f"{name}: {message}" if message else name, 200)
    lowered = f"{name} {message}".lower()
    if "ratelimit" in lowered or "429" in message:
        return f"{what} is rate limited right now; try again in a minute ({detail})"
    if "timeout" in lowered or "timed out" in lowered:
        return f"{what} timed out after {timeout_s:g} s ({detail})"
    if any(word in lowered for word in ("connect", "dns", "resolve", "name or service", "network",
                                        "unreachable", "refused", "proxy")):
        return f"{what} is unavailable: no internet connection or the server cannot be reached ({detail})"
    return f"{what} failed ({detail})"


def _format_results(query: str, results: list[dict[str, str]], answers: list[str]) -> str:
    if not results and not answers:
        return f"No web results found for {query!r}."
    lines = [f"Web results for {query!r}:"]
    lines += [f"Answer: {a}" for a in answers[:2]]
    for i, r in enumerate(results, 1):
        lines.append(f"{i}. {_clean(r.get('title')) or '(no title)'}")
        if r.get("url"):
            lines.append(f"   {r['url']}")
        snippet = _clean(r.get("snippet"), SNIPPET_CHARS)
        if snippet:
            lines.append(f"   {snippet}")
    return "\n".join(lines)


@tool(network=True, examples=[
    ("what's the latest news about the Mars rover?", {"query": "Mars rover latest news"}),
    ("what's the weather forecast for Seoul tomorrow?", {"query": "Seoul weather forecast tomorrow"}),
    ("search the web for easy bibimbap recipes", {"query": "easy bibimbap recipe"}),
    ("how much does a Nintendo Switch cost now?", {"query": "Nintendo Switch price"}),
])
def web_search(
    ctx: ToolContext,
    query: Annotated[str, Field(description="What to search the web for, in a few keywords")],
    max_results: Annotated[int | None, Field(ge=1, le=20, description="How many results (default from "
                                             "settings)")] = None,
) -> str:
    """Search the web for current information, news or facts; returns titles, links and snippets."""
    query = " ".join(query.split())
    if not query:
        raise ToolError("the search query is empty")
    count = max_results or int(_web(ctx, "max_results"))
    timeout = float(_web(ctx, "timeout_s"))
    provider = _web(ctx, "provider")
    if provider == "searxng":
        base_url = str(_web(ctx, "searxng_url"))
        # The user chose this server, so its address is allowed even on their own network; a redirect
        # elsewhere is checked like any other address.
        results, answers = _search_searxng(query, count, timeout, base_url, _allowed(ctx, base_url))
    elif provider == "ddgs":
        results, answers = _search_ddgs(query, count, timeout)[:count], []
    else:
        raise ToolError(f"unknown web search provider {provider!r}: set web.provider to 'ddgs' or 'searxng'")
    return _format_results(query, results, answers)


# ---------------------------------------------------------------- page fetching


VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
             "source", "track", "wbr"}
SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "nav", "aside", "form", "iframe",
             "button", "select", "canvas", "math", "dialog", "object"}
PAGE_CHROME = {"header", "footer"}  # skipped outside <main>/<article>, where they hold the site menu
SKIP_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "menu", "dialog"}
NOISE = re.compile(r"(^|[\s_-])(cookie|consent|sidebar|advert|ads|newsletter|popup|modal|breadcrumbs?|"
                   r"share|social|skip-link)([\s_-]|$)", re.IGNORECASE)
STRUCTURAL = {"html", "body", "main", "article"}  # never dropped for a noisy-looking class name
BLOCK_TAGS = {"p", "div", "br", "li", "tr", "section", "article", "main", "blockquote", "pre", "table",
              "ul", "ol", "dl", "dt", "dd", "figure", "figcaption", "hr", "h1", "h2", "h3", "h4", "h5",
              "h6", "header", "footer", "address", "details", "summary"}


class PageText(HTMLParser):
    """Collects a page's title and readable text, leaving out scripts, styles, menus and other chrome."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self._in_title = False
        self._stack: list[tuple[str, bool, bool]] = []  # (tag, skips its content, is main content)
        self._skipping = 0
        self._main = 0
        self._pre = 0
        self.all_parts: list[str] = []
        self.main_parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
            return
        if tag in BLOCK_TAGS:
            self._emit("\n")
            if tag in ("h1", "h2", "h3", "h4", "h5", "h6") and not self._skipping:
                self._emit("#" * int(tag[1]) + " ")
            elif tag == "li" and not self._skipping:
                self._emit("- ")
        if tag in VOID_TAGS:
            return
        a = {k: (v or "") for k, v in attrs}
        is_main = tag in ("main", "article") or a.get("role") == "main"
        skip = (tag in SKIP_TAGS or (tag in PAGE_CHROME and not self._main)
                or "hidden" in a or a.get("aria-hidden") == "true" or a.get("role") in SKIP_ROLES
                or (tag not in STRUCTURAL and bool(NOISE.search(f"{a.get('class', '')} {a.get('id', '')}"))))
        self._stack.append((tag, skip, is_main))
        self._skipping += skip
        self._main += is_main
        self._pre += tag == "pre"

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
            return
        if tag in BLOCK_TAGS:
            self._emit("\n")
        if not any(open_tag == tag for open_tag, _, _ in self._stack):
            return  # a stray end tag
        while self._stack:  # close it and any children left open (<p>, <li> need no end tag)
            open_tag, skip, is_main = self._stack.pop()
            self._skipping -= skip
            self._main -= is_main
            self._pre -= open_tag == "pre"
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
            return
        if not self._pre:
            data = re.sub(r"\s+", " ", data)
        self._emit(data)

    def _emit(self, text: str) -> None:
        if self._skipping:
            return
        self.all_parts.append(text)
        if self._main:
            self.main_parts.append(text)

    def text(self) -> str:
        """The main content when the page marks one, else the whole body, as tidy lines."""
        main = _tidy("".join(self.main_parts))
        return main if len(main) >= 200 else _tidy("".join(self.all_parts))


def _tidy(text: str) -> str:
    lines: list[str] = []
    for line in text.split("\n"):
        line = " ".join(line.split())
        if line and line not in ("-", "#") and (not lines or lines[-1] != line):
            lines.append(line)
    return "\n".join(lines)


def html_to_text(markup: str) -> tuple[str, str]:
    """(title, readable text) of an HTML document."""
    parser = PageText()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # html.parser is lenient, but a page must never crash the tool
        pass
    return " ".join(parser.title.split()), parser.text()


def _normalize_url(url: str) -> str:
    url = url.strip()
    if "://" not in url and re.match(r"^[\w.-]+\.[a-z]{2,}(:\d+)?(/|$)", url, re.IGNORECASE):
        url = "https://" + url  # "example.com/page" is what people type
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise ToolError(f"{url!r} is not a valid web address ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        shown = f"{parts.scheme}:" if parts.scheme else "an address without http:// or https://"
        raise ToolError(f"only http:// and https:// web pages can be fetched, not {shown}")
    if not parts.hostname:
        raise ToolError(f"{url!r} has no host name")
    try:
        httpx.URL(url).host  # noqa: B018 - decoding the host is where bad punycode shows
    except (httpx.InvalidURL, ValueError) as exc:  # ValueError: the idna package's errors
        raise ToolError(f"{url!r} is not a valid web address ({exc})") from None
    return url


def _charset(content_type: str, body: bytes) -> str:
    match = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
    if not match:
        match = re.search(rb"<meta[^>]+charset=[\"']?([\w.:-]+)", body[:4096], re.IGNORECASE)
    name = match.group(1) if match else "utf-8"
    name = name.decode("ascii", "ignore") if isinstance(name, bytes) else name
    try:
        "".encode(name)
    except LookupError:
        return "utf-8"
    return name


def _download(url: str, timeout_s: float, allowed: Allowed) -> tuple[str, str, bytes, int | None]:
    """(final url, content type, body up to MAX_PAGE_BYTES, declared size); follows redirects one by one."""
    headers = {"User-Agent": USER_AGENT, "Accept": "text/html,text/plain;q=0.9,*/*;q=0.5"}
    current = url
    try:
        # Every connection, the first and each redirect's, is checked for a public address.
        with guarded_client(allowed, timeout=timeout_s, headers=headers, follow_redirects=False) as client:
            for _ in range(MAX_REDIRECTS + 1):
                with client.stream("GET", current) as response:
                    if response.is_redirect and response.headers.get("location"):
                        # Each hop is checked like the first address.
                        current = _normalize_url(urllib.parse.urljoin(current, response.headers["location"]))
                        continue
                    if response.status_code >= 400:
                        reason = response.reason_phrase or "error"
                        raise ToolError(f"the page answered HTTP {response.status_code} ({reason}): {current}")
                    content_type = response.headers.get("content-type", "")
                    declared = response.headers.get("content-length")
                    size = int(declared) if declared and declared.isdigit() else None
                    if _media_type(content_type) not in HTML_TYPES | TEXT_TYPES and content_type:
                        return current, content_type, b"", size  # not text: do not download it
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) >= MAX_PAGE_BYTES:
                            break
                    return current, content_type, bytes(body[:MAX_PAGE_BYTES]), size
    except httpx.HTTPError as exc:
        raise ToolError(_network_problem(exc, "fetching the page", timeout_s)) from None
    raise ToolError(f"the page redirected more than {MAX_REDIRECTS} times: {url}")


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


@tool(network=True, examples=[
    ("read this article for me: https://example.com/news/123", {"url": "https://example.com/news/123"}),
    ("what does the page python.org/downloads say?", {"url": "https://python.org/downloads"}),
    ("summarize https://blog.example.net/2024/notes", {"url": "https://blog.example.net/2024/notes"}),
])
def fetch_page(
    ctx: ToolContext,
    url: Annotated[str, Field(description="The http(s) address of the page, e.g. a link from web_search")],
) -> str:
    """Download a web page and return its title and readable text (menus, scripts and ads removed)."""
    url = _normalize_url(url)
    timeout = float(_web(ctx, "timeout_s"))
    limit = int(_web(ctx, "max_page_chars"))
    final_url, content_type, body, size = _download(url, timeout, _allowed(ctx))
    media = _media_type(content_type)
    if content_type and media not in HTML_TYPES | TEXT_TYPES:
        shown = f", {size:,} bytes" if size is not None else ""
        return f"{final_url} is not a web page but a {media} file{shown}; it cannot be shown as text."
    if not content_type and b"\x00" in body[:1024]:
        return f"{final_url} is not a web page but binary data; it cannot be shown as text."
    text_body = body.decode(_charset(content_type, body), errors="replace")
    looks_html = media in HTML_TYPES or (not media and text_body.lstrip()[:1] == "<")
    if looks_html:
        title, text = html_to_text(text_body)
    else:
        title, text = "", _tidy_plain(text_body)
    if not text:
        text = "(the page has no readable text; it may need JavaScript)"
    if len(text) > limit:
        text = text[:limit].rstrip() + f"\n[... page text cut at {limit} of {len(text)} characters]"
    header = (f"Title: {title}\n" if title else "") + f"URL: {final_url}\n\n"
    return header + text


def _tidy_plain(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text.replace("\r\n", "\n")).strip()


@hookimpl
def register_tools(register: Callable[[Any], None]) -> None:
    register(web_search)
    register(fetch_page)
