"""NSE structured output (``<table>``/``<elem>``) of the TLS scripts, read into records.

``ssl-enum-ciphers`` gives one ``<table key="TLSv1.x">`` per protocol and a top-level
``least strength`` grade; ``ssl-cert`` gives ``subject``, ``issuer``, ``pubkey``,
``validity`` and ``extensions`` tables, and its ``pem`` (nmap 7.93's scripts/ssl-cert.nse).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable

from lxml import etree

from ..model.records import Certificate, Cipher, NameAttribute, TlsProfile, TlsVersion


def _keyed(elem: etree._Element, tag: str, key: str) -> etree._Element | None:
    for child in elem.iterchildren(tag):
        if child.get("key") == key:
            return child
    return None


def _index(elem: etree._Element) -> dict[str, etree._Element]:
    """key -> keyed child (``<elem>`` or ``<table>``), in one pass."""
    return {child.get("key", ""): child for child in elem}


def _texts(elem: etree._Element) -> dict[str, str]:
    """key -> text of every keyed ``<elem>`` child, in one pass."""
    return {e.get("key", ""): (e.text or "").strip() for e in elem.iterchildren("elem")}


def _text(elem: etree._Element, key: str) -> str:
    found = _keyed(elem, "elem", key)
    return (found.text or "").strip() if found is not None else ""


def _items(elem: etree._Element | None) -> tuple[str, ...]:
    if elem is None:
        return ()
    return tuple((e.text or "").strip() for e in elem.iterchildren("elem"))


@functools.lru_cache(maxsize=4096)
def _cipher(name: str, kex_info: str, strength: str) -> Cipher:
    # The same few dozen suites recur on every port of every host: share one immutable
    # record for each instead of building (and keeping) thousands of equal ones.
    return Cipher(name=name, kex_info=kex_info, strength=strength)


def tls_profile(elem: etree._Element) -> TlsProfile:
    versions = []
    for table in elem.iterchildren("table"):
        parts = _index(table)
        ciphers_el = parts.get("ciphers")
        ciphers = tuple(
            _cipher(t.get("name", ""), t.get("kex_info", ""), t.get("strength", ""))
            for t in map(_texts, ciphers_el.iterchildren("table") if ciphers_el is not None else ())
        )
        preference = parts.get("cipher preference")
        versions.append(
            TlsVersion(
                name=table.get("key", ""),
                ciphers=ciphers,
                compressors=_items(parts.get("compressors")),
                cipher_preference=(preference.text or "").strip() if preference is not None else "",
                warnings=_items(parts.get("warnings")),
            )
        )
    return TlsProfile(versions=tuple(versions), least_strength=_text(elem, "least strength"))


def _names(elem: etree._Element | None) -> tuple[NameAttribute, ...]:
    if elem is None:
        return ()
    return tuple(NameAttribute(key=e.get("key", ""), value=(e.text or "").strip()) for e in elem.iterchildren("elem"))


def certificate(elem: etree._Element, complain: Callable[[str], object] = lambda message: None) -> Certificate | None:
    """The certificate ``ssl-cert`` saw; a field that cannot be read is left empty and ``complain``ed about."""
    parts = _index(elem)
    pubkey = _texts(parts["pubkey"]) if "pubkey" in parts else {}
    validity = _texts(parts["validity"]) if "validity" in parts else {}
    if not pubkey and not validity:
        return None  # nmap without OpenSSL only dumps the PEM
    sans: tuple[str, ...] = ()
    extensions = parts.get("extensions")
    for ext in map(_texts, extensions.iterchildren("table") if extensions is not None else ()):
        if ext.get("name") == "X509v3 Subject Alternative Name":
            sans = tuple(part.strip() for part in ext.get("value", "").split(",") if part.strip())

    def text(key: str) -> str:
        found = parts.get(key)
        return (found.text or "").strip() if found is not None else ""

    bits = pubkey.get("bits", "")
    # A number of bits nmap could have printed, or nothing (a hostile "1e400" is not one).
    key_bits = int(bits) if bits.isascii() and bits.isdigit() and len(bits) <= 6 else None
    if bits and key_bits is None:
        complain(f"ssl-cert key size {bits[:40]!r} is not a number of bits: left empty")
    return Certificate(
        subject=_names(parts.get("subject")),
        issuer=_names(parts.get("issuer")),
        subject_alt_names=sans,
        key_type=pubkey.get("type", ""),
        key_bits=key_bits,
        signature_algorithm=text("sig_algo"),
        not_before=_timestamp(validity.get("notBefore", "")),
        not_after=_timestamp(validity.get("notAfter", "")),
        sha1=text("sha1"),
        pem=text("pem"),
    )


def _timestamp(value: str) -> dt.datetime | None:
    # ssl-cert prints ISO 8601 ("2030-01-01T00:00:00", sometimes with an offset),
    # or "MISSING"/"Can't parse..." for a broken certificate: those become None.
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)
