"""Which entry links may be shown. A citation URL reaches browsers, Slack and Discord as a
clickable link, so anything but a plain http(s) or mailto address is refused at ingest and
blanked at output (for entries stored before this check)."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

# Characters a URL must percent-encode; in a link they can break out of Markdown or markup.
_NOT_IN_URLS = set('<>"`{}|\\^')
# Browsers drop tabs and line breaks anywhere in a URL ("java\tscript:" runs), so the
# scheme is read the way they read it.
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):")


def _invisible(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf")


def link_problem(url: str) -> str:
    """What makes ``url`` unfit to show as a link ("" when it is fine; an empty url is fine)."""
    url = url.strip()
    if not url:
        return ""
    scheme = _SCHEME.match("".join(ch for ch in url if not _invisible(ch)).lower())
    if not scheme:
        return f"not http(s) ({url[:40]!r})"
    if scheme.group(1) not in ("http", "https", "mailto"):
        return f"not http(s) ({scheme.group(1)}:…)"
    if any(_invisible(ch) or ch in _NOT_IN_URLS for ch in url):
        return 'written with spaces, control characters or one of <>"`{}|\\^ in it'
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port  # both raise on a malformed address
    except ValueError:
        return "not a valid address"
    mail = parts.scheme.lower() == "mailto"
    if mail and "@" not in parts.path:
        return "not an e-mail address (mailto:…)"
    if not mail and (not host or not url.lower().startswith(("http://", "https://"))):
        return "missing its host (write it as https://host/path)"
    if "@" in parts.netloc:
        return "carrying a user name or password (…@)"
    # [ ] belong around an IPv6 host only; after it, "…)[x](…" would add a Markdown link.
    if set("[]") & set(parts.path + parts.query + parts.fragment):
        return "written with [ or ] after the host"
    return ""


def is_safe_link(url: str) -> bool:
    """True for an http(s) address with a host and no credentials, or a mailto: address."""
    return bool(url.strip()) and not link_problem(url)


def safe_link(url: str) -> str:
    """``url`` (trimmed) if it may be shown, else ""."""
    return url.strip() if is_safe_link(url) else ""
