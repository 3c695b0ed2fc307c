"""Step 1 of the data flow: a target string becomes a validated ``Target``.

python-nmap splits the hosts string on whitespace and hands every piece to nmap
as an argument, so ``"127.0.0.1 -oN /tmp/x"`` would become an nmap option. Here a
target is accepted only if it is exactly one IPv4 address, one IPv6 address or
one DNS host name; anything else is refused before nmap starts.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Iterable

import attrs

from .._errors import PortsError, TargetError
from ..protocols import DEFAULT_PORTS

# RFC 1123 host name: LDH labels of 1-63 characters, no leading or trailing hyphen.
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")

@attrs.frozen
class Target:
    """One host to scan: the string as given, and whether it is a name or an address."""

    value: str
    is_ipv6: bool = False
    #: The DNS name the caller asked for (nmap sends it as TLS SNI); None for an address.
    hostname: str | None = None


def parse_target(value: object) -> Target:
    """Validate one target; raise ``TargetError`` saying what is wrong."""
    if not isinstance(value, str):
        raise TargetError(value, f"expected a str, got {type(value).__name__}")
    if value != value.strip() or not value:
        raise TargetError(value, "empty, or surrounded by whitespace")
    if any(ch.isspace() for ch in value):
        raise TargetError(value, "contains whitespace: one host per target, and no nmap options")
    if value.startswith("-"):
        raise TargetError(value, "starts with '-', which nmap would read as an option")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        pass
    else:
        if "%" in value:
            raise TargetError(value, "IPv6 zone identifiers are not supported")
        return Target(value=value, is_ipv6=address.version == 6)
    if not value.isascii():
        raise TargetError(value, "non-ASCII host name: pass its IDNA (xn--) form")
    name = value[:-1] if value.endswith(".") else value
    if len(name) > 253:
        raise TargetError(value, "host name longer than 253 characters")
    labels = name.split(".")
    if not all(_LABEL.match(label) for label in labels):
        raise TargetError(
            value,
            "not an IP address or DNS host name (letters, digits, hyphens and dots only; "
            "ranges, CIDR blocks and lists are not accepted)",
        )
    if all(set(label) <= set("0123456789-") for label in labels):
        # nmap reads digits, dots and hyphens as an address range ("127.0.0.1-20").
        raise TargetError(value, "looks like an IPv4 address range or a malformed address")
    return Target(value=value, hostname=name.lower())


def parse_ports(ports: Iterable[int] | None) -> tuple[int, ...]:
    """Validate a port list; ``None`` means the default mail ports."""
    if ports is None:
        return DEFAULT_PORTS
    if isinstance(ports, (str, bytes)):
        raise PortsError(f"ports must be a list of integers, not a string: {ports!r}")
    try:
        items = list(ports)
    except TypeError:
        raise PortsError(f"ports must be a list of integers, got {type(ports).__name__}") from None
    result: list[int] = []
    for port in items:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise PortsError(f"invalid port {port!r}: ports are whole numbers from 1 to 65535")
        if port not in result:
            result.append(port)
    if not result:
        raise PortsError("the port list is empty")
    return tuple(sorted(result))
