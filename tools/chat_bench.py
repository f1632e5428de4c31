"""The chat room's fan-out, for `make bench` (recipe 4): this recipe's ChatRoom against the original's
design, a broadcast that awaits each client in turn, served the same way in the same run.

- fan-out: 100 clients on 127.0.0.1, one of them sending; deliveries a second until all have every message.
- one client that does not read (its socket has a tiny receive buffer), 99 that do, one message of about
  2 KB every millisecond for 6 s: how many messages the 99 got, and the delivery delays of every message
  to every one of them, a message that never arrived counting as never.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import socket
import time
from collections.abc import Callable

import aiohttp
from aiohttp import web

from async_cookbook.chat import ChatRoom, create_app

PADDING = "x" * 1900  # under ChatRoom's limit of 2000 characters


def sequential_app() -> tuple[web.Application, Callable[[], int]]:
    """The original handler's design on aiohttp: for each message, await a send to each client in turn.
    (The set is copied, so that only the stall is measured, not the crash.)"""
    connections: set[web.WebSocketResponse] = set()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        connections.add(ws)
        try:
            async for message in ws:
                for connection in list(connections):
                    await connection.send_str(message.data)
        finally:
            connections.discard(ws)
        return ws

    app = web.Application()
    app.router.add_get("/chat", handler)
    return app, lambda: len(connections)


def room_app() -> tuple[web.Application, Callable[[], int]]:
    room = ChatRoom(heartbeat=None)
    return create_app(room), lambda: len(room.members)


def tiny_receive_buffer(address_info) -> socket.socket:
    family, kind, protocol, _, _ = address_info
    sock = socket.socket(family, kind, protocol)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return sock


@contextlib.asynccontextmanager
async def served(app: web.Application):
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/chat"
    finally:
        await runner.cleanup()


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110 (the original app has no event to wait on)
            await asyncio.sleep(0.001)


class Reader:
    """Reads one client's frames, noting each chat text and when it arrived."""

    def __init__(self, ws) -> None:
        self.ws, self.arrivals = ws, []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            payload = json.loads(message.data)
            if "text" in payload:
                self.arrivals.append((payload["text"], time.perf_counter()))


async def fan_out(make_app, clients: int = 100, messages: int = 200) -> float:
    app, members = make_app()
    async with served(app) as url, aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        sockets = [await session.ws_connect(url, params={"name": f"c{n}"}) for n in range(clients)]
        await until(lambda: members() == clients)
        readers = [Reader(ws) for ws in sockets]
        started = time.perf_counter()
        for n in range(messages):
            await sockets[0].send_str(json.dumps({"text": str(n)}))
        await until(lambda: all(len(reader.arrivals) >= messages for reader in readers))
        elapsed = max(reader.arrivals[-1][1] for reader in readers) - started
        for ws in sockets:
            await ws.close()
        await asyncio.gather(*(reader.task for reader in readers))
    return clients * messages / elapsed


async def one_slow_reader(make_app, clients: int = 100, seconds: float = 6.0) -> tuple[int, int, float, float]:
    """(messages sent, the fewest any reading client got, median and 99th percentile delay in ms)."""
    app, members = make_app()
    slow_connector = aiohttp.TCPConnector(limit=0, socket_factory=tiny_receive_buffer)
    async with (
        served(app) as url,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
        aiohttp.ClientSession(connector=slow_connector) as slow_session,
    ):
        slow = await slow_session.ws_connect(url, params={"name": "slow"})  # never reads
        sockets = [await session.ws_connect(url, params={"name": f"c{n}"}) for n in range(clients - 1)]
        await until(lambda: members() == clients)
        readers = [Reader(ws) for ws in sockets]
        sent = 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    text = f"{time.perf_counter()!r} {PADDING}"  # about 2 KB a message
                    await sockets[0].send_str(json.dumps({"text": text}))
                    sent += 1
                    await asyncio.sleep(0.001)
        await asyncio.sleep(0.5)  # a last chance for what was sent to arrive
        delays = sorted(
            1000 * (arrived - float(text.split()[0])) for reader in readers for text, arrived in reader.arrivals
        )
        delays += [math.inf] * (sent * len(readers) - len(delays))  # never arrived
        fewest = min(len(reader.arrivals) for reader in readers)
        for ws in [*sockets, slow]:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1):
                    await ws.close()
        for reader in readers:
            reader.task.cancel()
        await asyncio.gather(*(reader.task for reader in readers), return_exceptions=True)
    return sent, fewest, delays[len(delays) // 2], delays[int(0.99 * (len(delays) - 1))]


def _ms(delay: float) -> str:
    return "never" if math.isinf(delay) else f"{delay:.1f}"


async def chat_bench() -> None:
    # What the runs log is expected: the room drops the slow client, and the original's handlers fail
    # on sockets closed under them when the run ends (aiohttp #4587). The figures are the output.
    logging.getLogger("async_cookbook.chat").setLevel(logging.ERROR)
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    print("\nchat: 100 clients on 127.0.0.1, one sending (recipe 4)")
    print(f"{'broadcast':34} {'deliveries/s':>13} {'sent':>6} {'fewest got':>11} {'p50 ms':>8} {'p99 ms':>8}")
    designs = [("ChatRoom (outbox per member)", room_app), ("original (awaits each in turn)", sequential_app)]
    for name, make_app in designs:
        rate = await fan_out(make_app)
        sent, fewest, p50, p99 = await one_slow_reader(make_app)
        print(f"{name:34} {rate:>13.0f} {sent:>6} {fewest:>11} {_ms(p50):>8} {_ms(p99):>8}")
    print("(deliveries/s: all 100 read. The rest: one of the 100 does not read; a message every millisecond for 6 s)")


if __name__ == "__main__":
    asyncio.run(chat_bench())
