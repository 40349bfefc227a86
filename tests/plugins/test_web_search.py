"""Web tools without the internet: ddgs replaced, SearXNG and pages served from 127.0.0.1."""

from __future__ import annotations

import pytest

from assistant.api import spec_of
from assistant.settings import Settings, WebSettings
from plugins import web_search as web
from plugins.web_search import fetch_page, html_to_text, web_search

# The shape of a real SearXNG /search?format=json answer (trimmed to the fields that matter).
SEARXNG_ANSWER = {
    "query": "bibimbap recipe",
    "number_of_results": 0,
    "results": [
        {"url": "https://www.maangchi.com/recipe/bibimbap", "title": "Bibimbap (Mixed rice with vegetables)",
         "content": "Bibimbap is a <b>Korean</b> rice dish &amp; one of the most popular.",
         "engine": "duckduckgo", "parsed_url": ["https", "www.maangchi.com", "/recipe/bibimbap", "", "", ""],
         "template": "default.html", "engines": ["duckduckgo", "google"], "positions": [1, 2], "score": 4.0,
         "category": "general"},
        {"url": "https://en.wikipedia.org/wiki/Bibimbap", "title": "Bibimbap - Wikipedia",
         "content": "Bibimbap is a Korean rice dish. The term \"bibim\" means mixing rice.",
         "engine": "wikipedia", "engines": ["wikipedia"], "positions": [2], "score": 2.0,
         "category": "general"},
        {"url": "https://example.org/third", "title": "Third", "content": "", "engine": "bing"},
    ],
    "answers": [],
    "corrections": [],
    "infoboxes": [],
    "suggestions": ["bibimbap sauce", "dolsot bibimbap"],
    "unresponsive_engines": [["brave", "timeout"]],
}

ARTICLE = """<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8"><title>Bibimbap &amp; friends | Food Blog</title>
<style>body { color: red } .menu { display: none }</style>
<script>var tracking = "SCRIPT NOISE"; document.write("<p>injected</p>");</script>
<link rel="stylesheet" href="/s.css">
</head>
<body class="has-sidebar">
<header><div class="logo">FOOD BLOG LOGO</div><nav><a href="/">Home</a> <a href="/about">NAV ABOUT</a></nav></header>
<div id="cookie-banner">We use COOKIES. <button>Accept</button></div>
<main>
<article>
<header><h1>How to make bibimbap</h1><p class="byline">By Ji-woo, 3 May</p></header>
<p>Bibimbap is a bowl of warm rice topped with <em>seasoned vegetables</em>, beef and a fried egg.</p>
<h2>Ingredients</h2>
<ul><li>2 cups of rice<li>1 carrot</li><li>gochujang &lt;spicy&gt;</li></ul>
<p>Mix everything together right before eating, so every bite has a little of each topping.</p>
<script type="application/ld+json">{"@type": "Recipe", "name": "JSON NOISE"}</script>
<div class="share-buttons">SHARE ON SOCIAL</div>
<p hidden>HIDDEN TEXT</p>
</article>
</main>
<aside>SIDEBAR ADS</aside>
<footer>FOOTER COPYRIGHT</footer>
<noscript>NOSCRIPT NOISE</noscript>
</body></html>"""


@pytest.fixture
def allowed(local_web):
    """Settings of a user who allowed the local test server (it is on 127.0.0.1, refused otherwise)."""
    port = local_web.url.rsplit(":", 1)[1]
    return Settings(web=WebSettings(allowed_hosts=[f"127.0.0.1:{port}"]))


@pytest.fixture
def searxng(local_web):
    local_web.add("/search", SEARXNG_ANSWER)
    return Settings(web=WebSettings(provider="searxng", searxng_url=local_web.url + "/"))


def test_contracts(tool_contract):
    for func in (web_search, fetch_page):
        spec = tool_contract(func)
        assert spec.network and not spec.side_effects
    assert spec_of(web_search).schema["required"] == ["query"]


def test_no_approval_needed(tool_runner):
    assert tool_runner.needs_approval(web_search, query="x") is False
    assert tool_runner.needs_approval(fetch_page, url="https://example.com") is False


# ---------------------------------------------------------------- ddgs


def test_ddgs_results(tool_runner, monkeypatch):
    calls = []

    def fake(query, max_results, timeout_s):
        calls.append((query, max_results, timeout_s))
        return [{"title": "Python.org", "href": "https://www.python.org/", "body": "The official home of "
                 "the <b>Python</b> Programming Language"},
                {"title": "Python (programming language) - Wikipedia",
                 "href": "https://en.wikipedia.org/wiki/Python_(programming_language)",
                 "body": "Python is a high-level, general-purpose programming language."}]

    monkeypatch.setattr(web, "ddgs_text", fake)
    outcome = tool_runner(web_search, query="  python   language ")
    assert outcome.ok, outcome.output
    assert calls == [("python language", 5, 10.0)]  # defaults when ctx.settings is None
    assert "1. Python.org\n   https://www.python.org/\n   The official home of the Python" in outcome.output
    assert "2. Python (programming language) - Wikipedia" in outcome.output

    settings = Settings(web=WebSettings(max_results=3, timeout_s=4))
    tool_runner(web_search, settings=settings, query="python")
    tool_runner(web_search, settings=settings, query="python", max_results=2)
    assert calls[1:] == [("python", 3, 4.0), ("python", 2, 4.0)]


def test_ddgs_no_results(tool_runner, monkeypatch):
    from ddgs.exceptions import DDGSException

    def fake(query, max_results, timeout_s):
        raise DDGSException("No results found.")

    monkeypatch.setattr(web, "ddgs_text", fake)
    outcome = tool_runner(web_search, query="qwzxqwzx")
    assert outcome.ok and outcome.output == "No web results found for 'qwzxqwzx'."


@pytest.mark.parametrize("error, message", [
    ("DNSError: error sending request > error resolving DNS", "no internet connection"),
    ("ConnectError: Connection refused (os error 111)", "no internet connection"),
    ("operation timed out", "timed out after 10 s"),
])
def test_ddgs_failures_are_clear(tool_runner, monkeypatch, error, message):
    from ddgs.exceptions import DDGSException

    def fake(query, max_results, timeout_s):
        raise DDGSException(error)

    monkeypatch.setattr(web, "ddgs_text", fake)
    outcome = tool_runner(web_search, query="news")
    assert not outcome.ok
    assert outcome.output.startswith("error: web search") and message in outcome.output
    assert "Traceback" not in outcome.output


def test_ddgs_offline_through_the_real_library(tool_runner, monkeypatch, closed_port):
    # ddgs reads DDGS_PROXY; a closed local port makes every engine fail at once, without the internet.
    monkeypatch.setenv("DDGS_PROXY", f"http://127.0.0.1:{closed_port}")
    outcome = tool_runner(web_search, query="python")
    assert not outcome.ok
    assert outcome.output.startswith("error: web search is unavailable: no internet connection")


# ---------------------------------------------------------------- SearXNG


def test_searxng_results(tool_runner, local_web, searxng):
    outcome = tool_runner(web_search, settings=searxng, query="bibimbap recipe", max_results=2)
    assert outcome.ok, outcome.output
    assert local_web.requests == [("/search", {"q": ["bibimbap recipe"], "format": ["json"]})]
    assert outcome.output.splitlines()[:4] == [
        "Web results for 'bibimbap recipe':",
        "1. Bibimbap (Mixed rice with vegetables)",
        "   https://www.maangchi.com/recipe/bibimbap",
        "   Bibimbap is a Korean rice dish & one of the most popular.",
    ]
    assert "2. Bibimbap - Wikipedia" in outcome.output and "Third" not in outcome.output


def test_searxng_answers_and_empty_results(tool_runner, local_web, searxng):
    local_web.add("/search", {**SEARXNG_ANSWER, "results": [], "answers": ["Seoul is the capital."]})
    outcome = tool_runner(web_search, settings=searxng, query="capital of korea")
    assert outcome.ok and "Answer: Seoul is the capital." in outcome.output
    local_web.add("/search", {**SEARXNG_ANSWER, "results": []})
    outcome = tool_runner(web_search, settings=searxng, query="nothing")
    assert outcome.ok and outcome.output == "No web results found for 'nothing'."


def test_searxng_without_json_format(tool_runner, local_web, searxng):
    local_web.add("/search", "<html>Forbidden</html>", status=403)
    outcome = tool_runner(web_search, settings=searxng, query="x")
    assert not outcome.ok and "search.formats" in outcome.output
    local_web.add("/search", "<html>not json</html>")
    outcome = tool_runner(web_search, settings=searxng, query="x")
    assert not outcome.ok and "did not return JSON" in outcome.output


def test_searxng_unreachable(tool_runner, closed_port):
    settings = Settings(web=WebSettings(provider="searxng", searxng_url=f"http://127.0.0.1:{closed_port}"))
    outcome = tool_runner(web_search, settings=settings, query="x")
    assert not outcome.ok
    assert "is unavailable: no internet connection or the server cannot be reached" in outcome.output
    assert "Traceback" not in outcome.output


# ---------------------------------------------------------------- fetch_page


def test_fetch_page_keeps_the_article_and_drops_the_noise(tool_runner, local_web, allowed):
    url = local_web.add("/article", ARTICLE)
    outcome = tool_runner(fetch_page, settings=allowed, url=url)
    assert outcome.ok, outcome.output
    text = outcome.output
    assert text.startswith(f"Title: Bibimbap & friends | Food Blog\nURL: {url}\n\n")
    for wanted in ("# How to make bibimbap", "By Ji-woo, 3 May", "warm rice topped with seasoned vegetables, beef",
                   "## Ingredients", "- 2 cups of rice", "- 1 carrot", "- gochujang <spicy>",
                   "every bite has a little of each topping."):
        assert wanted in text, wanted
    for noise in ("SCRIPT NOISE", "injected", "color: red", "FOOD BLOG LOGO", "NAV ABOUT", "COOKIES",
                  "JSON NOISE", "SHARE ON SOCIAL", "HIDDEN TEXT", "SIDEBAR ADS", "FOOTER COPYRIGHT",
                  "NOSCRIPT NOISE"):
        assert noise not in text, noise


def test_page_without_main_uses_the_body():
    title, text = html_to_text("<html><body><nav>menu</nav><div><p>Just a short page.</p><br>Second line"
                               "</div><footer>foot</footer></body></html>")
    assert title == "" and text == "Just a short page.\nSecond line"


def test_fetch_page_is_bounded(tool_runner, local_web, allowed):
    url = local_web.add("/long", "<html><body><main>" + "".join(f"<p>paragraph {i} has some words</p>" for i in range(2000)) + "</main></body></html>")
    settings = Settings(web=WebSettings(max_page_chars=500, allowed_hosts=allowed.web.allowed_hosts))
    outcome = tool_runner(fetch_page, settings=settings, url=url)
    assert outcome.ok and "[... page text cut at 500 of" in outcome.output
    assert len(outcome.output) < 800


def test_fetch_plain_text_and_charset(tool_runner, local_web, allowed):
    url = local_web.add("/notes.txt", "line one\r\nline two\n", content_type="text/plain; charset=utf-8")
    outcome = tool_runner(fetch_page, settings=allowed, url=url)
    assert outcome.ok and outcome.output.endswith("line one\nline two")
    page = "<html><head><title>Caf\xe9</title></head><body><p>cr\xe8me br\xfbl\xe9e</p></body></html>"
    url = local_web.add("/latin", page.encode("latin-1"), content_type="text/html; charset=iso-8859-1")
    outcome = tool_runner(fetch_page, settings=allowed, url=url)
    assert "Title: Café" in outcome.output and "crème brûlée" in outcome.output


def test_fetch_other_content_types_are_summarised(tool_runner, local_web, allowed):
    url = local_web.add("/paper.pdf", b"%PDF-1.7 \x00\x01\x02" * 100, content_type="application/pdf")
    outcome = tool_runner(fetch_page, settings=allowed, url=url)
    assert outcome.ok
    assert "is not a web page but a application/pdf file, 1,200 bytes" in outcome.output
    assert "%PDF" not in outcome.output


def test_fetch_follows_redirects(tool_runner, local_web, allowed):
    target = local_web.add("/article", ARTICLE)
    url = local_web.add("/old", "", status=302, headers={"Location": "/article"})
    outcome = tool_runner(fetch_page, settings=allowed, url=url)
    assert outcome.ok and f"URL: {target}" in outcome.output


def test_fetch_redirect_loop(tool_runner, local_web, allowed):
    url = local_web.add("/loop", "", status=302, headers={"Location": "/loop"})
    outcome = tool_runner(fetch_page, settings=allowed, url=url)
    assert not outcome.ok and "redirected more than" in outcome.output


def test_fetch_redirect_to_another_scheme_is_refused(tool_runner, local_web, allowed):
    url = local_web.add("/sneaky", "", status=302, headers={"Location": "file:///etc/passwd"})
    outcome = tool_runner(fetch_page, settings=allowed, url=url)
    assert not outcome.ok and "only http:// and https://" in outcome.output


def test_fetch_http_errors(tool_runner, local_web, allowed):
    outcome = tool_runner(fetch_page, settings=allowed, url=local_web.url + "/missing")
    assert not outcome.ok and "HTTP 404 (Not Found)" in outcome.output


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "javascript:alert(1)",
                                 "data:text/html,hi", "gopher://x", "not a url", "http://"])
def test_fetch_refuses_other_schemes(tool_runner, url):
    outcome = tool_runner(fetch_page, settings=allowed, url=url)
    assert not outcome.ok
    assert "only http:// and https://" in outcome.output or "no host name" in outcome.output


def test_fetch_unreachable(tool_runner, closed_port):
    settings = Settings(web=WebSettings(allowed_hosts=["127.0.0.1"]))  # any port on this computer
    outcome = tool_runner(fetch_page, settings=settings, url=f"http://127.0.0.1:{closed_port}/page")
    assert not outcome.ok
    assert outcome.output.startswith("error: fetching the page is unavailable: no internet connection")


@pytest.mark.parametrize("entry, host, port, allowed", [
    ("nas.lan", "NAS.lan.", 8080, True),
    ("nas.lan:8080", "nas.lan", 8080, True),
    ("nas.lan:8080", "nas.lan", 8081, False),
    ("*.lan", "printer.office.lan", 80, True),
    ("*.lan", "lan", 80, False),
    ("http://searx.home:8888/", "searx.home", 8888, True),
    ("https://wiki.home/", "wiki.home", 80, False),  # a URL's port is the one meant (443 here)
])
def test_allowed_host_names(entry, host, port, allowed):
    from plugins.web_guard import Allowed

    assert Allowed([entry]).name(host, port) is allowed


@pytest.mark.parametrize("entry, address, port, allowed", [
    ("192.168.1.5", "192.168.1.5", 5000, True),
    ("10.0.0.0/8", "10.20.30.40", 80, True),
    ("10.0.0.0/8", "11.0.0.1", 80, False),
    ("[::1]:8080", "::1", 8080, True),
    ("[::1]:8080", "::1", 8081, False),
    ("127.0.0.1", "::1", 80, False),
])
def test_allowed_addresses(entry, address, port, allowed):
    import ipaddress

    from plugins.web_guard import Allowed

    assert Allowed([entry]).address(ipaddress.ip_address(address), port) is allowed
