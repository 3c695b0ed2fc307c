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
#: Issued by the lab's own CA (written as ``ca.crt``; no client trusts it unless told to):
#: sound like "good", but not self-signed, so a scanner has one certificate defect fewer
#: to see. Names every lab host and localhost, like "good".
SIGNED = "signed"
_YEAR = dt.timedelta(days=365)

DOMAIN = "lab.mailtls.test"

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


def make_certificates(directory: Path, names: list[str]) -> dict[str, tuple[Path, Path]]:
    """Write ``<profile>.crt`` / ``<profile>.key`` (PEM) for each profile into ``directory``.

    Returns profile -> (certificate path, key path). The PROFILES certificates are
    self-signed; SIGNED's is issued by the lab CA (``ca.crt``, also returned, as "ca").
    All name every lab host (``<host>.lab.mailtls.test``) so that only the chosen defect shows.
    """
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    alt_names = [x509.DNSName(DOMAIN)] + [x509.DNSName(f"{n}.{DOMAIN}") for n in names]
    out = {}
    for profile, (bits, digest, not_before, not_after) in PROFILES.items():
        if isinstance(not_after, dt.timedelta):
            not_after = now + not_after
        names = alt_names + ([x509.DNSName("localhost")] if profile == "good" else [])
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        name = _name(profile)
        cert = (
            _builder(name, name, key, not_before or now - dt.timedelta(days=1), not_after or now + _YEAR)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        if digest is hashes.SHA1:
            cert = _resign_with_sha1(cert, key)
        out[profile] = _write(directory, profile, cert, key)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = _name("ca")
    ca = (
        _builder(ca_name, ca_name, ca_key, now - dt.timedelta(days=1), now + dt.timedelta(days=730))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    out["ca"] = _write(directory, "ca", ca, ca_key)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        _builder(_name(SIGNED), ca_name, key, now - dt.timedelta(days=1), now + _YEAR)
        .add_extension(x509.SubjectAlternativeName([*alt_names, x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    out[SIGNED] = _write(directory, SIGNED, cert, key)
    return out


def _name(profile: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{profile}.{DOMAIN}"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mailtls lab"),
        ]
    )


def _builder(subject, issuer, key, not_before, not_after) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )


def _write(directory: Path, profile: str, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> tuple[Path, Path]:
    crt_path, key_path = directory / f"{profile}.crt", directory / f"{profile}.key"
    crt_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    # Read by Dovecot and Postfix while they still run as root: root-only is enough.
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
    return crt_path, key_path
