"""DNS lookups for ``assess_domain``, through the caller's dnspython resolver only.

Each lookup ends in one of three ways: records (possibly none: NXDOMAIN and NODATA are
answers), or ``Inconclusive`` with the reason (a time-out, SERVFAIL, no nameserver):
not seen is not absent. The AD bit of each answer is kept, for DANE.
"""

from __future__ import annotations

import copy
from typing import Any

import attrs
import dns.exception
import dns.flags
import dns.name
import dns.rdatatype
import dns.resolver


class Inconclusive(Exception):
    """The lookup failed on the way: nothing can be concluded from it (its ``inconclusive``)."""


@attrs.frozen
class Answer:
    #: dnspython rdata objects of the asked type (MX, TXT, TLSA, A, AAAA).
    records: tuple[Any, ...] = ()
    #: The resolver set the AD bit: it validated the answer with DNSSEC.
    authenticated: bool = False
    #: The name does not exist (NXDOMAIN), as opposed to existing without such records.
    nxdomain: bool = False


class Lookups:
    """Ask the caller's resolver, with the AD flag set on the queries (RFC 6840 5.7: a
    validating resolver sets AD in the answer only when the query asked for it)."""

    def __init__(self, resolver: dns.resolver.Resolver | None):
        base = resolver if resolver is not None else dns.resolver.Resolver()
        # A copy: the caller's resolver object is not changed.
        self.resolver = copy.copy(base)
        flags = base.flags if base.flags is not None else dns.flags.RD
        self.resolver.flags = flags | dns.flags.AD

    def query(self, name: str, rdtype: str) -> Answer:
        qname = dns.name.from_text(name)  # absolute: no search list
        try:
            answer = self.resolver.resolve(qname, rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN as exc:
            # dnspython leaves NXDOMAIN.response unannotated.
            response = exc.response(qname) if hasattr(exc, "response") else None  # type: ignore[no-untyped-call]
            ad = bool(response is not None and response.flags & dns.flags.AD)
            return Answer(nxdomain=True, authenticated=ad)
        except dns.resolver.NoNameservers as exc:
            raise Inconclusive(f"{name} {rdtype}: no nameserver gave an answer (SERVFAIL or refused; a DNSSEC "
                             f"validation failure looks like this): {exc}") from None
        except dns.exception.Timeout:
            raise Inconclusive(f"{name} {rdtype}: the resolver did not answer in time") from None
        except dns.exception.DNSException as exc:
            raise Inconclusive(f"{name} {rdtype}: {type(exc).__name__}: {exc}") from None
        records = tuple(answer.rrset) if answer.rrset is not None else ()
        return Answer(records=records, authenticated=bool(answer.response.flags & dns.flags.AD))

    def txt(self, name: str) -> list[str]:
        """Each TXT record as one string (its character-strings joined, RFC 7208 3.3 style)."""
        return [b"".join(r.strings).decode("utf-8", "replace") for r in self.query(name, "TXT").records]

    def addresses(self, name: str) -> tuple[tuple[str, ...], bool]:
        """(IPv4 then IPv6 addresses, the name exists)."""
        found: list[str] = []
        exists = True
        for rdtype in ("A", "AAAA"):
            answer = self.query(name, rdtype)
            exists = exists and not answer.nxdomain
            found += [r.address for r in answer.records]
        return tuple(found), exists
