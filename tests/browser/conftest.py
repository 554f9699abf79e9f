"""Debian's Chromium, driven by Playwright, for the web client's tests: found, or installed
once per session where that can work (root and apt-get), else the tests skip saying why (and
fail in CI, which must run them)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM_PATHS = (Path("/usr/bin/chromium"), Path("/usr/bin/chromium-browser"))
# apt-get update and the install of Chromium and its libraries: a few minutes at most.
APT_TIMEOUT_SECONDS = 900


def _found() -> Path | None:
    return next((path for path in CHROMIUM_PATHS if os.access(path, os.X_OK)), None)


def _apt_get(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["apt-get", "-y", "-q", *arguments],
        capture_output=True,
        text=True,
        timeout=APT_TIMEOUT_SECONDS,
        env=os.environ | {"DEBIAN_FRONTEND": "noninteractive"},
        check=False,
    )


def find_or_install_chromium() -> tuple[Path | None, str]:
    """Chromium's path, installing Debian's package if it is missing and this can; else None
    and the reason."""
    if found := _found():
        return found, ""
    if os.geteuid() != 0:
        return (
            None,
            "Chromium is not installed and installing it needs root: apt-get install chromium",
        )
    if shutil.which("apt-get") is None:
        return None, "Chromium is not installed and there is no apt-get to install it with"
    for step in (("update",), ("install", "--no-install-recommends", "chromium")):
        done = _apt_get(*step)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return None, f"apt-get {step[0]} failed: {' / '.join(tail)}"
    if found := _found():
        return found, ""
    return None, "apt-get installed chromium, but no /usr/bin/chromium appeared"


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    path, reason = find_or_install_chromium()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(f"no browser for the web client's tests: {reason}")
    return path


@pytest.fixture(scope="module")
def browser(chromium_executable) -> Iterator[Browser]:
    """Chromium, headless; without its sandbox as root (Chromium refuses to start otherwise)."""
    arguments = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium_executable), args=arguments
        )
        yield launched
        launched.close()
