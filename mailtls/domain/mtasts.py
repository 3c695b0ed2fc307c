"""MTA-STS (RFC 8461): the ``_mta-sts`` TXT record, the policy fetched over HTTPS, its syntax.

The fetch follows RFC 8461 section 3.3: ``https://mta-sts.<domain>/.well-known/mta-sts.txt``
with full certificate validation (against ``ca_file`` when given, else the default
trust store), no redirects, a bounded size and time. The policy host's name is
resolved through the caller's resolver, never the system's, and the connection goes
to that address with the name as SNI and Host. What a sending server would also
fail on (a redirect, an HTTP error, a certificate that does not verify, a bad policy)
is the domain's ``error``; what may be our own network's doing (a time-out, a refused
connection, a lookup without an answer) is ``inconclusive``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import ssl
import time

import httpx

from ..model.domain import MtaSts, StsMode, StsPolicy
from ._dns import Inconclusive, Lookups

WELL_KNOWN = "/.well-known/mta-sts.txt"
#: Policies are a few lines; RFC 8461 leaves the limit to the sender. 64 KiB is generous.
MAX_POLICY_BYTES = 64 * 1024
#: RFC 8461 3.2: max_age is at most 31557600 (about a year).
MAX_AGE_LIMIT = 31557600
_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
MODES = tuple(mode.value for mode in StsMode)


def parse_record(texts: list[str]) -> tuple[str | None, str, str]:
    """(the STSv1 record, its id, what is wrong with it) from the TXT strings at ``_mta-sts``."""
    records = [t for t in texts if t.startswith("v=STSv1")]
    if not records:
        return None, "", ""
    if len(records) > 1:
        return records[0], "", f"{len(records)} v=STSv1 TXT records (RFC 8461 3.1 allows one)"
    fields = dict(
        (key.strip(), value.strip())
        for key, sep, value in (part.partition("=") for part in records[0].split(";"))
        if sep
    )
    if fields.get("v") != "STSv1":
        return records[0], "", "the record does not start with v=STSv1"
    ident = fields.get("id", "")
    if not _ID.match(ident):
        return records[0], ident, f"the record's id {ident!r} is not 1-32 letters and digits"
    return records[0], ident, ""


def parse_policy(text: str) -> tuple[StsPolicy, str]:
    """The policy, and what is wrong with it ("" if nothing) per RFC 8461 3.2."""
    fields: dict[str, list[str]] = {}
    for line in re.split(r"\r?\n", text):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            return StsPolicy(text=text), f"line {line[:60]!r} is not 'key: value'"
        fields.setdefault(key.strip(), []).append(value.strip())
    version = (fields.get("version") or [""])[0]
    mode = (fields.get("mode") or [""])[0]
    mx = tuple(fields.get("mx", ()))
    raw_age = (fields.get("max_age") or [""])[0]
    max_age = int(raw_age) if raw_age.isdigit() and len(raw_age) <= 10 else None
    known = StsMode(mode) if mode in MODES else None
    policy = StsPolicy(version=version, mode=known, mx=mx, max_age=max_age, text=text)
    if version != "STSv1":
        return policy, f"version is {version!r}, not STSv1"
    if mode not in MODES:
        return policy, f"mode is {mode!r}, not one of {', '.join(MODES)}"
    if max_age is None or max_age > MAX_AGE_LIMIT:
        return policy, f"max_age {raw_age!r} is not a number of seconds up to {MAX_AGE_LIMIT}"
    if mode != "none" and not mx:
        return policy, "no mx line: a policy that is not mode none must list the MX hosts"
    for pattern in mx:
        if not re.match(
            r"^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$", pattern
        ):
            return policy, f"mx pattern {pattern!r} is not a host name or *.domain"
    return policy, ""


def _verify_context(ca_file: str | os.PathLike[str] | None) -> ssl.SSLContext | bool:
    if ca_file is None:
        return True  # httpx's default: certifi's bundle, full validation
    return ssl.create_default_context(cafile=os.fspath(ca_file))


def _ssl_cause(exc: BaseException) -> BaseException | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def fetch_policy(
    domain: str, lookups: Lookups, *, ca_file: str | os.PathLike[str] | None = None, timeout: float = 10.0
) -> tuple[str | None, str, str]:
    """(the policy text, error, inconclusive): one of the three is set."""
    host = f"mta-sts.{domain}"
    try:
        addresses, exists = lookups.addresses(host)
    except Inconclusive as exc:
        return None, "", f"the policy host's address could not be looked up: {exc}"
    if not addresses:
        return None, f"{host} has no address record{'' if exists else ' (the name does not exist)'}", ""
    deadline = time.monotonic() + timeout
    errors = []
    with httpx.Client(
        verify=_verify_context(ca_file),
        follow_redirects=False,
        timeout=httpx.Timeout(timeout),
        trust_env=False,  # no proxy from the environment: the domain's own host only
    ) as client:
        for address in addresses:
            literal = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
            try:
                with client.stream(
                    "GET",
                    f"https://{literal}{WELL_KNOWN}",
                    headers={"Host": host, "Accept": "text/plain"},
                    extensions={"sni_hostname": host},
                ) as response:
                    if response.is_redirect:
                        where = response.headers.get("location", "?")
                        return (
                            None,
                            f"the policy URL answers with a redirect ({response.status_code} to {where}), "
                            "which RFC 8461 3.3 forbids following",
                            "",
                        )
                    if response.status_code != 200:
                        return None, f"the policy URL answers HTTP {response.status_code}", ""
                    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
                    if media != "text/plain":
                        return None, f"the policy is served as {media or 'no media type'!r}, not text/plain", ""
                    body = b""
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > MAX_POLICY_BYTES:
                            return None, f"the policy is larger than {MAX_POLICY_BYTES} bytes", ""
                        if time.monotonic() > deadline:
                            return None, "", f"the policy took longer than {timeout:g} s to arrive"
                    return body.decode("utf-8", "replace"), "", ""
            except httpx.HTTPError as exc:
                cause = _ssl_cause(exc)
                if cause is not None:
                    return None, f"the policy server's certificate does not verify for {host}: {cause}", ""
                errors.append(f"{address}: {type(exc).__name__}: {exc}")
    return None, "", "the policy could not be fetched: " + "; ".join(errors)


def assess_mta_sts(
    domain: str, lookups: Lookups, *, ca_file: str | os.PathLike[str] | None = None, timeout: float = 10.0
) -> MtaSts:
    try:
        texts = lookups.txt(f"_mta-sts.{domain}")
    except Inconclusive as exc:
        return MtaSts(inconclusive=f"the _mta-sts TXT record could not be looked up: {exc}")
    record, ident, error = parse_record(texts)
    if record is None or error:
        return MtaSts(record=record, id=ident, error=error)
    text, error, inconclusive = fetch_policy(domain, lookups, ca_file=ca_file, timeout=timeout)
    if text is None:
        return MtaSts(record=record, id=ident, error=error, inconclusive=inconclusive)
    policy, error = parse_policy(text)
    return MtaSts(record=record, id=ident, policy=policy, error=f"the policy is invalid: {error}" if error else "")
