"""The driver's HTTP client against a real aiohttp server on loopback."""

from __future__ import annotations

from aiohttp import web

from deploy.local.http_client import ServiceClient


async def _echo(request: web.Request) -> web.Response:
    form = await request.post() if request.method == "POST" else {}
    return web.json_response(
        {
            "query": dict(request.query),
            "form": {k: (v.file.read().decode() if hasattr(v, "file") else v) for k, v in form.items()},
            "header": request.headers.get("X-Test"),
        }
    )


async def test_query_form_files_and_headers_reach_the_server():
    app = web.Application()
    app.router.add_route("*", "/echo", _echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client = ServiceClient(f"http://127.0.0.1:{port}/", headers={"X-Test": "default"})
    try:
        paged = await client.get("/echo", params={"limit": 1000, "offset": 0})
        assert paged.status_code == 200
        assert paged.json() == {"query": {"limit": "1000", "offset": "0"}, "form": {}, "header": "default"}
        uploaded = await client.post(
            "/echo",
            data={"kind": "roster"},
            files={"file": ("eleves.csv", b"INE;Nom\n", "text/csv")},
            headers={"X-Test": "mine"},
        )
        assert uploaded.json()["form"] == {"kind": "roster", "file": "INE;Nom\n"}
        assert uploaded.json()["header"] == "mine"
    finally:
        await client.aclose()
        await runner.cleanup()
