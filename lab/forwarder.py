"""A counting TCP forwarder: how many connections does a client open at once to one host?

    >>> from lab.forwarder import Forwarder
    >>> with Forwarder("127.0.2.200", "127.0.2.11", [25, 465, 587]) as fwd:
    ...     mailtls.assess("127.0.2.200", ports=[25, 465, 587])
    ...     print(fwd.peak, fwd.total, fwd.peak_by_port)

It listens on ``listen_address`` at each of the given ports and relays every connection,
byte for byte in both directions, to the same port of ``target_address`` (a real server).
``peak`` is the largest number of connections open at the same time *across all its
ports*, so it is the per-host figure a scanner's politeness is measured by; ``total``
counts every connection accepted. A connection counts from the moment the forwarder
accepts it until either side closes, whether or not the server took it (a server over
its own limit still answers through the forwarder, so the client sees what it would).

Runs its own asyncio loop in a background thread; loopback addresses only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections import Counter
from collections.abc import Iterable

__all__ = ["Forwarder"]


class Forwarder:
    def __init__(self, listen_address: str, target_address: str, ports: Iterable[int]):
        for address in (listen_address, target_address):
            if not ipaddress.ip_address(address).is_loopback:
                raise ValueError(f"the forwarder stays on loopback: {address} is not")
        self.listen_address, self.target_address = listen_address, target_address
        self.ports = tuple(ports)
        self._lock = threading.Lock()
        self._open = 0
        self._open_by_port: Counter[int] = Counter()
        self.peak = 0
        self.total = 0
        self.peak_by_port: Counter[int] = Counter()
        self.total_by_port: Counter[int] = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stopping: asyncio.Event | None = None

    # -- counters ------------------------------------------------------------------------

    @property
    def open(self) -> int:
        """Connections open through the forwarder right now."""
        with self._lock:
            return self._open

    def reset(self) -> None:
        """Start counting afresh (connections still open keep counting toward the new peak)."""
        with self._lock:
            self.peak, self.total = self._open, 0
            self.peak_by_port = Counter(self._open_by_port)
            self.total_by_port = Counter()

    def _opened(self, port: int) -> None:
        with self._lock:
            self._open += 1
            self._open_by_port[port] += 1
            self.total += 1
            self.total_by_port[port] += 1
            self.peak = max(self.peak, self._open)
            self.peak_by_port[port] = max(self.peak_by_port[port], self._open_by_port[port])

    def _closed(self, port: int) -> None:
        with self._lock:
            self._open -= 1
            self._open_by_port[port] -= 1

    # -- running -------------------------------------------------------------------------

    def start(self) -> Forwarder:
        self._thread = threading.Thread(target=self._run, name=f"forwarder-{self.listen_address}", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop and self._stopping:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread:
            self._thread.join(10)

    def __enter__(self) -> Forwarder:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        servers = []
        try:
            for port in self.ports:
                servers.append(
                    await asyncio.start_server(
                        lambda r, w, port=port: self._relay(r, w, port), self.listen_address, port, backlog=256
                    )
                )
        except OSError as error:
            self._error = error
            for server in servers:
                server.close()
            self._ready.set()
            return
        self._ready.set()
        await self._stopping.wait()
        for server in servers:
            server.close()
            await server.wait_closed()

    async def _relay(self, client_reader, client_writer, port: int) -> None:
        self._opened(port)
        try:
            try:
                server_reader, server_writer = await asyncio.open_connection(self.target_address, port)
            except OSError:
                return  # refused by the server: the client sees its connection closed
            await asyncio.gather(
                _pipe(client_reader, server_writer), _pipe(server_reader, client_writer), return_exceptions=True
            )
        except asyncio.CancelledError:
            pass  # the forwarder is stopping with this connection still open
        finally:
            client_writer.close()
            self._closed(port)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        # One side closed (or reset): close the other, so each connection ends as a whole.
        writer.close()
