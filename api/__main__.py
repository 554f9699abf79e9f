"""`python -m api`: serve the REST API with uvicorn on CHIRP_API_HOST:CHIRP_API_PORT with
CHIRP_API_WORKERS processes, every one of them (and uvicorn's supervisor) logging as
infra.logs says."""

import uvicorn

from infra.logs import logging_config
from infra.settings import get_settings


def main() -> None:
    settings = get_settings()
    uvicorn.run(
        "api.app:create_served_app", factory=True,
        host=settings.api_host, port=settings.api_port, workers=settings.api_workers,
        log_config=logging_config("api", settings),
        # The API's own access log (api/observability.py) has the route and a request id.
        access_log=False,
        timeout_graceful_shutdown=5,
        # Longer than clients' and load balancers' idle timeouts, so the server is never the
        # side that closes a connection a client is about to reuse.
        timeout_keep_alive=75,
    )


if __name__ == "__main__":
    main()
