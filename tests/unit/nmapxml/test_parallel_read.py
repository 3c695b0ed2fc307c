"""Large files read by several processes give exactly what one process gives, in file order;
files that cannot be cut safely are read in one piece."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import mailtls
from mailtls.nmapxml import parallel
from tests.helpers import recorded


def synthesize(path: Path, hosts: int, source: str = "hardened") -> Path:
    """A scan of ``hosts`` copies of a recorded lab host, each on its own address."""
    text = recorded(source).read_text()
    head, rest = text.split("<host ", 1)
    host, tail = rest.rsplit("</host>", 1)
    host = "<host " + host + "</host>\n"
    address = re.search(r'addr="([0-9.]+)"', host).group(1)
    with path.open("w") as out:
        out.write(head)
        for i in range(hosts):
            # 198.18.0.0/15 is the benchmarking range: these files are read, never scanned.
            out.write(host.replace(f'"{address}"', f'"198.18.{i // 256}.{i % 256}"'))
        out.write(tail)
    return path


def summary(assessment: mailtls.Assessment) -> list:
    return [(r.target, r.outcome, sorted((f.rule_id, f.port) for f in r.findings)) for r in assessment]


@pytest.fixture(scope="module")
def large(tmp_path_factory) -> Path:
    # Over PARALLEL_MIN_BYTES, so the default reads it with several processes.
    path = synthesize(tmp_path_factory.mktemp("xml") / "scan.xml", 420)
    assert path.stat().st_size > parallel.PARALLEL_MIN_BYTES
    return path


def test_several_processes_give_what_one_gives(large):
    one = mailtls.iter_assess_xml(large, workers=1)
    expected = summary(one)
    two = mailtls.iter_assess_xml(large, workers=2)
    assert summary(two) == expected and len(expected) == 420
    assert two.runs == one.runs and two.problems == one.problems == ()
    assert mailtls.assess_xml(large, workers=2) == mailtls.assess_xml(large, workers=1)


def test_the_file_is_cut_between_hosts(large):
    cut = parallel.plan(large, piece_bytes=1 << 20)
    assert cut is not None and len(cut.pieces) > 10
    assert all(a[1] == b[0] for a, b in zip(cut.pieces, cut.pieces[1:], strict=False))
    hosts = sum(len(mailtls.read_scan(parallel.piece(large, cut.start_tag, *p)).hosts) for p in cut.pieces)
    assert hosts == 420


def test_a_truncated_large_file_keeps_every_whole_host(large, tmp_path):
    data = large.read_bytes()
    cut_at = data.index(b"<host ", len(data) // 2) + 100
    short = tmp_path / "short.xml"
    short.write_bytes(data[:cut_at])
    one = mailtls.assess_xml(short, workers=1)
    two = mailtls.assess_xml(short, workers=2)
    assert [t.target for t in two.targets] == [t.target for t in one.targets]
    assert not one.complete and not two.complete
    assert any(p.stage is mailtls.Stage.PARSE for p in two.all_problems)


@pytest.mark.parametrize("marker", [b"<!-- <host -->", b"<![CDATA[x]]>", b"<?pi x?>"])
def test_markup_that_could_hide_a_cut_is_read_in_one_piece(large, tmp_path, marker):
    data = large.read_bytes()
    middle = data.index(b"</host>", len(data) // 2) + len(b"</host>")
    odd = tmp_path / "odd.xml"
    odd.write_bytes(data[:middle] + marker + data[middle:])
    assert parallel.plan(odd) is None
