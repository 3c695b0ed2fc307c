"""Step 1 of the data flow: what the caller asked for becomes validated ``Target``s.

Nothing a caller passes may become an nmap option. A target is one IPv4 address, one
IPv6 address (``[::1]`` and ``fe80::1%eth0`` too) or one DNS host name (an IDN name is
sent in its IDNA form), or, for ``assess_many``, an address range in CIDR notation,
which is expanded here, up to a bound. Targets reach nmap one per line on its standard
input (``-iL -``), never as arguments. Ports and timeouts are checked here too, so that
every misuse is refused before nmap starts, with a message that says what to fix.
"""

from __future__ import annotations

import ipaddress
import math
import re
import socket
from collections.abc import Iterable

import attrs

from .._errors import OptionError, PortsError, TargetError
from ..protocols import DEFAULT_PORTS

# RFC 1123 host name: LDH labels of 1-63 characters, no leading or trailing hyphen.
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
# An IPv6 zone (RFC 6874): an interface name or number.
_ZONE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")

#: The most addresses ``assess_many`` expands from its targets, ranges included.
MAX_TARGETS = 65536
#: Seconds nmap may spend on one host, at most (a week: anything longer is a mistake).
MAX_TIMEOUT = 7 * 24 * 3600.0
#: The smallest timeout nmap can honour (its --host-timeout is in whole seconds).
MIN_TIMEOUT = 1.0


@attrs.frozen
class Target:
    """One host to scan: the string nmap is given, and whether it is a name or an address."""

    #: As nmap receives it: a canonical address, or a lower-case name in IDNA form.
    value: str
    is_ipv6: bool = False
    #: The DNS name the caller asked for (nmap sends it as TLS SNI); None for an address.
    hostname: str | None = None
    #: The caller's string, where it differs from ``value`` (a range, an IDN name, ``[::1]``).
    requested: str | None = attrs.field(default=None, eq=False)


def parse_target(value: object) -> Target:
    """Validate one host; raise ``TargetError`` saying what is wrong."""
    if not isinstance(value, str):
        raise TargetError(value, f"expected a str, got {type(value).__name__}")
    if value != value.strip() or not value:
        raise TargetError(value, "empty, or surrounded by whitespace")
    if any(ch.isspace() for ch in value):
        raise TargetError(value, "contains whitespace: one host per target, and no nmap options")
    if value.startswith("-"):
        raise TargetError(value, "starts with '-', which nmap would read as an option")
    if len(value) > 300:
        raise TargetError(value[:40] + "...", f"{len(value)} characters: no host name is that long")
    address = _address(value)
    if address is not None:
        return address
    return _name(value)


def _address(value: str) -> Target | None:
    text = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    zone = ""
    if "%" in text:
        text, zone = text.split("%", 1)
        if not _ZONE.match(zone):
            raise TargetError(value, f"IPv6 zone {zone!r} is not an interface name or number")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        if text is not value:
            raise TargetError(value, "brackets or a zone, but not an IPv6 address inside") from None
        return None
    if zone and (address.version != 6 or not address.is_link_local):
        raise TargetError(value, "a zone (%...) belongs only on a link-local IPv6 address (fe80::/10)")
    if address.version == 4 and text is not value:
        raise TargetError(value, "brackets belong only around an IPv6 address")
    canonical = f"{address}%{zone}" if zone else str(address)
    return Target(value=canonical, is_ipv6=address.version == 6, requested=value if canonical != value else None)


def _name(value: str) -> Target:
    if not value.isascii():
        try:
            ascii_name = value.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise TargetError(value, f"not a valid internationalised host name ({exc})") from None
    else:
        ascii_name = value
    name = (ascii_name[:-1] if ascii_name.endswith(".") else ascii_name).lower()
    if len(name) > 253:
        raise TargetError(value, "host name longer than 253 characters")
    labels = name.split(".")
    if not all(_LABEL.match(label) for label in labels):
        raise TargetError(
            value,
            "not an IP address or DNS host name (letters, digits, hyphens and dots only; "
            "ranges go through assess_many, lists as separate targets)",
        )
    if _disguised_ipv4(name) or all(set(label) <= set("0123456789-") for label in labels):
        # nmap, like inet_aton, reads "0x7f000001", "0x7f.0.0.1", "127.1" and "0177.0.0.1"
        # as addresses, and digits with hyphens as ranges ("127.0.0.1-20").
        raise TargetError(value, "an IPv4 address or range in disguise: write the address as a.b.c.d")
    if labels[-1].isdigit():
        raise TargetError(value, "a top-level domain is never all digits: not a host name")
    return Target(value=name, hostname=name, requested=value if name != value else None)


def _disguised_ipv4(name: str) -> bool:
    try:
        socket.inet_aton(name)
    except OSError:
        return False
    return True


def parse_targets(targets: Iterable[str] | str, *, limit: int = MAX_TARGETS) -> list[Target]:
    """Every host the caller asked for, ranges expanded, duplicates dropped, in order.

    ``targets`` is one string or any iterable of them; each is an address, a name or a
    CIDR range (``192.0.2.0/28``; for IPv4 the network and broadcast addresses are left
    out, as they are not hosts). More than ``limit`` addresses raise ``TargetError``."""
    if isinstance(targets, (bytes, bytearray)) or not isinstance(targets, (str, Iterable)):
        raise TargetError(targets, "targets are a string or an iterable of strings")
    items: Iterable[object] = [targets] if isinstance(targets, str) else targets
    found: dict[str, Target] = {}
    for item in items:
        if isinstance(item, str) and "/" in item:
            for target in _expand(item, limit - len(found)):
                found.setdefault(target.value, target)
        else:
            target = parse_target(item)
            found.setdefault(target.value, target)
        if len(found) > limit:
            raise TargetError(item, f"more than {limit} targets in all: split the list into several calls")
    if not found:
        raise TargetError(targets, "no target given")
    return list(found.values())


def _expand(value: str, room: int) -> list[Target]:
    if any(ch.isspace() for ch in value) or value.startswith("-"):
        raise TargetError(value, "a range is an address and a prefix length, like 192.0.2.0/28")
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise TargetError(value, f"not a CIDR range ({exc})") from None
    count = network.num_addresses if network.version == 6 or network.prefixlen >= 31 else network.num_addresses - 2
    if count > room:
        raise TargetError(value, f"{count} addresses, more than the {room} still allowed: split the range")
    hosts = network.hosts() if network.version == 4 and network.prefixlen < 31 else iter(network)
    return [Target(value=str(a), is_ipv6=a.version == 6, requested=value) for a in hosts]


def parse_ports(ports: Iterable[int] | None) -> tuple[int, ...]:
    """Validate a port list; ``None`` means the default mail ports."""
    if ports is None:
        return DEFAULT_PORTS
    if isinstance(ports, (str, bytes)):
        raise PortsError(f"ports must be a list of integers, not a string: {ports!r}")
    try:
        items = iter(ports)
    except TypeError:
        raise PortsError(f"ports must be a list of integers, got {type(ports).__name__}") from None
    result: set[int] = set()
    for count, port in enumerate(items):
        if count >= 2 * 65535:
            raise PortsError("more than 131,070 port numbers given: pass each port once (there are 65,535)")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise PortsError(f"invalid port {port!r}: ports are whole numbers from 1 to 65535")
        result.add(port)
    if not result:
        raise PortsError("the port list is empty")
    return tuple(sorted(result))


def parse_timeout(timeout: object, default: float) -> float:
    """Seconds nmap may spend on one host: a finite number from 1 s to a week."""
    if timeout is None:
        return default
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise OptionError(f"timeout must be a number of seconds, got {type(timeout).__name__} {timeout!r}")
    if not math.isfinite(timeout) or not MIN_TIMEOUT <= timeout <= MAX_TIMEOUT:
        raise OptionError(
            f"timeout must be between {MIN_TIMEOUT:g} and {MAX_TIMEOUT:g} seconds, got {timeout!r}"
        )
    return float(timeout)
