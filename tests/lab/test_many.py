"""Many targets: assess_many over batches, iter_assess, every target accounted for, and the
same batches on a Dask cluster of two worker processes.

The lab's real Dovecot/Postfix hosts are the reference: ``assess_many`` over all of them
in one call must find exactly what one ``assess`` per host found (conftest.lab_reports)."""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
import threading
import time

import pytest

import lab
import mailtls
from mailtls import Outcome
from tests.helpers import found

pytestmark = pytest.mark.lab

#: Every lab host but the relay, whose report was made with the opt-in relay test.
HOSTS = [h for h in lab.HOSTS.values() if not h.relay_test]
PORTS = sorted({p for h in HOSTS for p in h.ports})


def by_target(report: mailtls.Report) -> dict[str, set]:
    return {t.target: found_in(t) for t in report.targets}


def found_in(result: mailtls.TargetResult) -> set:
    return {(f.rule_id, f.port) for f in result.findings}


@pytest.fixture(scope="module")
def many_report(running_lab) -> mailtls.Report:
    return mailtls.assess_many([h.target for h in HOSTS], ports=PORTS)


def test_one_call_finds_what_one_assess_per_host_found(many_report, lab_reports):
    # Given every lab host in one assess_many call (all ports of all hosts on each),
    # Then each host's findings equal those of its own assess() call.
    assert [t.target for t in many_report.targets] == [h.target for h in HOSTS]
    for host in HOSTS:
        assert by_target(many_report)[host.target] == found(lab_reports[host.name]), host.name
    assert {t.outcome for t in many_report.targets} == {Outcome.ASSESSED}
    assert many_report.findings and all(r.complete for r in many_report.runs)


def test_batches_share_nmap_runs(many_report):
    # Eight hosts, two CPUs: two batches, each at most two runs (scripts, then -sV for the
    # odd host's non-standard ports), never one run per host.
    assert 2 <= len(many_report.runs) <= 4
    assert any("-sV" in r.args for r in many_report.runs)


def test_report_round_trips_through_json(many_report):
    assert mailtls.from_json(mailtls.to_json(many_report)) == many_report


def test_every_target_is_accounted_for(running_lab):
    # A /30 of two unused loopback addresses, a duplicate, and a lab host
    progress: list[tuple[int, int]] = []
    report = mailtls.assess_many(
        ["127.0.0.8/30", "127.0.0.11", "127.0.0.11", "127.0.0.9"],
        ports=[110, 143],
        progress=lambda done, total: progress.append((done, total)),
    )
    outcomes = {t.target: t.outcome for t in report.targets}
    assert outcomes == {
        "127.0.0.9": Outcome.NO_MAIL_PORT,
        "127.0.0.10": Outcome.NO_MAIL_PORT,
        "127.0.0.11": Outcome.ASSESSED,
    }
    assert {t.requested for t in report.targets if t.target != "127.0.0.11"} == {"127.0.0.8/30"}
    assert progress == [(1, 3), (2, 3), (3, 3)]
    assert report.by_rule("MT101") and report.all_problems == ()


def test_ranges_are_bounded():
    with pytest.raises(mailtls.TargetError, match="split the range"):
        mailtls.assess_many(["127.0.0.0/8"])
    with pytest.raises(mailtls.TargetError, match="no target"):
        mailtls.assess_many([])


def test_iter_assess_hands_over_each_target_as_it_is_done(running_lab):
    # The plaintext host needs no -sV; the odd host does (non-standard ports, ~6 s each),
    # so with one batch for both the plaintext host must arrive well before the odd one.
    plain, odd = lab.HOSTS["plain"], lab.HOSTS["odd"]
    arrivals: list[tuple[str, float]] = []
    started = time.monotonic()
    stream = mailtls.iter_assess([plain.target, odd.target], ports=sorted({*plain.ports, *odd.ports}), concurrency=1)
    for result in stream:
        arrivals.append((result.target, time.monotonic() - started))
    assert [name for name, _ in arrivals] == [plain.target, odd.target]
    assert arrivals[1][1] - arrivals[0][1] > 3, arrivals
    assert len(stream.runs) == 2 and stream.problems == ()


def test_a_failing_batch_costs_only_its_own_targets(running_lab):
    # Given an executor on which one batch fails (a worker that died, say)
    class Flaky(concurrent.futures.ThreadPoolExecutor):
        def submit(self, fn, batch, *args, **kwargs):
            if any(t.value == "127.0.0.12" for t in batch.targets):
                future: concurrent.futures.Future = concurrent.futures.Future()
                future.set_exception(OSError("worker lost"))
                return future
            return super().submit(fn, batch, *args, **kwargs)

    with Flaky(max_workers=2) as executor:
        report = mailtls.assess_many(["127.0.0.11", "127.0.0.12"], ports=[110], concurrency=2, executor=executor)
    # Then its target is failed with the reason, and the other is assessed as usual
    failed = report.target("127.0.0.12")
    assert failed.outcome is Outcome.FAILED and "worker lost" in failed.reason
    assert report.target("127.0.0.11").outcome is Outcome.ASSESSED and report.by_rule("MT101")
    assert not report.complete


def test_a_name_that_does_not_resolve_is_reported_so(tmp_path):
    # In a network namespace of its own (nothing can leave it, not even a DNS query),
    # a name that does not resolve sits beside an address that is scanned.
    code = (
        "import mailtls, json; r = mailtls.assess_many(['no-such-host.invalid', '127.0.0.1'], ports=[25]);"
        "print(json.dumps({t.target: [t.outcome.value, t.reason] for t in r.targets}))"
    )
    result = subprocess.run(
        ["unshare", "-n", "sh", "-c", f'ip link set lo up && exec "{sys.executable}" -c "{code}"'],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    outcomes = __import__("json").loads(result.stdout)
    assert outcomes["no-such-host.invalid"] == ["unresolved", "the name did not resolve"]
    assert outcomes["127.0.0.1"][0] == "no-mail-port"


def test_the_same_batches_on_a_dask_cluster(running_lab, many_report):
    distributed = pytest.importorskip("distributed", reason="Dask is an optional extra: pip install 'mailtls[dask]'")
    # Two worker processes on loopback; each runs nmap itself.
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        report = mailtls.assess_many([h.target for h in HOSTS], ports=PORTS, executor=client.get_executor())
        workers = client.run(os.getpid)
    assert len(workers) == 2
    assert by_target(report) == by_target(many_report)
    assert {t.outcome for t in report.targets} == {Outcome.ASSESSED}


def test_reader_hands_over_each_host_while_the_document_is_still_being_written():
    # Given nmap XML arriving through a pipe, one host at a time
    read_fd, write_fd = os.pipe()
    head = b'<?xml version="1.0"?><nmaprun scanner="nmap" args="nmap" start="1700000000" version="7.93">\n'
    host = (
        '<host><status state="up" reason="user-set"/><address addr="{}" addrtype="ipv4"/><ports>'
        '<port protocol="tcp" portid="110"><state state="open" reason="syn-ack"/><service name="pop3" method="table"/>'
        '<script id="pop3-capabilities" output="USER CAPA TOP"/></port></ports></host>\n'
    )
    first_seen = threading.Event()
    with os.fdopen(write_fd, "wb", buffering=0) as writer, os.fdopen(read_fd, "rb", buffering=0) as reader:
        def write() -> None:
            writer.write(head + host.format("192.0.2.1").encode())
            # The second host is written only once the first has been handed over.
            assert first_seen.wait(10)
            writer.write(host.format("192.0.2.2").encode() + b"</nmaprun>")
            writer.close()

        thread = threading.Thread(target=write)
        thread.start()
        results = []
        for result in mailtls.iter_assess_xml(reader):
            results.append(result)
            first_seen.set()
        thread.join(10)
    assert [r.target for r in results] == ["192.0.2.1", "192.0.2.2"]
    assert all(r.findings for r in results)


def test_assess_xml_takes_a_python_nmap_scan_that_already_ran(running_lab):
    # A tool built on python-nmap hands over its PortScanner after its own scan.
    import nmap

    scanner = nmap.PortScanner()
    scanner.scan(
        hosts=lab.HOSTS["plain"].address,
        ports="110,143",
        arguments="-Pn -n --script pop3-capabilities,imap-capabilities",
    )
    report = mailtls.assess_xml(scanner)
    assert {(f.rule_id, f.port) for f in report.findings} >= {("MT101", 110), ("MT102", 143)}
    with pytest.raises(mailtls.XmlError, match="has not run a scan"):
        mailtls.assess_xml(nmap.PortScanner())
