"""The web client's files as the API serves them and as a wheel packs them (no server: the app
is built but not started; the client itself runs in tests/browser)."""

from __future__ import annotations

import asyncio
import re
import tomllib
from pathlib import Path

import httpx

from api.app import create_app
from api.routes.web import WEB_DIR
from infra.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
IMPORT = re.compile(r'^import .* from "(\.[^"]+)";$', re.M)


def _get(*paths: str) -> list[httpx.Response]:
    async def ask() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=create_app(Settings()))
        async with httpx.AsyncClient(transport=transport, base_url="http://chirp") as client:
            return [await client.get(path) for path in paths]

    return asyncio.run(ask())


def test_the_client_is_served_at_the_root_and_other_paths_stay_the_apis():
    index, script, unknown = _get("/", "/web/js/main.js", "/api/v1/no-such-route")
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    assert "script-src 'self'" in index.headers["content-security-policy"]
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"


def test_every_module_the_client_imports_exists_and_a_wheel_packs_it():
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["api"]
    packed = {path for pattern in globs for path in (WEB_DIR.parent).glob(pattern)}
    sources = [path for path in WEB_DIR.rglob("*") if path.is_file()]
    assert set(sources) == packed
    for module in WEB_DIR.rglob("*.js"):
        for target in IMPORT.findall(module.read_text()):
            assert (module.parent / target).resolve() in packed, f"{module}: {target}"
