"""Keep the web tools on the public internet: every connection is vetted after DNS, on every redirect hop.

A page (or a model told by a page) could otherwise make Biseo fetch http://127.0.0.1:8080/admin, the
router's setup page or a cloud metadata address, and read the answer back to the model. The check lives
in the connection layer (an httpcore network backend), so it covers the first request and every
redirect alike, and the socket is opened to the very address that was checked: a host name that
resolves to a public address for the check and to 127.0.0.1 a moment later (DNS rebinding) cannot
slip through, because nothing resolves the name a second time.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

import httpcore
import httpx

from assistant.api import ToolError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT; not "private" to Python 3.11
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# Special-purpose blocks (IANA registries) that some Python versions still call global.
_NOT_GLOBAL = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
    "240.0.0.0/4", "100::/64", "2001::/23", "2001:db8::/32", "3fff::/20", "5f00::/16", "fc00::/7",
    "fec0::/10")]


class AddressRefused(ToolError):
    """The address is not on the public internet and the user has not allowed it."""


def resolve(host: str, port: int) -> list[str]:
    """The addresses a host name resolves to, in the system's order (a seam: tests replace it)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def not_public(ip: IPAddress) -> str | None:
    """Why `ip` is not a public internet address (None when it is one)."""
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv6 spellings of an IPv4 address reach that IPv4 address: judge the address inside.
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is None and any(ip in net for net in _NAT64):
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            why = not_public(inner)
            if why:
                return f"{why}, written in IPv6 form ({inner})"
    if ip.is_unspecified:
        return "the unspecified address, which reaches this computer"
    if ip.is_loopback:
        return "a loopback address (this computer)"
    if ip.is_link_local:
        return "a link-local address (the local network segment, where cloud metadata services live)"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if ip.is_private:
        return "a private network address (your local network)"
    if ip.is_reserved or not ip.is_global or any(ip in net for net in _NOT_GLOBAL if net.version == ip.version):
        return "a reserved address, not on the public internet"
    return None


@dataclass(frozen=True)
class _Entry:
    """One allowed host: a name (or *.suffix), or an address/network, with an optional port."""

    name: str | None = None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    port: int | None = None

    def matches_name(self, host: str, port: int) -> bool:
        if self.name is None or (self.port is not None and self.port != port):
            return False
        if self.name.startswith("*."):
            return host.endswith(self.name[1:])
        return host == self.name

    def matches_ip(self, ip: IPAddress, port: int) -> bool:
        if self.network is None or (self.port is not None and self.port != port):
            return False
        return ip.version == self.network.version and ip in self.network


def _host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def parse_entry(text: str) -> _Entry | None:
    """'host', 'host:port', '*.lan', '192.168.1.5', '10.0.0.0/8', '[::1]:8080' or a URL; None if unreadable."""
    text = text.strip()
    if not text:
        return None
    if "://" in text:
        parts = urllib.parse.urlsplit(text)
        try:
            port = parts.port
        except ValueError:
            return None
        host = parts.hostname or ""
        if port is None:  # the user named a service, so its default port is the one meant
            port = {"http": 80, "https": 443}.get(parts.scheme.lower())
    else:
        host, port = text, None
        if text.startswith("["):  # [v6] or [v6]:port
            host, _, rest = text[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
        elif text.count(":") == 1:
            name, _, number = text.partition(":")
            if number.isdigit():
                host, port = name, int(number)
    host = _host(host)
    try:
        return _Entry(network=ipaddress.ip_network(host, strict=False), port=port)
    except ValueError:
        return _Entry(name=host, port=port) if host else None


class Allowed:
    """The hosts the user allowed (settings web.allowed_hosts, plus a SearXNG address they configured)."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.entries = [e for e in (parse_entry(str(t)) for t in entries) if e is not None]

    def name(self, host: str, port: int) -> bool:
        return any(e.matches_name(_host(host), port) for e in self.entries)

    def address(self, ip: IPAddress, port: int) -> bool:
        return any(e.matches_ip(ip, port) for e in self.entries)


def _is_localhost(host: str) -> bool:
    # RFC 6761: these names always mean this computer, whatever DNS says (and "localhost." often fails
    # to resolve at all, which would hide the reason behind a "no internet" error).
    return host == "localhost" or host.endswith(".localhost")


class GuardedBackend(httpcore.SyncBackend):
    """Resolves each host once, refuses non-public addresses, and connects to an address it checked."""

    def __init__(self, allowed: Allowed) -> None:
        super().__init__()
        self.allowed = allowed

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None) -> httpcore.NetworkStream:
        name = _host(host)
        if self.allowed.name(name, port):  # the user trusts this host wherever it points
            return super().connect_tcp(host, port, timeout, local_address, socket_options)
        addresses = vetted_addresses(name, port, self.allowed)
        error: Exception | None = None
        for address in addresses:  # like socket.create_connection, but only over checked addresses
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error


def vetted_addresses(host: str, port: int, allowed: Allowed) -> list[str]:
    """The addresses of `host` the web tools may connect to; raises AddressRefused if there are none."""
    host = _host(host)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        found = [str(literal)]
    elif _is_localhost(host):
        found = ["127.0.0.1", "::1"]
    else:
        try:
            # Odd spellings such as 2130706433 or 0x7f.1 come back here as the address they mean.
            found = resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
    vetted, refused = [], []
    for text in found:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
        why = None if allowed.address(ip, port) else not_public(ip)
        (refused if why else vetted).append((text, why))
    if vetted:
        return [text for text, _ in vetted]
    if not refused:
        raise httpcore.ConnectError(f"{host} has no address")
    address, why = refused[0]
    shown_host = f"[{host}]" if ":" in host else host
    target = shown_host if literal is not None or address == host else f"{host} ({address})"
    raise AddressRefused(
        f"refused to connect to {target}: it is {why}. The web tools only reach public internet "
        f"addresses, so a web page or a message cannot make them read your computer or local network. "
        f"If you trust this host, allow it: add \"{shown_host}:{port}\" to web.allowed_hosts "
        f"(Settings > Web search > Allowed private hosts, or allowed_hosts under [web] in config.toml)")


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport over a GuardedBackend connection pool.

    Proxies from the environment (HTTP_PROXY, ALL_PROXY...) are deliberately not used: through a proxy
    the proxy opens the connection, to an address this guard never sees, so the check could not hold.
    """

    def __init__(self, allowed: Allowed) -> None:  # noqa: super().__init__ would build a pool we replace
        # handle_request, __enter__ and __exit__ of HTTPTransport use only self._pool.
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(),
                                             network_backend=GuardedBackend(allowed))


def guarded_client(allowed: Allowed, **kwargs: object) -> httpx.Client:
    """An httpx.Client whose every connection (redirects included) goes through the guard."""
    # trust_env=False: no environment proxies (see GuardedTransport) and no .netrc passwords sent to pages.
    return httpx.Client(transport=GuardedTransport(allowed), trust_env=False, **kwargs)  # type: ignore[arg-type]
