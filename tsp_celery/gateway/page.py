"""The jobs page: one HTML file, one stylesheet and one vanilla-JS file served from the package.

No build step and nothing fetched from a CDN, so the page works on an offline cluster network.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


def mount_page(app: FastAPI) -> None:
    """Serve ``/`` (the page) and ``/static/*`` (its script and stylesheet)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
