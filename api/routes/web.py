"""The web client (api/web/): static files served beside the API, one more API consumer."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
ASSETS_PATH = "/web"
# Scripts and styles only from this origin (no inline script: whatever a tweet holds is text,
# never markup); images, videos and uploads may be on an object store's origin (S3).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: http: blob:"
    " data:; media-src 'self' https: http: blob:; connect-src 'self' https: http:;"
    " object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

router = APIRouter(include_in_schema=False)


@router.get("/")
async def web_client() -> FileResponse:
    """The client's one page; its routes are hash routes (`/#/u/ada`), so no path but `/`
    needs the server, and every unknown path stays the API's problem+json 404."""
    return FileResponse(
        WEB_DIR / "index.html",
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache"},
    )


def mount_assets(app: FastAPI) -> None:
    """Serve the client's scripts and stylesheet under /web (revalidated by ETag)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=WEB_DIR), name="web")
