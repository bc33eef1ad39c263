"""The bound on kopf's concurrent API requests: requests queue for a slot, watch streams never do."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import test_utils, web

from dbmigrate.controller import login


class _Server:
    """Answers after a short delay and records how many requests it served at once; watches stay open until
    ``release`` is set."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") == "true":
            response = web.StreamResponse()
            await response.prepare(request)
            await response.write(b"{}\n")
            await self.release.wait()
            return response
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(0.02)
        self.running -= 1
        return web.json_response({"ok": True})


async def _exercise(*, limit: int, watches: int, requests: int) -> int:
    server = _Server()
    app = web.Application()
    app.router.add_get("/{tail:.*}", server.handle)
    async with (
        test_utils.TestServer(app) as test_server,
        aiohttp.ClientSession(middlewares=(login._Bounded(limit),)) as session,
    ):
        streams = [await session.get(test_server.make_url("/w"), params={"watch": "true"}) for _ in range(watches)]

        async def get(index: int) -> object:
            async with session.get(test_server.make_url(f"/r{index}")) as response:
                return await response.json()

        answers = await asyncio.gather(*(get(index) for index in range(requests)))
        assert answers == [{"ok": True}] * requests
        server.release.set()
        for stream in streams:
            stream.close()
    return server.most


def test_requests_wait_for_a_slot() -> None:
    assert asyncio.run(asyncio.wait_for(_exercise(limit=3, watches=0, requests=20), timeout=10)) == 3


def test_open_watches_take_no_slot() -> None:
    assert asyncio.run(asyncio.wait_for(_exercise(limit=1, watches=4, requests=5), timeout=10)) == 1
