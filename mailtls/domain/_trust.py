"""Does an MX certificate (the leaf nmap's ``ssl-cert`` saw) chain to a trusted CA?

nmap shows only the leaf, so the check is one step deep: trusted when the leaf is in
the trust store or signed directly by a CA in it; untrusted when it is self-issued (and
not in the store) or its issuer is in the store but the signature does not verify;
unknown when its issuer is not in the store (typically an intermediate nmap did not
show): that is not a finding.
"""

from __future__ import annotations

import os
import warnings
from functools import lru_cache

from cryptography import x509

from ..model.domain import Trust


@lru_cache(maxsize=8)
def load_store(ca_file: str | None) -> tuple[x509.Certificate, ...]:
    if ca_file is None:
        try:
            import certifi
        except ImportError:  # no bundle at hand: every issuer is "unknown"
            return ()
        ca_file = certifi.where()
    with open(ca_file, "rb") as handle, warnings.catch_warnings():
        # Some public bundles hold old roots with non-positive serials: still roots.
        warnings.simplefilter("ignore")
        return tuple(x509.load_pem_x509_certificates(handle.read()))


def trust_of(pem: str, ca_file: str | os.PathLike[str] | None) -> Trust | None:
    if not pem:
        return None
    try:
        leaf = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return Trust.UNKNOWN
    store = load_store(os.fspath(ca_file) if ca_file is not None else None)
    if leaf in store:
        return Trust.TRUSTED
    issuers = [ca for ca in store if ca.subject == leaf.issuer]
    for ca in issuers:
        try:
            leaf.verify_directly_issued_by(ca)
            return Trust.TRUSTED
        except Exception:  # noqa: BLE001, S112 - InvalidSignature, or a key type that cannot sign: try the next CA
            continue
    if issuers or leaf.issuer == leaf.subject:
        return Trust.UNTRUSTED
    return Trust.UNKNOWN
