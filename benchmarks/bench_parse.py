"""Parsing nmap XML: mailtls's streaming reader against python-nmap's parser.

    python benchmarks/bench_parse.py [HOSTS]

Builds a synthetic scan of HOSTS hosts (default 5000) from a host recorded in the
lab (tests/data/lab-hardened.xml: 7 ports with full ssl-enum-ciphers and ssl-cert
tables), then parses it in fresh processes with each parser and prints the ratios.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure  # noqa: E402

SOURCE = Path(__file__).resolve().parent.parent / "tests" / "data" / "lab-hardened.xml"


def synthesize(hosts: int, path: Path) -> None:
    text = SOURCE.read_text()
    head, rest = text.split("<host ", 1)
    host, tail = rest.rsplit("</host>", 1)
    host = "<host " + host + "</host>\n"
    address = re.search(r'addr="([0-9.]+)"', host).group(1)
    with path.open("w") as out:
        out.write(head)
        for i in range(hosts):
            # 127.x.y.z: loopback, so nothing here could ever be mistaken for a target elsewhere
            out.write(host.replace(f'"{address}"', f'"127.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"'))
        out.write(tail)


def run(hosts: int = 5000) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scan.xml"
        synthesize(hosts, path)
        size_mib = path.stat().st_size / 2**20
        baseline = measure("t0 = time.perf_counter(); t1 = t0; result = 0", repeat=1)
        ours = measure(
            f"""
            import mailtls
            t0 = time.perf_counter()
            scan = mailtls.read_scan({str(path)!r})
            t1 = time.perf_counter()
            result = sum(len(h.ports) for h in scan.hosts)
            """
        )
        ours_rules = measure(
            f"""
            import mailtls
            t0 = time.perf_counter()
            report = mailtls.assess_xml({str(path)!r})
            t1 = time.perf_counter()
            result = len(report.findings)
            """
        )
        theirs = measure(
            f"""
            import nmap
            scanner = nmap.PortScanner()
            text = open({str(path)!r}).read()
            t0 = time.perf_counter()
            parsed = scanner.analyse_nmap_xml_scan(nmap_xml_output=text)
            t1 = time.perf_counter()
            result = sum(len(h.get("tcp", {{}})) for h in parsed["scan"].values())
            """
        )
    assert ours["result"] == theirs["result"], (ours["result"], theirs["result"])
    base = baseline["rss_mib"]
    return {
        "hosts": hosts,
        "file_mib": size_mib,
        "ports": ours["result"],
        "mailtls_s": ours["seconds"],
        "mailtls_with_rules_s": ours_rules["seconds"],
        "python_nmap_s": theirs["seconds"],
        "mailtls_mib": ours["rss_mib"] - base,
        "python_nmap_mib": theirs["rss_mib"] - base,
    }


def main() -> None:
    hosts = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    r = run(hosts)
    print(f"{r['hosts']} hosts, {r['ports']} ports, {r['file_mib']:.1f} MiB of XML")
    print(f"  mailtls.read_scan     {r['mailtls_s']:.2f} s  {r['hosts'] / r['mailtls_s']:,.0f} hosts/s  "
          f"peak +{r['mailtls_mib']:.0f} MiB")
    print(f"  mailtls.assess_xml    {r['mailtls_with_rules_s']:.2f} s  (parse + all rules)")
    print(f"  python-nmap parser    {r['python_nmap_s']:.2f} s  {r['hosts'] / r['python_nmap_s']:,.0f} hosts/s  "
          f"peak +{r['python_nmap_mib']:.0f} MiB  (drops the NSE tables)")
    print(f"  ratio python-nmap/mailtls: time {r['python_nmap_s'] / r['mailtls_s']:.2f}x, "
          f"memory {r['python_nmap_mib'] / max(r['mailtls_mib'], 1):.2f}x")


if __name__ == "__main__":
    main()
