"""Certificates for the lab, made fresh at every start (no key material is kept in git).

Made with the ``cryptography`` package rather than the openssl CLI because it can make
what OpenSSL 3.0's CLI resists: an RSA-1024 key and dates in the past. cryptography (>= 4x)
refuses to *sign* a certificate with SHA-1 though, so the weak one is signed with SHA-256
first and then re-signed by hand: the TBS part gets the sha1WithRSAEncryption identifier
and a PKCS#1 v1.5 SHA-1 signature (which cryptography still makes) is wrapped around it.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

#: name -> (key bits, signature hash, notBefore, notAfter: a date, a time from now, or None
#: for "a year from now"). "weak" is everything a scanner should flag at once: short key,
#: SHA-1, expired in 2020. "expiring" is sound but has 10 days left, and (unlike "good")
#: is not for "localhost", so a scan asked for that name sees a mismatch.
PROFILES = {
    "good": (2048, hashes.SHA256, None, None),
    "weak": (1024, hashes.SHA1, dt.datetime(2019, 1, 1), dt.datetime(2020, 1, 1)),
    "expiring": (2048, hashes.SHA256, None, dt.timedelta(days=10)),
}

DOMAIN = "lab.mailtls.test"
#: The profile whose certificate is issued by the lab CA (``ca``) rather than self-signed.
SIGNED = "signed"

# DER of the signature algorithm OIDs: same length, so the TBS bytes can be patched in place.
_SHA256_WITH_RSA = bytes.fromhex("06092a864886f70d01010b")  # 1.2.840.113549.1.1.11
_SHA1_WITH_RSA = bytes.fromhex("06092a864886f70d010105")  # 1.2.840.113549.1.1.5


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def _resign_with_sha1(cert: x509.Certificate, key: rsa.RSAPrivateKey) -> x509.Certificate:
    tbs = cert.tbs_certificate_bytes
    assert tbs.count(_SHA256_WITH_RSA) == 1, "unexpected TBS layout"
    tbs = tbs.replace(_SHA256_WITH_RSA, _SHA1_WITH_RSA)
    signature = key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303 - the "weak" test certificate must be SHA-1 signed
    algorithm = _der(0x30, _SHA1_WITH_RSA + b"\x05\x00")  # AlgorithmIdentifier, NULL parameters
    return x509.load_der_x509_certificate(_der(0x30, tbs + algorithm + _der(0x03, b"\x00" + signature)))


def _name(common_name: str, organization: str = "mailtls lab") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )


def self_signed(
    common_name: str,
    dns_names: list[str],
    *,
    organization: str = "mailtls lab",
    bits: int = 2048,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None = None,
    ca: bool = False,
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """An RSA certificate signed with SHA-256 for ``dns_names``, valid from yesterday for a
    year unless its dates are given (naive, UTC): self-signed, or issued by ``issuer``
    (certificate, key); ``ca`` makes it a CA that signs certificates and nothing else."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = _name(common_name, organization)
    signer_name, signer_key = (issuer[0].subject, issuer[1]) if issuer else (name, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(signer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - dt.timedelta(days=1))
        .not_valid_after(not_after or now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False
        )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()), critical=False
        )
    return builder.sign(signer_key, hashes.SHA256()), key


def write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    """The key as PEM, readable by its owner only (Dovecot and Postfix read it while still root)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )


def write_pair(directory: Path, label: str, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> tuple[Path, Path]:
    """``<label>.crt`` and ``<label>.key`` (PEM) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    crt_path, key_path = directory / f"{label}.crt", directory / f"{label}.key"
    crt_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    write_key(key_path, key)
    return crt_path, key_path


def make_certificates(directory: Path, names: list[str]) -> dict[str, tuple[Path, Path]]:
    """Write ``<profile>.crt`` / ``<profile>.key`` (PEM) for each profile into ``directory``.

    Returns profile -> (certificate path, key path). The PROFILES certificates are
    self-signed; SIGNED's is issued by the lab CA (``ca.crt``, also returned, as "ca").
    All name every lab host (``<host>.lab.mailtls.test``) so that only the chosen defect shows.
    """
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    alt_names = [DOMAIN] + [f"{n}.{DOMAIN}" for n in names]
    out = {}
    for profile, (bits, digest, not_before, not_after) in PROFILES.items():
        if isinstance(not_after, dt.timedelta):
            not_after = now + not_after
        dns_names = alt_names + (["localhost"] if profile == "good" else [])
        cert, key = self_signed(
            f"{profile}.{DOMAIN}", dns_names, bits=bits, not_before=not_before, not_after=not_after
        )
        if digest is hashes.SHA1:
            cert = _resign_with_sha1(cert, key)
        out[profile] = write_pair(directory, profile, cert, key)
    ca = self_signed(f"ca.{DOMAIN}", [], not_after=now + dt.timedelta(days=730), ca=True)
    out["ca"] = write_pair(directory, "ca", *ca)
    signed = self_signed(f"{SIGNED}.{DOMAIN}", [*alt_names, "localhost"], issuer=ca)
    out[SIGNED] = write_pair(directory, SIGNED, *signed)
    return out
