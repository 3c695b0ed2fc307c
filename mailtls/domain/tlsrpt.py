"""TLS-RPT (RFC 8460): the ``_smtp._tls`` TXT record and where reports go."""

from __future__ import annotations

from ..model.domain import TlsRpt
from ._dns import Inconclusive, Lookups


def parse_record(texts: list[str]) -> TlsRpt:
    records = [t for t in texts if t.startswith("v=TLSRPTv1")]
    if not records:
        return TlsRpt()
    if len(records) > 1:
        return TlsRpt(record=records[0], error=f"{len(records)} v=TLSRPTv1 records (RFC 8460 3 allows one)")
    fields = {}
    for part in records[0].split(";"):
        key, sep, value = part.partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    rua = tuple(u.strip() for u in fields.get("rua", "").split(",") if u.strip())
    if not rua:
        return TlsRpt(record=records[0], error="no rua destination: reports have nowhere to go")
    bad = [u for u in rua if not u.lower().startswith(("mailto:", "https:"))]
    if bad:
        return TlsRpt(record=records[0], rua=rua, error=f"rua {', '.join(bad)} is neither mailto: nor https:")
    return TlsRpt(record=records[0], rua=rua)


def assess_tls_rpt(domain: str, lookups: Lookups) -> TlsRpt:
    try:
        return parse_record(lookups.txt(f"_smtp._tls.{domain}"))
    except Inconclusive as exc:
        return TlsRpt(inconclusive=f"the _smtp._tls TXT record could not be looked up: {exc}")
