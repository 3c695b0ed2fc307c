"""Reading nmap XML: mailtls's readers against python-nmap's and python-libnmap's parsers.

    python benchmarks/bench_parse.py [--hosts 5000,50000] [--repeat 3]

Builds a synthetic scan of N hosts from a host recorded in the lab
(tests/data/lab-hardened.xml: 7 ports with full ssl-enum-ciphers and ssl-cert tables,
about 45 KB per host), then reads it in fresh processes with each reader and prints
hosts/s and peak RSS (above an idle interpreter). Every host of this corpus is the same
but for its address, so mailtls's sharing of equal NSE subtrees (one record per
distinct certificate or cipher table) helps more here than on a real scan.

python-nmap and libnmap only parse (keeping far less, judging nothing); mailtls's
``assess_xml``/``iter_assess_xml`` parse and apply every rule. ``iter_assess_xml``
holds nothing, so its memory must not grow with the file; by default it reads a large
file with one worker process per CPU (the workers' peak is shown beside the parent's).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure

SOURCE = Path(__file__).resolve().parent.parent / "tests" / "data" / "lab-hardened.xml"


def synthesize(hosts: int, path: Path) -> None:
    text = SOURCE.read_text()
    head, rest = text.split("<host ", 1)
    host, tail = rest.rsplit("</host>", 1)
    host = "<host " + host + "</host>\n"
    address = re.search(r'addr="([0-9.]+)"', host).group(1)
    before, after = host.split(f'"{address}"', 1)
    with path.open("w") as out:
        out.write(head)
        for i in range(hosts):
            # 127.x.y.z: loopback, so nothing here could ever be mistaken for a target elsewhere
            out.write(f'{before}"127.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"{after}')
        out.write(tail)


READERS = {
    "mailtls iter_assess_xml (2 workers)": """
        import mailtls
        t0 = time.perf_counter()
        result = sum(len(r.findings) for r in mailtls.iter_assess_xml(PATH))
        t1 = time.perf_counter()
        """,
    "mailtls iter_assess_xml (1 process)": """
        import mailtls
        t0 = time.perf_counter()
        result = sum(len(r.findings) for r in mailtls.iter_assess_xml(PATH, workers=1))
        t1 = time.perf_counter()
        """,
    "mailtls assess_xml (keeps the report)": """
        import mailtls
        t0 = time.perf_counter()
        report = mailtls.assess_xml(PATH)
        t1 = time.perf_counter()
        result = len(report.findings)
        """,
    "mailtls read_scan (records only)": """
        import mailtls
        t0 = time.perf_counter()
        scan = mailtls.read_scan(PATH)
        t1 = time.perf_counter()
        result = sum(len(h.ports) for h in scan.hosts)
        """,
    "python-nmap analyse_nmap_xml_scan": """
        import nmap
        scanner = nmap.PortScanner()
        text = open(PATH).read()
        t0 = time.perf_counter()
        parsed = scanner.analyse_nmap_xml_scan(nmap_xml_output=text)
        t1 = time.perf_counter()
        result = sum(len(h.get("tcp", {})) for h in parsed["scan"].values())
        """,
    "python-libnmap NmapParser": """
        from libnmap.parser import NmapParser
        t0 = time.perf_counter()
        parsed = NmapParser.parse_fromfile(PATH)
        t1 = time.perf_counter()
        result = sum(len(h.services) for h in parsed.hosts)
        """,
}


def run(hosts: int, repeat: int) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scan.xml"
        synthesize(hosts, path)
        size_mib = path.stat().st_size / 2**20
        idle = measure("import mailtls, nmap, libnmap.parser\nt0 = t1 = 0\nresult = 0", repeat=1)["rss_mib"]
        for name, code in READERS.items():
            got = measure(code.replace("PATH", repr(str(path))), repeat=repeat)
            rows.append({"reader": name, "hosts": hosts, "file_mib": size_mib, "idle_mib": idle, **got})
            print(_line(rows[-1]), flush=True)
    return rows


def _line(row: dict) -> str:
    if "error" in row:
        return f"  {row['reader']:40} did not finish: {row['error']}"
    workers = f" (each worker {row['worker_rss_mib']:.0f} MiB)" if row["worker_rss_mib"] > 60 else ""
    return (
        f"  {row['reader']:40} {row['seconds']:7.2f} s {row['hosts'] / row['seconds']:7,.0f} hosts/s"
        f"  peak +{row['rss_mib'] - row['idle_mib']:,.0f} MiB{workers}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="5000,50000", help="comma-separated corpus sizes")
    parser.add_argument("--repeat", type=int, default=3, help="fresh runs per reader (median is shown)")
    args = parser.parse_args()
    for hosts in (int(h) for h in args.hosts.split(",")):
        print(f"{hosts} hosts:", flush=True)
        rows = run(hosts, args.repeat if hosts <= 10000 else 1)
        by_name = {r["reader"]: r for r in rows if "error" not in r}
        ours = by_name.get("mailtls iter_assess_xml (2 workers)")
        theirs = by_name.get("python-nmap analyse_nmap_xml_scan")
        if ours and theirs:
            ours_mib = ours["rss_mib"] - ours["idle_mib"] + 2 * ours["worker_rss_mib"]
            print(
                f"  iter_assess_xml vs python-nmap: {theirs['seconds'] / ours['seconds']:.2f}x the speed, "
                f"{ours_mib / (theirs['rss_mib'] - theirs['idle_mib']):.2f}x the memory (parent + 2 workers)"
            )


if __name__ == "__main__":
    main()
