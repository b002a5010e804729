"""Which proxy a request goes through: `<scheme>_proxy`, `all_proxy` and `no_proxy` from
the environment, with the standard library's rules (`urllib.request.getproxies_environment`
and `proxy_bypass_environment`, Python 3.9 and later), restated here.

Why not call those: `urllib.request` imports `http.client`, the `email` package,
`tempfile` and more (25-45 ms of CPU), and the first request of every run waited for that
import while holding the import lock every other request thread needed. These two
functions need only `os` and `re`. tests/test_http_proxies.py checks that the answers
match the standard library's.
"""

from __future__ import annotations

import os
import re

_PORT = re.compile(r"(.*):([0-9]*)", re.DOTALL)


def environment_proxies() -> dict[str, str]:
    """Scheme (`http`, `https`, `all`, `no`...) → proxy URL, from `<scheme>_proxy`
    variables of either case, a lower-case variable winning over an upper-case one (an
    empty lower-case one removes the entry). Running as a CGI script (`REQUEST_METHOD`
    set), `HTTP_PROXY` is ignored: a client can set it with a `Proxy:` header
    (CVE-2016-1000110)."""
    proxies: dict[str, str] = {}
    found: list[tuple[str, str, str]] = []
    for name, value in os.environ.items():
        if len(name) > 5 and name[-6] == "_" and name[-5:].lower() == "proxy":
            scheme = name[:-6].lower()
            found.append((name, value, scheme))
            if value:
                proxies[scheme] = value
    if "REQUEST_METHOD" in os.environ:
        proxies.pop("http", None)
    for name, value, scheme in found:
        if name[-6:] == "_proxy":
            if value:
                proxies[scheme] = value
            else:
                proxies.pop(scheme, None)
    return proxies


def bypasses(host: str, proxies: dict[str, str]) -> bool:
    """Whether `no_proxy` exempts `host` (`name` or `name:port`): `*` exempts every host,
    and each comma-separated entry matches the host (with or without its port) exactly
    or as a domain suffix, leading dots ignored, case-insensitively."""
    no_proxy = proxies.get("no")
    if no_proxy is None:
        return False
    if no_proxy == "*":
        return True
    host = host.lower()
    match = _PORT.fullmatch(host)
    host_only = match.group(1) if match and match.group(2) else host
    for entry in no_proxy.split(","):
        name = entry.strip().lstrip(".").lower()
        if not entry.strip():
            continue
        if host_only == name or host == name:
            return True
        if host_only.endswith("." + name) or host.endswith("." + name):
            return True
    return False
