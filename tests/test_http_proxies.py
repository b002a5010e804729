"""http/proxies.py restates the standard library's proxy rules without importing
`urllib.request`; these tests hold it to the same answers, case by case.

(The stdlib is the oracle here, not a mock: a difference is a bug in wherry's copy.)
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request

import pytest

from wherry.http.proxies import bypasses, environment_proxies

ENVIRONMENTS = [
    {},
    {"HTTP_PROXY": "http://upper:1"},
    {"http_proxy": "http://lower:1"},
    {"HTTP_PROXY": "http://upper:1", "http_proxy": "http://lower:1"},
    {"HTTP_PROXY": "http://upper:1", "http_proxy": ""},
    {"HTTPS_PROXY": "http://s:1", "ALL_PROXY": "socks5://a:1", "NO_PROXY": "example.com"},
    {"Http_Proxy": "http://mixed:1"},
    {"HTTP_PROXY": "http://upper:1", "REQUEST_METHOD": "GET"},
    {"http_proxy": "http://lower:1", "REQUEST_METHOD": "GET"},
    {"no_proxy": "", "NO_PROXY": "x"},
    {"_proxy": "x", "proxy": "y", "a_PROXY": ""},
]

# Cleared in every case so the machine's own settings do not leak into the comparison.
_CLEARED = {name for env in ENVIRONMENTS for name in env} | {
    "http_proxy", "https_proxy", "all_proxy", "no_proxy",
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD"}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_environment_proxies_match_the_standard_library(
        monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]) -> None:
    import os

    for name in list(os.environ):
        if name in _CLEARED or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert environment_proxies() == urllib.request.getproxies_environment()


HOSTS = ["example.com", "EXAMPLE.com:8080", "sub.example.com", "notexample.com",
         "localhost:3128", "127.0.0.1", "[::1]:443", "a.b.c.d", "host.", "example.com.:1"]
NO_PROXY = ["example.com", ".example.com", "*", " localhost , 127.0.0.1 ", "EXAMPLE.COM:8080",
            "", ",,", ".", "c.d", "::1", "[::1]", "sub.example.com:1,foo"]


@pytest.mark.parametrize("no_proxy", NO_PROXY)
def test_bypasses_matches_the_standard_library(no_proxy: str) -> None:
    proxies = {"http": "http://p:1", "no": no_proxy}
    for host in HOSTS:
        expected = urllib.request.proxy_bypass_environment(  # type: ignore[attr-defined]
            host, proxies)
        assert bypasses(host, proxies) == expected, (host, no_proxy)
    assert not bypasses("example.com", {"http": "http://p:1"})


def test_choosing_a_proxy_does_not_import_urllib_request() -> None:
    # The reason the module exists: urllib.request costs tens of milliseconds before the
    # first request of every run.
    code = (
        "import sys, os\n"
        "os.environ['HTTPS_PROXY'] = 'http://proxy.invalid:3128'\n"
        "os.environ['NO_PROXY'] = 'localhost'\n"
        "from wherry.http.client import HttpClient\n"
        "client = HttpClient()\n"
        "assert client._proxy_for('https', 'files.example', 443) == "
        "'http://proxy.invalid:3128'\n"
        "assert client._proxy_for('https', 'localhost', 443) is None\n"
        "print('urllib.request' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert out.strip() == "False"
