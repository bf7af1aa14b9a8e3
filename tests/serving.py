"""An ASGI app behind a real uvicorn on a free loopback port, for tests that need a real socket
(a browser, a subprocess, a client with its own connection pool)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

import uvicorn


@asynccontextmanager
async def served(
    app_for: Callable[[str], Any], *, lifespan: Literal["auto", "on", "off"] = "auto"
) -> AsyncIterator[str]:
    """Yields the server's URL. ``app_for(url)`` builds the app knowing the address it will have
    (the console derives its sign-in redirect from it); ``lifespan="off"`` for an app whose
    lifespan the test already entered. The socket is bound before the app is built, so no other
    process can take the port in between."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(
        uvicorn.Config(
            app_for(url), lifespan=lifespan, log_config=None, access_log=False, timeout_graceful_shutdown=2
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # it failed to start: say why
                raise RuntimeError("uvicorn stopped before it listened")
            await asyncio.sleep(0.02)
        yield url
    finally:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)
        sock.close()
