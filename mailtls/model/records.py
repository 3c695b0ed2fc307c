"""Step 3 of the data flow: the typed records that nmap's XML becomes.

Every record is a frozen attrs class holding only tuples, strings, numbers,
enums and datetimes, so records compare by value, hash, and round-trip through
JSON unchanged. ``nmapxml/`` is the only code that builds them from XML.
"""

from __future__ import annotations

import datetime as dt
import enum

import attrs

from ..protocols import Protocol


class TlsMode(str, enum.Enum):
    """How a port offers TLS, as observed (not as the port number suggests)."""

    #: No TLS handshake succeeded on the port.
    NONE = "none"
    #: Plaintext first, then upgraded with STARTTLS (SMTP, IMAP) or STLS (POP3).
    STARTTLS = "starttls"
    #: TLS from the first byte (465, 993, 995 and their like).
    IMPLICIT = "implicit"


class PortState(str, enum.Enum):
    OPEN = "open"
    CLOSED = "closed"
    FILTERED = "filtered"
    UNFILTERED = "unfiltered"
    OPEN_FILTERED = "open|filtered"
    CLOSED_FILTERED = "closed|filtered"
    UNKNOWN = "unknown"


class Stage(str, enum.Enum):
    """Where in the data flow something went wrong."""

    #: A target could not be scanned (it did not resolve, or its nmap run failed).
    TARGET = "target"
    #: nmap itself: its exit status, what it wrote on stderr, a run cut short.
    SCAN = "scan"
    #: A host as a whole: down, or given up on (host timeout).
    HOST = "host"
    #: A protocol exchange with one port failed, so nothing can be concluded about it.
    EXCHANGE = "exchange"
    #: The XML: cut short, malformed, or holding values that cannot be right.
    PARSE = "parse"
    RULE = "rule"
    PLUGIN = "plugin"


@attrs.frozen
class Problem:
    """Something that failed while the rest went on: kept in the report, never dropped."""

    stage: Stage
    message: str
    address: str | None = None
    port: int | None = None
    rule_id: str | None = None
    #: A traceback or nmap's stderr, when there is one.
    detail: str = ""


@attrs.frozen
class Service:
    """nmap's ``<service>`` element. ``tunnel`` is not a reliable sign of TLS (see ``TlsMode``)."""

    name: str = ""
    product: str = ""
    version: str = ""
    extrainfo: str = ""
    tunnel: str = ""
    #: "probed" when service detection matched, "table" when nmap only looked up the port number.
    method: str = ""
    conf: int = 0


@attrs.frozen
class Cipher:
    name: str
    #: As nmap prints it: "rsa 2048", "dh 1024", "secp256r1", "ecdh 256"...
    kex_info: str = ""
    #: nmap's letter grade A-F for this suite.
    strength: str = ""


@attrs.frozen
class TlsVersion:
    """One protocol table of ``ssl-enum-ciphers``, e.g. ``TLSv1.2``."""

    name: str
    ciphers: tuple[Cipher, ...] = ()
    compressors: tuple[str, ...] = ()
    cipher_preference: str = ""
    warnings: tuple[str, ...] = ()


@attrs.frozen
class TlsProfile:
    """What ``ssl-enum-ciphers`` found on a port."""

    versions: tuple[TlsVersion, ...] = ()
    #: nmap's grade of the weakest suite, A-F. It does not mark down TLS 1.0/1.1.
    least_strength: str = ""

    @property
    def version_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.versions)


@attrs.frozen
class NameAttribute:
    """One attribute of a certificate subject or issuer, e.g. ("commonName", "mail.example.org")."""

    key: str
    value: str


@attrs.frozen
class Certificate:
    """What ``ssl-cert`` found on a port."""

    subject: tuple[NameAttribute, ...] = ()
    issuer: tuple[NameAttribute, ...] = ()
    #: Subject Alternative Names as nmap prints them: "DNS:mail.example.org", "IP Address:192.0.2.1".
    subject_alt_names: tuple[str, ...] = ()
    key_type: str = ""
    key_bits: int | None = None
    signature_algorithm: str = ""
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None
    sha1: str = ""
    #: The certificate itself, PEM, as ``ssl-cert`` printed it (DANE compares its digests).
    pem: str = ""

    @property
    def common_name(self) -> str | None:
        return next((a.value for a in self.subject if a.key == "commonName"), None)

    @property
    def self_issued(self) -> bool:
        """Subject equals issuer (the usual sign of a self-signed certificate)."""
        return bool(self.subject) and sorted((a.key, a.value) for a in self.subject) == sorted(
            (a.key, a.value) for a in self.issuer
        )


@attrs.frozen
class Capabilities:
    """What a mail server advertised, from nmap's ``smtp-commands``, ``imap-capabilities``
    or ``pop3-capabilities`` script.

    On a STARTTLS or plaintext port these are what any eavesdropper sees *before*
    TLS (``before_tls`` is True); on an implicit-TLS port the scripts talk inside
    TLS, so an AUTH mechanism listed there is not a cleartext login.
    """

    script: str
    #: The script's output string, unchanged.
    raw: str = ""
    #: Capability keywords, upper-cased (for SMTP: the EHLO keywords).
    keywords: tuple[str, ...] = ()
    #: SASL mechanisms offered: SMTP "AUTH x y", IMAP "AUTH=x", POP3 "SASL(x y)".
    auth_mechanisms: tuple[str, ...] = ()
    #: STARTTLS (SMTP, IMAP) or STLS (POP3) is advertised.
    starttls: bool = False
    #: IMAP LOGINDISABLED: the server refuses the LOGIN command here.
    login_disabled: bool = False
    #: POP3 USER: plaintext USER/PASS login is offered.
    user_login: bool = False
    before_tls: bool = True


@attrs.frozen
class ScriptOutput:
    """Any NSE script's id and output string, kept so nothing nmap said is lost."""

    id: str
    output: str = ""


@attrs.frozen
class PortRecord:
    """One scanned port of one host: what a port-level rule receives."""

    address: str
    number: int
    transport: str = "tcp"
    state: PortState = PortState.UNKNOWN
    #: Why nmap gave the port its state, as nmap says it ("syn-ack", "conn-refused"...).
    state_reason: str = ""
    service: Service = Service()
    protocol: Protocol = Protocol.OTHER
    tls_mode: TlsMode = TlsMode.NONE
    tls: TlsProfile | None = None
    certificate: Certificate | None = None
    capabilities: Capabilities | None = None
    scripts: tuple[ScriptOutput, ...] = ()
    #: The DNS name the scan was asked for, if any (nmap's "user" hostname).
    hostname: str | None = None
    #: When nmap scanned the host: certificate dates are judged against this, not "now",
    #: so a recorded scan gives the same findings whenever it is read.
    scanned_at: dt.datetime | None = None
    #: Why nothing can be concluded about this open port: the exchange failed (a 421
    #: greeting, a reset, no answer...). Empty when its answers were read. "Not seen" is
    #: not "absent": no rule is run on an inconclusive port.
    inconclusive: str = ""

    @property
    def is_open(self) -> bool:
        return self.state is PortState.OPEN

    @property
    def assessable(self) -> bool:
        """Open, and its exchange was read: what port rules are run on."""
        return self.state is PortState.OPEN and not self.inconclusive

    def script(self, script_id: str) -> ScriptOutput | None:
        return next((s for s in self.scripts if s.id == script_id), None)


class Facet(str, enum.Enum):
    """A record of a port that nmap's scripts may or may not have given: what a port rule
    declares it needs (``@rule(..., needs=[Facet.TLS])``). The engine calls the rule only on
    ports where every record it needs is there, so the rule does not check for None."""

    #: ``PortRecord.tls``: what ``ssl-enum-ciphers`` found.
    TLS = "tls"
    #: ``PortRecord.certificate``: what ``ssl-cert`` found.
    CERTIFICATE = "certificate"
    #: ``PortRecord.capabilities``: what the server advertised.
    CAPABILITIES = "capabilities"

    def of(self, port: PortRecord) -> TlsProfile | Certificate | Capabilities | None:
        """This record of ``port``, None where nmap did not give it."""
        record: TlsProfile | Certificate | Capabilities | None = getattr(port, self.value)
        return record


@attrs.frozen
class HostRecord:
    """One scanned host: what a host-level rule receives."""

    address: str
    #: "up", "down", or "" when nmap said nothing.
    status: str = ""
    #: Why nmap gave the host its status ("user-set", "no-response"...).
    status_reason: str = ""
    #: The DNS name the scan was asked for (nmap's "user" hostname), if any.
    hostname: str | None = None
    ports: tuple[PortRecord, ...] = ()
    #: nmap gave up on the host (``--host-timeout``): its ports may be incomplete.
    timed_out: bool = False

    def port(self, number: int, transport: str = "tcp") -> PortRecord | None:
        return next((p for p in self.ports if p.number == number and p.transport == transport), None)

    @property
    def open_ports(self) -> tuple[PortRecord, ...]:
        return tuple(p for p in self.ports if p.is_open)

    @property
    def assessable_ports(self) -> tuple[PortRecord, ...]:
        """The open ports whose exchange was read (not inconclusive)."""
        return tuple(p for p in self.ports if p.assessable)


@attrs.frozen
class RunRecord:
    """One nmap run (or one file of nmap XML): what nmap was asked and how it ended."""

    #: nmap's command line, as nmap recorded it.
    args: str = ""
    scanner_version: str = ""
    started: dt.datetime | None = None
    #: False when the XML stops before ``</nmaprun>`` (killed, interrupted or truncated).
    complete: bool = True
    #: nmap's own verdict from ``<finished exit=...>``: "success", "error" or "" if absent.
    exit_status: str = ""
    exit_message: str = ""
    #: nmap's exit code, for runs mailtls started (None for XML read from elsewhere).
    returncode: int | None = None


@attrs.frozen
class ScanRecord:
    """One nmap run, as read from its XML, with every host in it."""

    hosts: tuple[HostRecord, ...] = ()
    run: RunRecord = RunRecord()
    #: What could not be read (a truncated document, a script's garbage output...).
    problems: tuple[Problem, ...] = ()

    @property
    def complete(self) -> bool:
        return self.run.complete
