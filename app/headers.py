"""Security headers on every HTTP response, and CORS (closed unless origins are named).

A pure ASGI middleware rather than ``BaseHTTPMiddleware``: it only adds headers to the
response start, so streamed exports and recordings pass through untouched and websockets
are not wrapped at all. A header a route set itself (the panel's own CSP, a download's
Cache-Control) is kept.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings

# JSON, CSV and audio: nothing in them may run or be framed.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# FastAPI's /docs and /redoc pages load Swagger UI / ReDoc from the jsDelivr CDN and start
# them with an inline script: they get a policy of their own that allows exactly that (the
# API itself keeps the strict one above).
DOCS_CSP = (
    "default-src 'none'; "
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "worker-src blob:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, https: bool = False) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        docs = path.startswith(DOCS_PATHS)
        # Customer data, recordings, tokens: never kept by a browser or a shared cache.
        private = path.startswith(("/api/", "/pbx/"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                headers.setdefault("Content-Security-Policy", DOCS_CSP if docs else API_CSP)
                if private:
                    headers.setdefault("Cache-Control", "no-store")
                if self.https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middlewares. CORS only when ``TAMAS_CORS_ORIGINS`` names origins: with none, no
    response carries Access-Control-Allow-Origin and browsers keep other sites' pages out.
    Tokens travel in the Authorization header, never in cookies, so credentials stay off."""
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Range"],
            expose_headers=["Retry-After", "Content-Disposition", "Content-Range"],
            allow_credentials=False,
            max_age=600,
        )
    # Added last, so outermost: preflight answers and errors get the headers too.
    app.add_middleware(SecurityHeaders, https=settings.https)
