"""Run one measurement in a fresh interpreter and read back its wall time and peak memory.

A fresh process per measurement keeps one tool's caches and heap out of another's numbers;
peak RSS (ru_maxrss) is the honest memory figure for lxml and ElementTree, whose
allocations tracemalloc does not see. Where the measured code starts worker processes,
the largest worker's peak is reported beside the parent's."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import textwrap


def measure(code: str, *, repeat: int = 3) -> dict:
    """Median wall time (s) and peak RSS (MiB) of ``code`` over ``repeat`` fresh runs.

    ``code`` is run after ``import time``; it must set ``result`` to something JSON-able.
    Only the part between ``t0`` and ``t1`` is timed: imports and set-up are not."""
    wrapper = textwrap.dedent(
        """
        import json, resource, time
        {code}
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(json.dumps({{"seconds": t1 - t0, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                          "worker_rss_mib": children.ru_maxrss / 1024, "result": result}}))
        """
    ).format(code=textwrap.dedent(code))
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True)
        if out.returncode != 0:
            last = (out.stderr.strip().splitlines() or [f"exit {out.returncode}"])[-1]
            return {"error": last[:300] + (" ..." if len(last) > 300 else "")}
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "rss_mib": max(r["rss_mib"] for r in runs),
        "worker_rss_mib": max(r["worker_rss_mib"] for r in runs),
        "result": runs[0]["result"],
    }
