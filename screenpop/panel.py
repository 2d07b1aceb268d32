"""The agent panel's files (``screenpop/static``), served as they are: no build step."""

from __future__ import annotations

import os
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent / "static"

# The panel loads its own scripts and styles and talks to its own origin (the REST API and
# /ws/pops); nothing else. 'self' covers same-origin websockets in current browsers.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


class PanelFiles(StaticFiles):
    """Static files that the browser revalidates on every load (an upgraded Tamas is never
    half old, half new in a tab) and may not frame or sniff."""

    def __init__(self) -> None:
        super().__init__(directory=STATIC_DIR, html=True)

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response
