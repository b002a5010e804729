"""URL helpers shared by every layer that prints or keys on a URL."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """`https://user:secret@host/x` -> `https://user:****@host/x`: never print a password."""
    parts = urlsplit(url)
    if not parts.password and "@" not in parts.netloc:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    netloc = f"{user}:****@{host}" if ":" in userinfo else f"****@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
