"""Reading one large file of nmap XML with several processes.

Each worker is a fresh ``python -m mailtls._worker`` process (not ``multiprocessing``:
its spawn and forkserver methods re-import the caller's main script, which breaks any
script without a ``__main__`` guard, and forking a process that runs threads can
deadlock). The parent hands each worker pieces of the file (byte ranges of whole hosts,
see ``nmapxml/split.py``) over its standard input; the worker reads and judges the
hosts and sends the ``TargetResult``s back, pickled, on its standard output. Piece *i*
goes to worker *i mod n* and each worker answers in order, so the parent hands the
results over in file order with at most two pieces per worker in flight.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Iterator
from typing import IO

from .model.records import Problem, Stage
from .model.report import TargetResult
from .nmapxml import split
from .nmapxml.reader import ScanReader
from .rules.engine import assess_host
from .rules.registry import Registry

#: Pieces in flight per worker: one being read, one waiting.
IN_FLIGHT = 2

Piece = tuple[list[TargetResult], list[Problem]]


def assess_pieces(
    path: str, cut: split.SplitPlan, registry: Registry | None, strict: bool, workers: int
) -> Iterator[Piece]:
    """Each piece's results, in file order, read by ``workers`` processes."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "mailtls._worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        for _ in range(min(workers, len(cut.pieces)))
    ]
    try:
        count = len(processes)
        for process in processes:
            assert process.stdin is not None  # noqa: S101 - narrowing: Popen was given stdin=PIPE
            pickle.dump((registry, strict), process.stdin)
        sent = 0
        for index in range(len(cut.pieces)):
            while sent < len(cut.pieces) and sent < index + IN_FLIGHT * count:
                offset, end = cut.pieces[sent]
                stdin = processes[sent % count].stdin
                assert stdin is not None  # noqa: S101 - narrowing: Popen was given stdin=PIPE
                pickle.dump((path, cut.start_tag, offset, end), stdin)
                stdin.flush()
                sent += 1
            yield _receive(processes[index % count], index)
    finally:
        for process in processes:
            if process.stdin is not None:
                process.stdin.close()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


def _receive(process: subprocess.Popen[bytes], index: int) -> Piece:
    assert process.stdout is not None  # noqa: S101 - narrowing: Popen was given stdout=PIPE
    try:
        # Written by our own worker process (mailtls._worker) on its stdout pipe.
        piece: Piece = pickle.load(process.stdout)  # noqa: S301
    except (EOFError, pickle.UnpicklingError) as exc:
        lost = Problem(
            stage=Stage.PARSE, message=f"piece {index} of the file was not read: its worker process ended ({exc!r})"
        )
        return [], [lost]
    return piece


def _assess_piece(path: str, start_tag: bytes, offset: int, end: int, registry: Registry, strict: bool) -> Piece:
    reader = ScanReader(split.piece(path, start_tag, offset, end))
    found = [assess_host(host, registry, problems=problems, strict=strict) for host, problems in reader]
    # Each piece is its own small document: what it says of the run as a whole is the
    # parent's to read from the header and tail, only problems within the hosts count.
    return found, [p for p in reader.problems if p.stage is not Stage.SCAN]


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    # requests is this worker's stdin pipe from the mailtls process that started it.
    registry, strict = pickle.load(requests)  # noqa: S301
    rules = registry if registry is not None else Registry.default()
    while True:
        try:
            path, start_tag, offset, end = pickle.load(requests)  # noqa: S301 - from the parent, as above
        except EOFError:
            return
        try:
            piece = _assess_piece(path, start_tag, offset, end, rules, strict)
        except Exception as exc:  # noqa: BLE001 - whatever happens, the parent gets an answer for this piece
            piece = ([], [Problem(stage=Stage.PARSE, message=f"bytes {offset}-{end} could not be read: {exc!r}")])
        pickle.dump(piece, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()
