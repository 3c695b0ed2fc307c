"""What the capability scripts printed, read into ``Capabilities``.

``smtp-commands``, ``imap-capabilities`` and ``pop3-capabilities`` give only an
output string; each protocol's string has its own shape, described where it is read.
mailtls's own ``mailtls-ehlo`` gives a structured table instead (``ehlo_capabilities``).
"""

from __future__ import annotations

import re

import attrs
from lxml import etree

from ..model.records import Capabilities
from ..protocols import Protocol

_SASL = re.compile(r"^SASL\((?P<mechs>[^)]*)\)$")
# An EHLO keyword (RFC 5321 4.1.1.1): a letter or digit, then letters, digits, hyphens.
_EHLO_KEYWORD = re.compile(r"^[A-Z0-9][A-Z0-9-]*$")
# nmap's IMAP library tags its commands A0001, A0002...; Dovecot's tagged reply text runs
# into the last capability token ("LOGINDISABLEDA0001"), so that suffix is cut off.
_IMAP_TAG = re.compile(r"A\d{4}$")


@attrs.frozen
class Inconclusive:
    """The capability script could not complete its exchange with the server."""

    reason: str


# What the capability scripts print when the exchange failed (smtp.lua's check_reply
# prefixes the refused command: "SMTP: EHLO 421 4.3.2 try later", and smtp.query a command
# that got no reply: "SMTP EHLO: failed to receive data: ..."; imap-capabilities prints
# "ERROR: Failed to ..."; a greeting that is not "+OK" leaves pop3-capabilities silent).
_FAILURE_PREFIXES = (
    "SMTP: ",
    "SMTP EHLO: ",
    "ERROR:",
    "Couldn't establish connection",
    "Failed to connect",
    "Failed to retrieve",
    "server doesn't support",
)


def capabilities(
    script: str, raw: str, protocol: Protocol, *, before_tls: bool
) -> Capabilities | Inconclusive:
    """What one capability script's output says the server offers, or why it says nothing."""
    text = raw.strip()
    if not text:
        return Inconclusive(f"{script} printed nothing")
    if text.startswith(_FAILURE_PREFIXES):
        return Inconclusive(f"{script}: {text.splitlines()[0][:200]}")
    if protocol is Protocol.SMTP:
        return _smtp_capabilities(script, raw, before_tls)
    if protocol is Protocol.IMAP:
        return _imap_capabilities(script, raw, before_tls)
    return _pop3_capabilities(script, raw, before_tls)


def ehlo_capabilities(elem: etree._Element, raw: str, *, before_tls: bool) -> Capabilities | Inconclusive:
    """What ``mailtls-ehlo`` saw: its ``keywords`` lines, each one EHLO reply line after the
    first (RFC 5321 4.1.1.1: the first line is the domain and free text), or its ``error``.

    ``raw`` is ``smtp-commands``'s string where it ran too: the Capabilities keep it, for the
    HELP text that mailtls-ehlo does not ask for. Otherwise they keep the EHLO lines in
    smtp-commands' shape (joined with ", "), for evidence."""
    fields = {child.get("key", ""): child for child in elem}
    error = fields.get("error")
    if error is not None:
        return Inconclusive(f"mailtls-ehlo: {(error.text or '').strip()[:200]}")
    keywords = fields.get("keywords")
    if keywords is None or "greeting" not in fields:
        return Inconclusive("mailtls-ehlo printed no EHLO reply")
    lines = [(line.text or "").strip() for line in keywords.iterchildren("elem")]
    greeting = (fields["greeting"].text or "").strip()
    return _smtp_keywords("mailtls-ehlo", (raw.strip() and raw) or ", ".join([greeting, *lines]), lines, before_tls)


def _smtp_capabilities(script: str, raw: str, before_tls: bool) -> Capabilities:
    # smtp-commands: the EHLO reply lines joined with ", " (first line is the greeting),
    # then "\n " and the HELP text. Only the EHLO part says what the server offers.
    # The greeting's free text may itself hold ", " ("mx.example Hello, STARTTLS"): from
    # this string alone that cannot be told apart from a keyword line, which is why
    # mailtls runs its own mailtls-ehlo and prefers it (see ehlo_capabilities).
    ehlo = raw.split("\n", 1)[0]
    return _smtp_keywords(script, raw, [line.strip() for line in ehlo.split(",")][1:], before_tls)


def _smtp_keywords(script: str, raw: str, lines: list[str], before_tls: bool) -> Capabilities:
    # A keyword is the first word of an EHLO line after the greeting, and only counts if it
    # has the shape of one: "STARTTLSX" is not STARTTLS.
    keywords: list[str] = []
    mechanisms: list[str] = []
    for line in lines:
        words = line.upper().split()
        if not words or not _EHLO_KEYWORD.match(words[0].split("=", 1)[0]):
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
    # "AUTH=PLAINA0001"): the tag is cut off, then tokens are matched whole.
    tokens = [_IMAP_TAG.sub("", t.upper()) for t in raw.split()]
    mechanisms = [t[5:] for t in tokens if t.startswith("AUTH=")]
    return Capabilities(
        script=script,
        raw=raw,
        keywords=tuple(tokens),
        auth_mechanisms=_unique(mechanisms),
        starttls="STARTTLS" in tokens,
        login_disabled="LOGINDISABLED" in tokens,
        before_tls=before_tls,
    )


def _pop3_capabilities(script: str, raw: str, before_tls: bool) -> Capabilities:
    # pop3-capabilities: "CAP" or "CAP(arg arg)" items separated by spaces, unordered.
    # STLS and USER take no arguments: "STLS(fake)" is some other capability, not STLS.
    tokens = re.findall(r"[^\s(]+(?:\([^)]*\))?", raw)
    keywords = [t.split("(", 1)[0].upper() for t in tokens]
    bare = {t.upper() for t in tokens if "(" not in t}
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
        starttls="STLS" in bare,
        user_login="USER" in bare,
        before_tls=before_tls,
    )


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
