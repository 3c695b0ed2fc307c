"""A large file of nmap XML cut into runs of whole hosts, so that several processes can read it.

nmap writes each ``<host>`` element starting on a line of its own, and between hosts
only other top-level elements. So a document can be cut at ``\\n<host`` into pieces
that each become a small document of their own (the ``<nmaprun>`` start tag, the
piece, ``</nmaprun>``) and are read by ``ScanReader`` like any other. That holds only
where nothing else can hide a ``<host`` or change how the text is read: comments,
CDATA, processing instructions or a document type with declarations after the start.
A file with any of those is not cut (``plan`` returns None) and is read in one piece.
"""

from __future__ import annotations

import os
import re

import attrs

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
