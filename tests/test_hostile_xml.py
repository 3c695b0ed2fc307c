"""Crafted nmap XML (tests/data/hostile/, described in its README) and XML too large to
hold (generated while read): each fault becomes a ``Problem`` naming the element, the
faulty part is not judged, and nothing but ``MailTlsError`` is ever raised. Also: rule
plugins that misbehave (tests/hostile/plugin_dist)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mailtls
from mailtls import Outcome, Stage

HOSTILE = Path(__file__).resolve().parent / "data" / "hostile"
ROOT = Path(__file__).resolve().parent.parent


def read(name: str) -> mailtls.Report:
    return mailtls.assess_xml(HOSTILE / name)


def parse_problems(report: mailtls.Report) -> list[str]:
    return [p.message for p in report.errors if p.stage is Stage.PARSE]


@pytest.mark.parametrize("portid", ["abc", "0", "-1", "70000", ""])
def test_port_number_that_is_not_one_is_named_and_skipped(portid):
    report = read("bad-portids.xml")
    assert any(f"portid {portid!r}" in m for m in parse_problems(report)), parse_problems(report)
    # None of them is judged, none becomes port 0 (what "abc" became before)
    assert report.findings == ()
    assert report.hosts[0].ports == ()
    assert not report.complete


def test_address_that_is_not_an_ip_is_skipped():
    report = read("bad-address.xml")
    assert report.hosts == () and report.findings == ()
    assert any("not an IP address" in m and "rm -rf" in m for m in parse_problems(report))
    # it reaches SARIF only as the text of that problem, never as a result or a location
    sarif = json.loads(mailtls.to_sarif(report))
    assert all(run["results"] == [] for run in sarif["runs"])
    assert "rm -rf" not in json.dumps([run["results"] for run in sarif["runs"]])


def test_duplicate_port_is_read_once():
    report = read("duplicate-port.xml")
    assert len(report.hosts[0].ports) == 1
    assert sorted(f.rule_id for f in report.findings) == ["MT101", "MT111"]  # once each, not twice
    assert any("appears twice" in m for m in parse_problems(report))


def test_udp_port_25_is_not_judged_as_smtp():
    report = read("udp-25.xml")
    port = report.hosts[0].port(25, "udp")
    assert port is not None and port.protocol is mailtls.Protocol.OTHER
    assert report.findings == ()


def test_namespaced_host_is_named_not_silently_dropped():
    report = read("namespaced-host.xml")
    assert report.hosts == ()
    messages = parse_problems(report)
    assert any("<host>" in m and "urn:example:not-nmap" in m for m in messages), messages
    assert not report.complete


def test_absurd_run_start_is_a_problem():
    report = read("start-overflow.xml")
    assert report.runs[0].started is None
    assert any("nmaprun start" in m and "99999999999999999" in m for m in parse_problems(report))
    assert {f.rule_id for f in report.findings} == {"MT101", "MT111"}


def test_absurd_host_starttime_is_a_problem():
    report = read("starttime-out-of-range.xml")
    assert any("host starttime" in m for m in parse_problems(report))
    # the run's own start is used instead
    assert report.hosts[0].ports[0].scanned_at == report.runs[0].started


def test_unreadable_key_size_does_not_hide_tls():
    # Given ssl-cert on 993 whose key size is "1e400"
    report = read("ssl-cert-bits-1e400.xml")
    port = report.hosts[0].port(993)
    # Then the certificate is kept (without its size), TLS is seen, and 993 is not "IMAP without TLS"
    assert port.certificate is not None and port.certificate.key_bits is None
    assert port.tls_mode is mailtls.TlsMode.IMPLICIT
    assert "MT102" not in {f.rule_id for f in report.findings}
    assert any("1e400" in m for m in parse_problems(report))


def test_tcpwrapped_port_is_inconclusive():
    report = read("tcpwrapped.xml")
    target = report.targets[0]
    assert target.outcome is Outcome.INCONCLUSIVE
    assert report.hosts[0].port(143).inconclusive
    assert any(p.stage is Stage.EXCHANGE and p.port == 143 and "tcpwrapped" in p.message for p in report.errors)
    assert report.findings == () and not report.complete


@pytest.mark.parametrize("path", sorted(HOSTILE.glob("*.xml")), ids=lambda p: p.name)
def test_every_crafted_file_reads_without_foreign_exception(path):
    # Through every entry point: read_scan, assess_xml, the streaming form, and the outputs
    scan = mailtls.read_scan(path)
    report = mailtls.assess_xml(path)
    streamed = list(mailtls.iter_assess_xml(path))
    assert len(streamed) == len(report.targets) == len(scan.hosts)
    mailtls.to_sarif(report)
    assert mailtls.from_json(mailtls.to_json(report)).findings == report.findings
    if path.name != "udp-25.xml":  # a UDP port is not a fault (see the README)
        assert report.errors, "every crafted file has a fault that must be named"

# --- sizes: linear time, bounded memory -------------------------------------------

MEASURE = textwrap.dedent(
    """
    import json, resource, sys, time
    import mailtls
    from tests.hostile import bigxml
    source = getattr(bigxml, sys.argv[1])()
    started = time.monotonic()
    report = mailtls.assess_xml(source)
    print(json.dumps({
        "seconds": time.monotonic() - started,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "bytes": source.size,
        "ports": [len(h.ports) for h in report.hosts],
        "rules": sorted({f.rule_id for f in report.findings}),
        "errors": [e.message for e in report.errors][:50],
        "n_errors": len(report.errors),
    }))
    """
)


def measure(generator: str) -> dict:
    """Read generated XML in a fresh interpreter, for an honest peak RSS."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, generator],
        check=False, capture_output=True, text=True, timeout=120, env=env, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_host_with_400000_ports_is_bounded():
    # Given one host with 400,000 <port> elements (every number 1-65535 open, then repeats)
    out = measure("many_ports")
    assert out["bytes"] > 75_000_000
    # Then it is read in bounded time and memory (sanity bounds, not a benchmark)...
    assert out["seconds"] < 30, out["seconds"]
    assert out["peak_mb"] < 400, out["peak_mb"]
    # ...every distinct port once, and the excess named, not silently dropped
    assert out["ports"] == [65535]
    assert any("appears twice" in m for m in out["errors"])
    assert any("more repeated <port> elements were not read" in m for m in out["errors"])
    assert out["n_errors"] < 100  # a problem per repeat would itself be a flood
    assert "MT101" in out["rules"]


def test_200_mb_of_hosthints_is_bounded():
    out = measure("many_hosthints")
    assert out["bytes"] > 200_000_000
    assert out["seconds"] < 30, out["seconds"]
    assert out["peak_mb"] < 400, out["peak_mb"]
    # the one real host after them is still read and judged
    assert out["ports"] == [1] and "MT101" in out["rules"]


# --- plugins that misbehave -------------------------------------------------------

PLUGIN = Path(__file__).resolve().parent / "hostile" / "plugin_dist"


@pytest.fixture(scope="module")
def hostile_plugin(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("hostile-plugin")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--target", str(target), str(PLUGIN)],
        check=True,
    )
    return target


def test_plugin_importing_a_builtin_and_reusing_an_id(hostile_plugin, tmp_path):
    lab_plain = Path(__file__).resolve().parent / "data" / "lab-plain.xml"
    code = (
        "import json, mailtls\n"
        f"r = mailtls.assess_xml({str(lab_plain)!r})\n"
        "reg = mailtls.Registry.default()\n"
        "print(json.dumps({'ids': [rule.id for rule in reg], "
        "'mt101': sorted({f.severity.value for f in r.by_rule('MT101')}), "
        "'hx': len(r.by_rule('HX001')), "
        "'errors': [[e.stage.value, e.rule_id, e.message] for e in r.errors]}))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hostile_plugin), os.environ.get("PYTHONPATH", "")])}
    completed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    out = json.loads(completed.stdout)
    # The imported built-in is not registered twice, and the impostor MT101 is left out...
    assert out["ids"].count("MT101") == 1
    assert out["mt101"] == ["high"]  # the built-in's severity, not the impostor's "critical"
    # ...with a problem in the report naming the plugin and the id, while the scan goes on
    assert [e for e in out["errors"] if e[0] == "plugin" and e[1] == "MT101" and "hostile" in e[2]]
    assert out["hx"] > 0  # the plugin's well-behaved rule still runs
