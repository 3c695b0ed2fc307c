"""The loopback fleet (lab/fleet/): simulated mail hosts, many per nmap run.

The scan test is the point: one nmap run over a fleet of 40 hosts, and mailtls must
report for every host exactly the (rule id, port) pairs the fleet says it should,
no more, no less. Silent hosts are skipped there (their verdict is still to be
decided); the fleet's first 40 hosts hold none anyway, and one slow one.
"""

from __future__ import annotations

import ipaddress
import socket
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import pytest

import mailtls
from lab import fleet

SCANNED = 40
#: nmap takes about 20 s over the first 40 hosts, most of it the slow host (index 15).
NMAP_TIMEOUT = 50


def _connect(address: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.connect((address, port))
    return sock


def test_hosts_are_deterministic_and_cover_every_kind():
    # Given the same size twice, and a smaller fleet
    first, again, smaller = fleet.hosts(256), fleet.hosts(256), fleet.hosts(SCANNED)
    # Then the lists are equal, a smaller fleet is a prefix of a larger one, and 256 hosts hold every kind
    assert first == again
    assert smaller == first[:SCANNED]
    assert {h.kind for h in first} == set(fleet.Kind)
    assert [h.index for h in first] == list(range(256))


def test_addresses_stay_in_the_fleet_block():
    addresses = [h.address for h in fleet.hosts(fleet.MAX_HOSTS)]
    assert len(set(addresses)) == len(addresses)
    assert addresses[:3] == ["127.100.0.1", "127.100.0.2", "127.100.0.3"]
    assert addresses[250] == "127.100.1.1"
    for address in addresses:
        assert ipaddress.ip_address(address) in fleet.NETWORK
        assert not address.endswith((".0", ".255"))
    with pytest.raises(ValueError):
        fleet.hosts(fleet.MAX_HOSTS + 1)


def test_expected_findings_are_on_open_ports_only():
    for host in fleet.hosts(512):
        assert {port for _, port in host.expected} <= set(host.ports)
        if host.kind in (fleet.Kind.CLOSED, fleet.Kind.SILENT):
            assert not host.expected
        if host.kind is fleet.Kind.CLOSED:
            assert host.ports == ()


def test_slow_and_silent_hosts_and_stop(tmp_path):
    # Given a fleet big enough to hold a silent host (index 255) and a slow one (15)
    running = fleet.start(256, tmp_path)
    try:
        slow = next(h for h in running.hosts if h.kind is fleet.Kind.SLOW)
        silent = next(h for h in running.hosts if h.kind is fleet.Kind.SILENT)
        closed = next(h for h in running.hosts if h.kind is fleet.Kind.CLOSED)
        # Then the silent host accepts and sends nothing
        with _connect(silent.address, 143) as sock:
            sock.settimeout(0.5)
            with pytest.raises(socket.timeout):
                sock.recv(1)
        # and the slow host greets about 2 s late, but hangs up at once on a client that talks first
        with _connect(slow.address, 110) as sock:
            started = time.monotonic()
            assert sock.recv(100).startswith(b"+OK")
            assert time.monotonic() - started > fleet.SLOW_GREETING * 0.9
        with _connect(slow.address, 25) as sock:
            sock.sendall(b"\x16\x03\x01\x00\x05hello")
            assert sock.recv(100).startswith(b"521 ")
        # and nothing listens on a closed host
        with pytest.raises(ConnectionRefusedError):
            _connect(closed.address, 25)
        pid = running.pid
    finally:
        running.stop()
    # When it has been stopped, its process is gone (reaped) and its ports are closed
    assert running.process.returncode is not None
    assert not Path(f"/proc/{pid}").exists()
    with pytest.raises(ConnectionRefusedError):
        _connect(running.hosts[0].address, 25)


@pytest.mark.lab
def test_one_nmap_run_finds_exactly_what_each_host_expects(tmp_path):
    xml = tmp_path / "fleet.xml"
    # Given a running fleet, scanned with one nmap command
    with fleet.start(SCANNED, tmp_path / "fleet") as running:
        subprocess.run(
            fleet.nmap_command(running.addresses, xml), check=True, timeout=NMAP_TIMEOUT, capture_output=True
        )
    assert running.process.returncode is not None
    # When mailtls reads the XML
    report = mailtls.assess_xml(xml, registry=mailtls.Registry.default(plugins=False))
    found: dict[str, set[tuple[str, int | None]]] = defaultdict(set)
    for finding in report.findings:
        found[finding.host].add((finding.rule_id, finding.port))
    # Then every host was scanned, and each non-silent one has exactly its expected findings
    assert {h.address for h in report.hosts} == set(running.addresses)
    assert not report.all_problems
    wrong = {
        f"{h.address} ({h.kind.value})": {
            "missing": sorted(h.expected - found[h.address]),
            "extra": sorted(found[h.address] - h.expected),
        }
        for h in running.hosts
        if h.kind is not fleet.Kind.SILENT and found[h.address] != h.expected
    }
    assert not wrong
    assert {h.kind for h in running.hosts} >= set(fleet.Kind) - {fleet.Kind.SILENT}
