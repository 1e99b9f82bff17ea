"""A web chat at ``/``: the fake server's chats as a Telegram app shows them, to act as users.

Plain HTML, CSS and JavaScript from ``web/``, with no build step and nothing from elsewhere:
the page reads and drives the chats through the control API only (long polls of
``/control/activity`` and ``/control/chats/{id}``). Messages are drawn from their text and
entities, as Telegram's apps draw them, and never inserted as HTML. When the app also serves
``/playground`` (``python -m bot playground``), the page offers its personas, demo cities and
clock; otherwise it lists the users the control API has created.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

__all__ = ["WEB_DIR", "add_web_chat"]

WEB_DIR = Path(__file__).resolve().parent / "web"
# The page is small and changes with the code: always ask whether it did.
_NO_CACHE = {"Cache-Control": "no-cache"}


def add_web_chat(app: web.Application) -> None:
    async def page(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(WEB_DIR / "index.html", headers=_NO_CACHE)

    async def asset(request: web.Request) -> web.FileResponse:
        name = request.match_info["name"]
        if name not in _ASSETS:
            raise web.HTTPNotFound()
        return web.FileResponse(WEB_DIR / name, headers=_NO_CACHE)

    app.router.add_get("/", page)
    app.router.add_get("/web/{name}", asset)


# Served by name: nothing else under the package can be reached through the page's routes.
_ASSETS = frozenset({"app.js", "render.js", "map.js", "i18n.js", "style.css", "favicon.svg"})
