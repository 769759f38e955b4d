"""The inspector page: one static HTML file that reads only the admin API."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from aiohttp import web

from ..context import Context
from ..guard import check_admin_access

__all__ = ["inspector"]


@lru_cache(maxsize=1)
def _page() -> bytes:
    return resources.files(__name__).joinpath("inspector.html").read_bytes()


async def inspector(request: web.BaseRequest, ctx: Context) -> web.Response:
    """``GET /_emulator/ui``.

    Without an admin token the page obeys the admin API's rules (loopback,
    no foreign Host or Origin). With one, the page itself is served to
    anyone, since it holds no data, and sends the token (given as
    ``#token=…`` in its address) with every API request it makes.
    """
    if ctx.config.admin_token is None:
        check_admin_access(request, None)
    return web.Response(
        body=_page(),
        content_type="text/html",
        charset="utf-8",
        headers={
            "Cache-Control": "no-store",
            # Everything is the page's own: no other origin, no inline frames.
            "Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; "
            "style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
        },
    )
