"""Target and port validation: nothing a caller passes may become an nmap option."""

import pytest

import mailtls
from mailtls.protocols import DEFAULT_PORTS
from mailtls.scan.options import ScanOptions
from mailtls.scan.runner import NmapJob, nmap_arguments, port_spec
from mailtls.scan.targets import parse_ports, parse_target


@pytest.mark.parametrize(
    "value, is_ipv6, hostname",
    [
        ("127.0.0.11", False, None),
        ("::1", True, None),
        ("2001:db8::25", True, None),
        ("mail.example.org", False, "mail.example.org"),
        ("localhost", False, "localhost"),
        ("xn--bcher-kva.example", False, "xn--bcher-kva.example"),
    ],
)
def test_accepts_one_host(value, is_ipv6, hostname):
    target = parse_target(value)
    assert (target.value, target.is_ipv6, target.hostname) == (value, is_ipv6, hostname)


@pytest.mark.parametrize(
    "value, sent, is_ipv6",
    [
        ("Mail.Example.ORG.", "mail.example.org", False),
        ("bücher.example", "xn--bcher-kva.example", False),  # IDN names go to nmap in IDNA form
        ("[::1]", "::1", True),
        ("fe80::1%eth0", "fe80::1%eth0", True),
        ("[fe80::1%2]", "fe80::1%2", True),
        ("2001:DB8::0:25", "2001:db8::25", True),
    ],
)
def test_normalises_what_nmap_is_sent(value, sent, is_ipv6):
    target = parse_target(value)
    # requested keeps the caller's spelling where it differs from what nmap is sent
    assert (target.value, target.is_ipv6, target.requested) == (sent, is_ipv6, value if value != sent else None)


@pytest.mark.parametrize(
    "value",
    [
        "127.0.0.1 -oN /tmp/x",
        "--script=/tmp/evil.nse",
        "-iL/etc/passwd",
        "127.0.0.1\t-sV",
        "127.0.0.1\n",
        " 127.0.0.1",
        "",
        "127.0.0.0/24",
        "127.0.0.1-20",
        "a;b",
        "mail.example.org,other.example.org",
        "host_name.example",
        "-host.example",
        "256.1.1.1",
        "0x7f00005f",  # addresses in disguise: nmap would read 127.0.0.95
        "0x7f.0.0.95",
        "2130706433",
        "127.1",
        "0177.0.0.1",
        "mail.example.123",
        "[127.0.0.1]",
        "[::1",
        "fe80::1%eth0 -oN x",
        "2001:db8::1%eth0",  # a zone on an address that is not link-local
        "fe80::1%$(x)",
        "a" * 64 + ".example",
        "'quoted'",
        "$(reboot)",
    ],
)
def test_refuses_anything_else(value):
    with pytest.raises(mailtls.TargetError) as raised:
        parse_target(value)
    assert repr(value) in str(raised.value)


@pytest.mark.parametrize("value", [None, 127, b"127.0.0.1", ["127.0.0.1"]])
def test_refuses_non_strings(value):
    with pytest.raises(mailtls.TargetError, match="expected a str"):
        parse_target(value)


def test_hostile_target_never_starts_nmap(monkeypatch, tmp_path):
    # Given a target that python-nmap would split into nmap options
    started = []
    monkeypatch.setattr("mailtls.scan.plan.NmapRun", lambda *a, **k: started.append(a))
    out = tmp_path / "x"
    # When it is assessed, Then it is refused before anything runs
    with pytest.raises(mailtls.MailTlsError):
        mailtls.assess(f"127.0.0.1 -oN {out}")
    assert started == [] and not out.exists()


def test_ports_default_and_validation():
    assert parse_ports(None) == DEFAULT_PORTS == (25, 110, 143, 465, 587, 993, 995)
    assert parse_ports([993, 25, 25]) == (25, 993)
    for bad in ([0], [65536], ["25"], [25.0], [True], "25,110", [], 25):
        with pytest.raises(mailtls.PortsError):
            parse_ports(bad)


def test_nmap_command_is_built_from_validated_parts():
    options = ScanOptions(ports=(25, 993), timeout=30)
    args = nmap_arguments(NmapJob((parse_target("::1"),), options, service_detection=True))
    assert args[:3] == ["-Pn", "-n", "-sV"]
    assert "-sV" not in nmap_arguments(NmapJob((parse_target("127.0.0.1"),), ScanOptions(ports=(25,), timeout=30)))
    assert "-6" in args and args[args.index("--host-timeout") + 1] == "30s"
    assert args[args.index("-p") + 1] == "T:25,993" and "::1" not in args  # targets go to stdin
    scripts = args[args.index("--script") + 1].split(",")
    # nmap's own scripts by name, mailtls's by the path of the file shipped in the package
    assert [s.rsplit("/", 1)[-1].removesuffix(".nse") for s in scripts] == list(mailtls.protocols.SCRIPTS)
    assert all(s.startswith("/") and s.endswith(".nse") for s in scripts if s.startswith(("/", "mailtls")))
    assert port_spec((25, 110)) == "T:25,110"
