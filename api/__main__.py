"""`python -m api`: serve the REST API with uvicorn on CHIRP_API_HOST:CHIRP_API_PORT with
CHIRP_API_WORKERS processes, every one of them (and uvicorn's supervisor) logging as
infra.logs says, and counting its metrics where `/metrics` adds up all of them."""

import os
import shutil
import sys
from pathlib import Path

import uvicorn

from infra.logs import logging_config
from infra.settings import Settings, get_settings

# infra.metrics.MULTIPROCESS_DIR: prometheus_client reads it when first imported, so this
# module imports neither.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def main() -> None:
    settings = get_settings()
    metrics = _fresh_metrics_directory(settings)
    try:
        uvicorn.run(
            "api.app:create_served_app",
            factory=True,
            host=settings.api_host,
            port=settings.api_port,
            workers=settings.api_workers,
            log_config=logging_config("api", settings),
            # The API's own access log (api/observability.py) has the route and a request id.
            access_log=False,
            # Who may say who the client is (X-Forwarded-For): the login and sign-up limits
            # count by that address.
            forwarded_allow_ips=settings.forwarded_allow_ips,
            timeout_graceful_shutdown=5,
            # Longer than clients' and load balancers' idle timeouts, so the server is never
            # the side that closes a connection a client is about to reuse.
            timeout_keep_alive=75,
        )
    finally:
        shutil.rmtree(metrics, ignore_errors=True)


def _fresh_metrics_directory(settings: Settings) -> Path:
    """The directory where this start's workers write their metrics, emptied first: files of
    an earlier start would be counted again. One per port, so several APIs can share a data
    directory; set in the environment before any worker imports prometheus_client."""
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before its directory was set")
    directory = (settings.data_dir / "metrics" / f"api-{settings.api_port}").resolve()
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[MULTIPROCESS_DIR] = str(directory)
    return directory


if __name__ == "__main__":
    main()
