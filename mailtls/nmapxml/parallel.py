"""One large file of nmap XML read by several processes, host for host as one process reads it.

**Cutting.** nmap writes each ``<host>`` element starting on a line of its own, and between
hosts only other top-level elements. So a document can be cut at ``\\n<host`` into pieces
that each become a small document of their own (the ``<nmaprun>`` start tag, the piece,
``</nmaprun>``) and are read by ``ScanReader`` like any other. That holds only where
nothing else can hide a ``<host`` or change how the text is read: comments, CDATA,
processing instructions or a document type with declarations after the start. A file with
any of those is not cut (``plan`` returns None) and is read in one piece.

**Reading.** Each worker is a fresh Python process running ``work()`` (not
``multiprocessing``: its spawn and forkserver methods re-import the caller's main script,
which breaks any script without a ``__main__`` guard, and forking a process that runs
threads can deadlock). The parent sends each worker what to do with a host (``judge``, any
picklable callable: the API layer's judging by the rules) and then pieces of the file
(byte ranges of whole hosts) over its standard input; the worker reads the hosts, hands
each to ``judge`` and sends the results back, pickled, on its standard output. Piece *i*
goes to worker *i mod n* and each worker answers in order, so the parent hands the results
over in file order with at most two pieces per worker in flight.

**When.** ``worth_splitting`` says whether a source is worth it: a path to a file of at
least ``PARALLEL_MIN_BYTES``, and something to do with each host that can be sent to
another process.
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import IO, Generic, TypeGuard, TypeVar

import attrs

from ..model.records import HostRecord, Problem, Stage
from .reader import ScanReader, XmlSource

T = TypeVar("T")
#: What a worker does with each host it reads, and the problems met reading it.
Judge = Callable[[HostRecord, tuple[Problem, ...]], T]

#: Files smaller than this are read in the calling process: starting others costs more.
PARALLEL_MIN_BYTES = 16 * 1024 * 1024
#: Pieces in flight per worker: one being read, one waiting.
IN_FLIGHT = 2

#: Pieces of about this size: large enough that a process start and the hand-over of
#: results are small beside the reading, small enough to keep every core busy.
PIECE_BYTES = 4 * 1024 * 1024
#: The file is scanned for cut points in blocks of this size.
BLOCK = 1024 * 1024

_HOST = b"\n<host"
_TAIL = re.compile(rb"\n<(runstats|/nmaprun)\b")
# What nmap writes before the first host, besides elements: its declaration, its
# stylesheet, an empty document type and one comment.
_HEADER_ALLOWED = re.compile(rb"<\?xml[^>]*\?>|<\?xml-stylesheet[^>]*\?>|<!DOCTYPE nmaprun>|<!--[^<>]*-->")


@attrs.frozen
class SplitPlan:
    """Where the hosts are: ``start_tag`` opens every piece; ``pieces`` are (offset, end) byte
    ranges of whole hosts; ``outside`` is the document without its hosts (header and tail),
    read on its own for the run's details."""

    start_tag: bytes
    pieces: tuple[tuple[int, int], ...]
    outside: bytes


def plan(path: str | os.PathLike[str], piece_bytes: int = PIECE_BYTES) -> SplitPlan | None:
    """Cut points for the file at ``path``, or None where it cannot be cut safely.

    One pass over the file in blocks (memory stays at a block or two)."""
    with open(path, "rb") as file:
        header = b""
        while _HOST not in header:
            block = file.read(BLOCK)
            if not block or len(header) > 64 * BLOCK:
                return None  # no host, or a header nmap would never write
            header += block
        first = header.index(_HOST)
        body_start = header[first:]
        header = header[:first]
        allowed = _HEADER_ALLOWED.sub(b"", header)
        opening = re.search(rb"<nmaprun\b[^>]*>", header)
        if b"<!" in allowed or b"<?" in allowed or opening is None or opening.group(0).endswith(b"/>"):
            return None
        cuts = [first]  # byte offsets where a piece starts
        last_host = first
        tail: int | None = None
        position = first  # file offset of window[0]
        window = body_start
        while True:
            # Nothing after the first host may hide markup from a cut.
            if any(marker in window for marker in (b"<!", b"<?", b"]]>")):
                return None
            found = window.rfind(_HOST)
            if found >= 0:
                last_host = max(last_host, position + found)
            target = cuts[-1] + piece_bytes
            if position + len(window) > target:
                cut = window.find(_HOST, max(0, target - position))
                if cut >= 0:
                    cuts.append(position + cut)
            block = file.read(BLOCK)
            if not block:
                break
            keep = len(_HOST) + 16  # so that a marker split between blocks is still seen
            position += len(window) - keep
            window = window[-keep:] + block
        size = file.tell()
        file.seek(last_host)
        end_part = file.read(size - last_host)
        match = _TAIL.search(end_part)
        if match is not None:
            tail = last_host + match.start()
        end = tail if tail is not None else size
        file.seek(end)
        outside = header + file.read(size - end)
    starts = [c for c in dict.fromkeys(cuts) if c < end]
    pieces = tuple(zip(starts, [*starts[1:], end], strict=True))
    return SplitPlan(start_tag=opening.group(0), pieces=pieces, outside=outside)


def piece(path: str | os.PathLike[str], start_tag: bytes, offset: int, end: int) -> bytes:
    """One piece as a document of its own."""
    with open(path, "rb") as file:
        file.seek(offset)
        return start_tag + file.read(end - offset) + b"\n</nmaprun>"


def worth_splitting(source: XmlSource, judge: object) -> TypeGuard[str | os.PathLike[str]]:
    """A path to a file large enough to be read by several processes, with a ``judge`` that can
    be sent to them (rules defined in ``__main__``, lambdas... cannot: read in this process)."""
    if not isinstance(source, (str, os.PathLike)) or (isinstance(source, str) and source.lstrip().startswith("<")):
        return False
    try:
        if os.path.getsize(source) < PARALLEL_MIN_BYTES:
            return False
    except OSError:
        return False  # the reader will say what is wrong with the path
    try:
        pickle.dumps(judge)
    except Exception:  # noqa: BLE001 - pickling can fail in any way (custom __reduce__...): then not picklable
        return False
    return True


@attrs.frozen
class Piece(Generic[T]):
    """What one piece of the file gave: each host's result, and the problems of the piece."""

    results: list[T]
    problems: list[Problem]


def read_pieces(path: str, cut: SplitPlan, judge: Judge[T], workers: int) -> Iterator[Piece[T]]:
    """Each piece's results, in file order, read by ``workers`` processes."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", "from mailtls.nmapxml.parallel import work; work()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        for _ in range(min(workers, len(cut.pieces)))
    ]
    try:
        count = len(processes)
        for process in processes:
            assert process.stdin is not None  # noqa: S101 - narrowing: Popen was given stdin=PIPE
            pickle.dump(judge, process.stdin)
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


def _receive(process: subprocess.Popen[bytes], index: int) -> Piece[T]:
    assert process.stdout is not None  # noqa: S101 - narrowing: Popen was given stdout=PIPE
    try:
        # Written by our own worker process (work, below) on its stdout pipe.
        piece: Piece[T] = pickle.load(process.stdout)  # noqa: S301
    except (EOFError, pickle.UnpicklingError) as exc:
        lost = Problem(
            stage=Stage.PARSE, message=f"piece {index} of the file was not read: its worker process ended ({exc!r})"
        )
        return Piece([], [lost])
    return piece


def _read_piece(path: str, start_tag: bytes, offset: int, end: int, judge: Judge[T]) -> Piece[T]:
    reader = ScanReader(piece(path, start_tag, offset, end))
    results = [judge(host, problems) for host, problems in reader]
    # Each piece is its own small document: what it says of the run as a whole is the
    # parent's to read from the header and tail, only problems within the hosts count.
    return Piece(results, [p for p in reader.problems if p.stage is not Stage.SCAN])


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """A worker: the judge, then one piece after another until the parent closes the pipe."""
    # requests is this worker's stdin pipe from the mailtls process that started it.
    judge = pickle.load(requests)  # noqa: S301
    while True:
        try:
            path, start_tag, offset, end = pickle.load(requests)  # noqa: S301 - from the parent, as above
        except EOFError:
            return
        try:
            done = _read_piece(path, start_tag, offset, end, judge)
        except Exception as exc:  # noqa: BLE001 - whatever happens, the parent gets an answer for this piece
            done = Piece([], [Problem(stage=Stage.PARSE, message=f"bytes {offset}-{end} could not be read: {exc!r}")])
        pickle.dump(done, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()


def work() -> None:
    """A worker process's whole life: ``serve`` on its standard input and output."""
    # The answers get the real standard output; anything else printed (a plugin's chatter)
    # goes to stderr instead of into the stream of pickles.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.stdin.buffer, answers)
