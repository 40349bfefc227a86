"""Web tools never reach this computer or the local network unless the user allowed the host.

Two real HTTP servers on 127.0.0.1 play an allowed page server and a private service ("victim"): every
refusal is also checked on the victim's side, which must never receive a request.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.settings import Settings, WebSettings
from plugins import web_guard
from plugins.web_search import fetch_page, web_search

pytestmark = pytest.mark.trust("ssrf")

PAGE = "<html><head><title>Local page</title></head><body><p>Served by the test server.</p></body></html>"


@dataclass
class Server:
    """A real HTTP server on 127.0.0.1 that answers fixed routes and records (path, Host) per request."""

    port: int = 0
    routes: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, path: str, body: str = PAGE, status: int = 200, **headers: str) -> str:
        self.routes[path] = (status, {"Content-Type": "text/html; charset=utf-8", **headers}, body.encode())
        return self.url + path


def _start(server_state: Server) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = self.path.split("?", 1)[0]
            server_state.requests.append((path, self.headers.get("Host", "")))
            status, headers, body = server_state.routes.get(path, (404, {}, b"not found"))
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.port = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return httpd


@pytest.fixture
def servers(monkeypatch, trust_figures):
    """(allowed page server, private victim server); environment proxies cleared so only the guard decides."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    pair = Server(), Server()
    running = [_start(s) for s in pair]
    pair[1].add("/secret", "<p>ROUTER ADMIN PASSWORD</p>")
    pair[1].add("/", "<p>ROUTER ADMIN PASSWORD</p>")
    yield pair
    # The second server stands for a private service: no test may ever reach it.
    trust_figures.add("ssrf", private_requests=len(pair[1].requests))
    for httpd in running:
        httpd.shutdown()
        httpd.server_close()


def _settings(*allowed: str) -> Settings:
    return Settings(web=WebSettings(allowed_hosts=list(allowed), timeout_s=3))


def _fake_dns(monkeypatch, table: dict[str, list[str]]) -> list[str]:
    """Replace the guard's resolver with a fixed table; returns the list of names looked up."""
    looked_up: list[str] = []
    real = web_guard.resolve

    def resolve(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return table[host] if host in table else real(host, port)

    monkeypatch.setattr(web_guard, "resolve", resolve)
    return looked_up


def _assert_refused(outcome, victim: Server | None = None) -> None:
    assert not outcome.ok
    assert outcome.output.startswith("error: refused to connect to"), outcome.output
    assert "web.allowed_hosts" in outcome.output  # tells the user how to allow a host they trust
    assert "PASSWORD" not in outcome.output
    if victim is not None:
        assert victim.requests == []


# ---------------------------------------------------------------- direct addresses, every spelling


@pytest.mark.parametrize("spelling", [
    "127.0.0.1", "2130706433", "0x7f.1", "0x7f000001", "017700000001", "127.1",
    "[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[0:0:0:0:0:ffff:127.0.0.1]", "localhost",
    "LOCALHOST", "localhost.", "api.localhost", "0.0.0.0", "0", "[::]",
])
def test_loopback_in_any_spelling_is_refused(tool_runner, servers, spelling):
    _, victim = servers
    outcome = tool_runner(fetch_page, settings=_settings(), url=f"http://{spelling}:{victim.port}/secret")
    _assert_refused(outcome, victim)


@pytest.mark.parametrize("spelling", ["127.000.000.001", "[::1", "127.0.0.1:99999", "%31%32%37.0.0.1",
                                      "xn--localhost", "127.0.0.1\t"])
def test_malformed_addresses_are_refused_clearly(tool_runner, servers, spelling):
    _, victim = servers
    outcome = tool_runner(fetch_page, settings=_settings(), url=f"http://{spelling}:{victim.port}/secret")
    assert not outcome.ok and outcome.output.startswith("error: ")
    assert "failed: " not in outcome.output, outcome.output  # a clear reason, not an unexpected exception
    assert victim.requests == []


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",  # cloud metadata
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://10.0.0.1/", "http://172.16.5.4/", "http://192.168.1.1/admin", "http://100.64.0.1/",
    "http://[fe80::1]/", "http://[fc00::1]/", "http://[fec0::1]/", "http://224.0.0.1/", "http://240.0.0.1/",
    "http://255.255.255.255/", "http://192.0.0.8/", "http://198.18.0.1/",
    "http://[2002:7f00:1::]/",  # 6to4 spelling of 127.0.0.1
    "http://[64:ff9b::a00:1]/",  # NAT64 spelling of 10.0.0.1
    "https://127.0.0.1/", "https://[::1]:8443/",
])
def test_private_link_local_and_reserved_addresses_are_refused(tool_runner, servers, url):
    _assert_refused(tool_runner(fetch_page, settings=_settings(), url=url))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.215.14", "2606:4700:4700::1111",
                                     "2001:4860:4860::8888"])
def test_public_addresses_pass_the_check(address):
    assert web_guard.not_public(ipaddress.ip_address(address)) is None


# ---------------------------------------------------------------- names that resolve to private addresses


@pytest.mark.parametrize("answer", [["127.0.0.1"], ["::1"], ["::ffff:127.0.0.1"], ["10.1.2.3"],
                                    ["169.254.169.254"], ["fe80::1%1"]])
def test_public_looking_name_resolving_to_a_private_address_is_refused(tool_runner, servers, monkeypatch, answer):
    _, victim = servers
    looked_up = _fake_dns(monkeypatch, {"news.example.com": answer})
    outcome = tool_runner(fetch_page, settings=_settings(), url=f"http://news.example.com:{victim.port}/secret")
    _assert_refused(outcome, victim)
    assert looked_up == ["news.example.com"]
    assert f"news.example.com ({answer[0]})" in outcome.output


def test_only_checked_addresses_are_used_and_the_name_is_resolved_once(tool_runner, servers, monkeypatch):
    """DNS rebinding: whatever the name says later, the socket goes to the address that was checked."""
    page, _ = servers
    page.add("/page")
    answers = iter([["127.0.0.1"], ["10.9.9.9"], ["10.9.9.9"]])
    looked_up: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return next(answers)

    monkeypatch.setattr(web_guard, "resolve", resolve)
    # The user allowed the address 127.0.0.1 on this port (not the name): the first answer passes.
    outcome = tool_runner(fetch_page, settings=_settings(f"127.0.0.1:{page.port}"),
                          url=f"http://rebind.example:{page.port}/page")
    assert outcome.ok, outcome.output
    assert "Served by the test server." in outcome.output
    assert looked_up == ["rebind.example"]
    assert page.requests == [("/page", f"rebind.example:{page.port}")]  # Host stays the name


# ---------------------------------------------------------------- redirects


@pytest.mark.parametrize("target", ["http://127.0.0.1:{port}/secret", "http://[::1]:{port}/secret",
                                    "http://2130706433:{port}/secret", "http://localhost:{port}/secret",
                                    "http://internal.example:{port}/secret"])
def test_redirect_from_an_allowed_server_to_a_private_one_is_refused(tool_runner, servers, monkeypatch, target):
    page, victim = servers
    _fake_dns(monkeypatch, {"internal.example": ["127.0.0.1"]})
    url = page.add("/go", "", status=302, Location=target.format(port=victim.port))
    outcome = tool_runner(fetch_page, settings=_settings(f"127.0.0.1:{page.port}"), url=url)
    _assert_refused(outcome, victim)
    assert page.requests == [("/go", f"127.0.0.1:{page.port}")]  # the first hop was fetched, the second not


def test_searxng_server_is_allowed_but_its_redirects_are_checked(tool_runner, servers):
    searx, victim = servers
    searx.add("/search", '{"results": [{"title": "Hit", "url": "https://example.org/", "content": "x"}]}',
              **{"Content-Type": "application/json"})
    settings = Settings(web=WebSettings(provider="searxng", searxng_url=searx.url, timeout_s=3))
    outcome = tool_runner(web_search, settings=settings, query="anything")
    assert outcome.ok and "1. Hit" in outcome.output, outcome.output
    searx.add("/search", "", status=302, Location=f"{victim.url}/secret")
    outcome = tool_runner(web_search, settings=settings, query="anything")
    _assert_refused(outcome, victim)


# ---------------------------------------------------------------- allowed hosts work


@pytest.mark.parametrize("entry", ["127.0.0.1:{port}", "127.0.0.1", "127.0.0.0/8", "http://127.0.0.1:{port}/",
                                   "localhost:{port}"])
def test_allowed_host_is_fetched(tool_runner, servers, entry):
    page, victim = servers
    page.add("/page")
    host = "localhost" if entry.startswith("localhost") else "127.0.0.1"
    outcome = tool_runner(fetch_page, settings=_settings(entry.format(port=page.port)),
                          url=f"http://{host}:{page.port}/page")
    assert outcome.ok, outcome.output
    assert "Title: Local page" in outcome.output and "Served by the test server." in outcome.output
    assert victim.requests == []


def test_allowing_one_port_does_not_allow_the_others(tool_runner, servers):
    page, victim = servers
    outcome = tool_runner(fetch_page, settings=_settings(f"127.0.0.1:{page.port}"), url=f"{victim.url}/secret")
    _assert_refused(outcome, victim)
    assert f'"127.0.0.1:{victim.port}"' in outcome.output  # the exact line to add, if the user wants it


def test_environment_proxy_is_not_used(tool_runner, servers, monkeypatch):
    """A proxy would open the connection itself, to an address the guard never sees: it is not used."""
    page, proxy = servers
    page.add("/page")
    for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(var, proxy.url)
    outcome = tool_runner(fetch_page, settings=_settings(f"127.0.0.1:{page.port}"), url=f"{page.url}/page")
    assert outcome.ok and "Served by the test server." in outcome.output
    assert proxy.requests == []


def test_the_app_answers_after_a_refusal(tool_runner, servers):
    page, victim = servers
    page.add("/page")
    settings = _settings(f"127.0.0.1:{page.port}")
    assert not tool_runner(fetch_page, settings=settings, url=f"{victim.url}/").ok
    assert tool_runner(fetch_page, settings=settings, url=f"{page.url}/page").ok
