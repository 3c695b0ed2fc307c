"""What the capability scripts printed, read into ``Capabilities``.

``smtp-commands``, ``imap-capabilities`` and ``pop3-capabilities`` give only an
output string; each protocol's string has its own shape, described where it is read.
"""

from __future__ import annotations

import re

from lxml import etree

from ..model.records import Capabilities
from ..protocols import Protocol

_SASL = re.compile(r"^SASL\((?P<mechs>[^)]*)\)$")


# What the capability scripts print when they could not talk to the server at all.
_SCRIPT_FAILURES = ("Couldn't establish connection", "Failed to connect", "Failed to retrieve")


def capabilities(elem: etree._Element, protocol: Protocol, *, before_tls: bool) -> Capabilities | None:
    raw = elem.get("output", "")
    if raw.strip().startswith(_SCRIPT_FAILURES):
        return None
    if protocol is Protocol.SMTP:
        return _smtp_capabilities(elem.get("id", ""), raw, before_tls)
    if protocol is Protocol.IMAP:
        return _imap_capabilities(elem.get("id", ""), raw, before_tls)
    return _pop3_capabilities(elem.get("id", ""), raw, before_tls)


def _smtp_capabilities(script: str, raw: str, before_tls: bool) -> Capabilities:
    # smtp-commands: the EHLO reply lines joined with ", " (first line is the greeting),
    # then "\n " and the HELP text. Only the EHLO part says what the server offers.
    ehlo = raw.split("\n", 1)[0]
    lines = [line.strip() for line in ehlo.split(",")][1:]
    keywords: list[str] = []
    mechanisms: list[str] = []
    for line in lines:
        words = line.upper().split()
        if not words:
            continue
        keywords.append(words[0])
        if words[0] == "AUTH":
            mechanisms.extend(words[1:])
        elif words[0].startswith("AUTH="):  # obsolete form some servers still send
            mechanisms.extend([words[0][5:], *words[1:]])
    return Capabilities(
        script=script,
        raw=raw,
        keywords=tuple(keywords),
        auth_mechanisms=_unique(mechanisms),
        starttls="STARTTLS" in keywords,
        before_tls=before_tls,
    )


def _imap_capabilities(script: str, raw: str, before_tls: bool) -> Capabilities:
    # imap-capabilities prints a Lua table's keys in no fixed order, and Dovecot's
    # tagged "OK" text runs into the last token (e.g. "LOGINDISABLEDA0001",
    # "AUTH=PLAINA0001"). Match known capabilities by prefix for that reason.
    tokens = [t.upper() for t in raw.split()]
    mechanisms = [t[5:] for t in tokens if t.startswith("AUTH=")]
    mechanisms = [re.sub(r"A\d{4}$", "", m) for m in mechanisms]
    return Capabilities(
        script=script,
        raw=raw,
        keywords=tuple(tokens),
        auth_mechanisms=_unique(mechanisms),
        starttls=any(t.startswith("STARTTLS") for t in tokens),
        login_disabled=any(t.startswith("LOGINDISABLED") for t in tokens),
        before_tls=before_tls,
    )


def _pop3_capabilities(script: str, raw: str, before_tls: bool) -> Capabilities:
    # pop3-capabilities: "CAP" or "CAP(arg arg)" items separated by spaces, unordered.
    tokens = re.findall(r"[^\s(]+(?:\([^)]*\))?", raw)
    keywords = [t.split("(", 1)[0].upper() for t in tokens]
    mechanisms: list[str] = []
    for token in tokens:
        match = _SASL.match(token.upper())
        if match:
            mechanisms.extend(match["mechs"].split())
    return Capabilities(
        script=script,
        raw=raw,
        keywords=tuple(keywords),
        auth_mechanisms=_unique(mechanisms),
        starttls="STLS" in keywords,
        user_login="USER" in keywords,
        before_tls=before_tls,
    )


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
