"""nmap XML too large to keep, generated while it is read: a file object whose bytes are
made on demand, so a test can feed hundreds of megabytes without writing or holding them."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator

HEAD = b'<?xml version="1.0"?>\n<nmaprun scanner="nmap" args="nmap (generated)" start="1700000000" version="7.93">\n'
TAIL = b'<runstats><finished time="1700000099" exit="success"/></runstats>\n</nmaprun>\n'


class GeneratedXml(io.RawIOBase):
    """A read-only binary stream over an iterator of byte chunks; counts what was read."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = b""
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self.size += n
        return n


def _batched(item: bytes, count: int, per_chunk: int = 1000) -> Iterator[bytes]:
    block = item * per_chunk
    for _ in range(count // per_chunk):
        yield block
    yield item * (count % per_chunk)


_PORT = (
    '<port protocol="tcp" portid="{}"><state state="open" reason="syn-ack" reason_ttl="64"/>'
    '<service name="pop3" method="table" conf="3"/>'
    '<script id="pop3-capabilities" output="USER CAPA TOP UIDL"/></port>\n'
)


def many_ports(count: int = 400_000, *, distinct: bool = True) -> GeneratedXml:
    """One host with ``count`` open ports (nmap's shape, ~230 bytes each: 400,000 are ~90 MB).

    ``distinct``: port numbers 1, 2, ... 65535, 1, 2, ... (every number open, then repeats);
    otherwise port 110 ``count`` times."""

    def ports() -> Iterator[bytes]:
        if not distinct:
            yield from _batched(_PORT.format(110).encode(), count)
            return
        for start in range(0, count, 1000):
            yield "".join(_PORT.format(n % 65535 + 1) for n in range(start, min(count, start + 1000))).encode()

    def chunks() -> Iterator[bytes]:
        yield HEAD
        yield b'<host starttime="1700000001" endtime="1700000002"><status state="up" reason="user-set"/>\n'
        yield b'<address addr="192.0.2.10" addrtype="ipv4"/>\n<ports>'
        yield from ports()
        yield b"</ports>\n</host>\n"
        yield TAIL

    return GeneratedXml(chunks())


def many_hosthints(megabytes: int = 200) -> GeneratedXml:
    """``megabytes`` of top-level <hosthint> elements (nmap writes one per target before
    scanning it), then one real host."""
    hint = (
        b'<hosthint><status state="up" reason="unknown-response" reason_ttl="0"/>\n'
        b'<address addr="192.0.2.99" addrtype="ipv4"/>\n<hostnames>\n</hostnames>\n</hosthint>\n'
    )
    count = megabytes * 1024 * 1024 // len(hint)

    def chunks() -> Iterator[bytes]:
        yield HEAD
        yield from _batched(hint, count)
        yield (
            b'<host starttime="1700000001" endtime="1700000002"><status state="up" reason="user-set"/>\n'
            b'<address addr="192.0.2.10" addrtype="ipv4"/>\n<ports>'
            b'<port protocol="tcp" portid="110"><state state="open" reason="syn-ack"/>'
            b'<service name="pop3" method="table" conf="3"/>'
            b'<script id="pop3-capabilities" output="USER CAPA TOP UIDL"/></port></ports>\n</host>\n'
        )
        yield TAIL

    return GeneratedXml(chunks())
