"""Many hosts at once: ``assess_many`` against the alternatives, on the simulated fleet and the real lab.

    python benchmarks/bench_many.py [--sizes 16,256,1024] [--per-host-max 256] [--naive-max 16]
                                     [--dask-max 256] [--no-lab]

Run as root from the project root (it starts the fleet and the lab on loopback). For each
fleet size, in one run:

- floor: ONE nmap run over every host with the same scripts and no ``-sV`` (what nmap
  alone costs; it reads no findings);
- ``mailtls.assess_many`` over every host (batches, two passes, rules);
- the same on a Dask ``LocalCluster`` of two worker processes;
- per-host ``mailtls.assess`` in 8 caller threads (the way to scan many hosts before
  ``assess_many``), up to ``--per-host-max`` hosts;
- naive one-pass ``nmap -sV`` with the same scripts over every host, up to ``--naive-max``.

mailtls's findings are compared with every fleet host's expected findings (silent hosts
aside: nothing can be concluded about them) and across the mailtls runs. Then the real lab:
``assess_many`` over every lab host against one naive ``nmap -sV`` run over the same hosts.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import lab
import lab.fleet
import mailtls
from mailtls.protocols import DEFAULT_PORTS
from mailtls.scan.options import ScanOptions
from mailtls.scan.runner import NmapJob, naive_command, nmap_arguments
from mailtls.scan.targets import parse_target


def timed(fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def floor_run(addresses: list[str], ports: tuple[int, ...]) -> None:
    """One nmap run, same scripts, no -sV, every host on the command line."""
    job = NmapJob(tuple(parse_target(a) for a in addresses), ScanOptions(ports=ports))
    command = ["nmap", "-oX", "-", *nmap_arguments(job), *addresses]
    subprocess.run(command, capture_output=True, check=True)


def naive_run(addresses: list[str], ports: tuple[int, ...]) -> None:
    subprocess.run(naive_command([parse_target(a) for a in addresses], ports), capture_output=True, check=True)


def findings_by_target(report: mailtls.Report) -> dict[str, frozenset]:
    return {t.target: frozenset((f.rule_id, f.port) for f in t.findings) for t in report.targets}


def check_fleet(report: mailtls.Report, hosts: list[lab.fleet.FleetHost]) -> str:
    got = findings_by_target(report)
    wrong = [h.address for h in hosts if h.kind is not lab.fleet.Kind.SILENT and got.get(h.address) != h.expected]
    silent = [h for h in hosts if h.kind is lab.fleet.Kind.SILENT]
    judged_silent = [h.address for h in silent if got.get(h.address)]
    if wrong or judged_silent:
        return f"MISMATCH on {len(wrong)} hosts ({wrong[:3]}), findings on silent hosts {judged_silent[:3]}"
    return f"all {len(hosts) - len(silent)} non-silent hosts as expected, {len(silent)} silent hosts without findings"


def bench_fleet(size: int, per_host_max: int, naive_max: int, dask: bool) -> list[str]:
    lines = [f"### fleet of {size} hosts", "", "| method | wall s | × floor | findings |", "|---|---|---|---|"]
    hosts = lab.fleet.hosts(size)
    addresses = [h.address for h in hosts]
    with lab.fleet.start(size):
        floor, _ = timed(lambda: floor_run(addresses, DEFAULT_PORTS))
        lines.append(f"| one nmap run, scripts, no -sV (floor) | {floor:.1f} | 1.00 | (not judged) |")
        seconds, report = timed(lambda: mailtls.assess_many(addresses))
        reference = findings_by_target(report)
        lines.append(f"| mailtls.assess_many | {seconds:.1f} | {seconds / floor:.2f} | {check_fleet(report, hosts)} |")
        if dask:
            import distributed

            with distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
            ) as cluster, distributed.Client(cluster) as client:
                seconds, other = timed(lambda: mailtls.assess_many(addresses, executor=client.get_executor()))
            same = "same findings" if findings_by_target(other) == reference else "DIFFERENT findings"
            lines.append(
                f"| assess_many on a 2-worker Dask LocalCluster | {seconds:.1f} | {seconds / floor:.2f} | {same} |"
            )
        if size <= per_host_max:
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                seconds, reports = timed(lambda: list(pool.map(mailtls.assess, addresses)))
            merged = {
                a: frozenset((f.rule_id, f.port) for f in r.findings) for a, r in zip(addresses, reports, strict=True)
            }
            same = "same findings" if merged == reference else "DIFFERENT findings"
            lines.append(f"| mailtls.assess per host, 8 threads | {seconds:.1f} | {seconds / floor:.2f} | {same} |")
        if size <= naive_max:
            seconds, _ = timed(lambda: naive_run(addresses, DEFAULT_PORTS))
            lines.append(f"| naive one nmap -sV run | {seconds:.1f} | {seconds / floor:.2f} | (not judged) |")
    return [*lines, ""]


def bench_lab() -> list[str]:
    hosts = list(lab.HOSTS.values())
    targets = [h.target for h in hosts]
    ports = tuple(sorted({p for h in hosts for p in h.ports}))
    lines = ["### the real lab (all hosts, all their ports)", "", "| method | wall s | × naive |", "|---|---|---|"]
    with lab.start():
        naive, _ = timed(lambda: naive_run(targets, ports))
        seconds, report = timed(lambda: mailtls.assess_many(targets, ports=ports))
        lines.append(f"| naive one nmap -sV run, same scripts | {naive:.1f} | 1.00 |")
        lines.append(f"| mailtls.assess_many | {seconds:.1f} | {seconds / naive:.2f} |")
        outcomes = {t.outcome.value for t in report.targets}
        lines.append(f"\n{len(report.findings)} findings over {len(targets)} hosts; outcomes {sorted(outcomes)}")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="16,256,1024")
    parser.add_argument("--per-host-max", type=int, default=256)
    parser.add_argument("--naive-max", type=int, default=16)
    parser.add_argument("--dask-max", type=int, default=256, help="largest fleet also run on a Dask LocalCluster")
    parser.add_argument("--no-lab", action="store_true")
    args = parser.parse_args()
    nmap_version = subprocess.run(["nmap", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    print(f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, {nmap_version}, "
          f"mailtls {mailtls.__version__}\n", flush=True)
    for size in (int(s) for s in args.sizes.split(",")):
        print("\n".join(bench_fleet(size, args.per_host_max, args.naive_max, size <= args.dask_max)), flush=True)
    if not args.no_lab:
        print("\n".join(bench_lab()), flush=True)


if __name__ == "__main__":
    main()
