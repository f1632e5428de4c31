"""The chat room's fan-out, for `make bench` (recipe 4): three broadcast designs served the same way in
the same run: this recipe's ChatRoom (a direct write under the transport's high-water mark, a backlog
once a member falls behind), a queue and a writer task per member (the recipe's first design), and the
original's (await each client's send in turn).

- fan-out: 100 clients on 127.0.0.1, one of them sending; deliveries a second until all have every message.
- one client that does not read (its socket has a tiny receive buffer), 99 that do, one message of about
  2 KB every millisecond for 6 s: how many messages the 99 got, and the delivery delays of every message
  to every one of them, a message that never arrived counting as never. The server's end of the slow
  client's connection has a small send buffer too, as on a slow link, so it fills within the run.
- scaling: the fan-out with 10, 100 and 500 clients, and the peak of memory Python allocated during a
  second fan-out of the same size traced by tracemalloc (server and clients share the process).

Every design parses a client's `{"text": ...}` and sends the room's `{"type": "message", ...}` frame, so
the three put the same bytes on the wire.

    python tools/chat_bench.py          # only the chat part of `make bench`
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import socket
import time
import tracemalloc
from collections.abc import Callable

import aiohttp
from aiohttp import web

from async_cookbook.chat import ChatRoom, create_app

PADDING = "x" * 1900  # under ChatRoom's limit of 2000 characters


def relayed(request: web.Request, data: str) -> str:
    """What every design sends for a client's `{"text": ...}`: the room's own message, encoded once."""
    return json.dumps({"type": "message", "from": request.query["name"], "text": json.loads(data)["text"]})


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
                frame = relayed(request, message.data)
                for connection in list(connections):
                    await connection.send_str(frame)
        finally:
            connections.discard(ws)
        return ws

    app = web.Application()
    app.router.add_get("/chat", handler)
    return app, lambda: len(connections)


def queue_app(outbox_size: int = 64) -> tuple[web.Application, Callable[[], int]]:
    """A queue and a writer task per member, as this recipe first did: a broadcast puts the frame in each
    member's bounded queue and the member's task sends it; a full queue drops the member."""
    outboxes: dict[web.WebSocketResponse, asyncio.Queue[str]] = {}

    async def write(ws: web.WebSocketResponse, outbox: asyncio.Queue[str]) -> None:
        with contextlib.suppress(ConnectionError):
            while True:
                await ws.send_str(await outbox.get())

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        outboxes[ws] = outbox = asyncio.Queue(outbox_size)
        writer = asyncio.create_task(write(ws, outbox))
        try:
            async for message in ws:
                frame = relayed(request, message.data)
                for other, queue in list(outboxes.items()):
                    try:
                        queue.put_nowait(frame)
                    except asyncio.QueueFull:
                        outboxes.pop(other, None)
                        request.app["dropped"].add(asyncio.create_task(other.close(code=1008)))
                await asyncio.sleep(0)
        finally:
            outboxes.pop(ws, None)
            writer.cancel()
        return ws

    app = web.Application()
    app["dropped"] = set()
    app.router.add_get("/chat", handler)
    return app, lambda: len(outboxes)


def room_app() -> tuple[web.Application, Callable[[], int]]:
    room = ChatRoom(heartbeat=None)
    return create_app(room), lambda: len(room.members)


def tiny_receive_buffer(address_info) -> socket.socket:
    family, kind, protocol, _, _ = address_info
    sock = socket.socket(family, kind, protocol)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return sock


@web.middleware
async def slow_link(request: web.Request, handler):
    """The slow client's link is slow at the server's end too: a small kernel send buffer."""
    if request.query.get("name") == "slow":
        request.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    return await handler(request)


@contextlib.asynccontextmanager
async def served(app: web.Application):
    app.middlewares.append(slow_link)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/chat"
    finally:
        await runner.cleanup()


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(60):
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


async def traced_fan_out(make_app, clients: int) -> float:
    """Peak MiB that Python allocated during a fan-out of `clients` (tracemalloc; server and clients)."""
    tracemalloc.start()
    try:
        await fan_out(make_app, clients, messages=50)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


DESIGNS = [
    ("ChatRoom (direct write, backlog)", room_app),
    ("queue and task per member", queue_app),
    ("original (awaits each in turn)", sequential_app),
]


async def chat_bench() -> None:
    # What the runs log is expected: the room drops the slow client, and the original's handlers fail
    # on sockets closed under them when the run ends (aiohttp #4587). The figures are the output.
    logging.getLogger("async_cookbook.chat").setLevel(logging.ERROR)
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    print("\nchat: 100 clients on 127.0.0.1, one sending (recipe 4)")
    print(f"{'broadcast':34} {'deliveries/s':>13} {'sent':>6} {'fewest got':>11} {'p50 ms':>8} {'p99 ms':>8}")
    rates = {}
    for name, make_app in DESIGNS:
        rates[name] = rate = await fan_out(make_app)
        sent, fewest, p50, p99 = await one_slow_reader(make_app)
        print(f"{name:34} {rate:>13.0f} {sent:>6} {fewest:>11} {_ms(p50):>8} {_ms(p99):>8}")
    print("(deliveries/s: all 100 read. The rest: one of the 100 does not read; a message every millisecond for 6 s;")
    print(" p50/p99: delay of every message to every reading client, one never delivered counting as never)")
    ours, original = rates[DESIGNS[0][0]], rates[DESIGNS[2][0]]
    print(f"ratio, same run: ChatRoom {ours / original:.2f} to the original")
    print("\nchat scaling: one sender, 200 messages; memory: peak MiB allocated during a 50-message fan-out")
    print(f"{'broadcast':34} " + " ".join(f"{f'{n} clients/s':>15} {'MiB':>6}" for n in (10, 100, 500)))
    for name, make_app in DESIGNS:
        cells = []
        for clients in (10, 100, 500):
            rate = await fan_out(make_app, clients)
            cells.append(f"{rate:>15.0f} {await traced_fan_out(make_app, clients):>6.1f}")
        print(f"{name:34} " + " ".join(cells))


if __name__ == "__main__":
    asyncio.run(chat_bench())
