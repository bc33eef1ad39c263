"""How kopf connects to the API: the official client's credentials (in-cluster or KUBECONFIG) in an aiohttp session
that bounds how many requests run at once.

Why bound them: kopf's own session opens one more connection for every request in flight, and each TLS connection
holds some 300 KiB (asyncio's 256 KiB read buffer and OpenSSL's state) while it stays open. A burst of new
resources makes kopf add a finalizer to each and post their Events all at once: 500 resources opened 80–180
connections, a quarter of the operator's peak memory. Queued for a slot, the same requests reuse a few keep-alive
connections without slowing down (the API server is the bottleneck either way). Watch streams take no slot: each
holds its connection for minutes, and there are several per watched namespace.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import kopf

#: requests (other than watches) in flight at once, and so about the connections kept open for them
CONCURRENT_REQUESTS = 16


async def login(**kwargs: Any) -> kopf.AiohttpSession | None:
    """The session kopf would make for the official client's credentials, plus the bound. The credentials are
    read in a thread, as kopf does for a synchronous login handler: a kubeconfig may run an exec plugin."""
    info = await asyncio.to_thread(kopf.login_via_client, **kwargs)
    if info is None:
        return None
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, ssl=info.as_ssl_context()),  # limit=0: watches must never wait
        headers=info.as_http_headers(),
        proxy=info.proxy_url,
        trust_env=info.trust_env,
        middlewares=(_Bounded(CONCURRENT_REQUESTS),),
    )
    return kopf.AiohttpSession(
        aiohttp_session=session,
        server=info.server,
        default_namespace=info.default_namespace,
        priority=info.priority,
        expiration=info.expiration,
    )


class _Bounded:
    """A client middleware letting ``limit`` requests run at once; watch requests pass straight through."""

    def __init__(self, limit: int) -> None:
        self._slots = asyncio.Semaphore(limit)

    async def __call__(
        self, request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        if request.url.query.get("watch") == "true":
            return await handler(request)
        async with self._slots:
            response = await handler(request)
            await response.read()  # the whole answer: its connection is back in the pool before the slot is
            return response
