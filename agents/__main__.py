"""`python -m agents` (and `chirp agents`): run the projection worker, logging JSON lines
(infra/logs.py) and no start-up banner."""

import sys

from agents.app import app

WORKER_OPTIONS = ("--quiet", "worker", "--loglevel", "info", "--without-web")


def main(options: list[str] | None = None) -> None:
    """Run the Faust worker until it is stopped; `options` (default: this process's arguments)
    are added to its command line."""
    extra = sys.argv[1:] if options is None else options
    # Faust's command line (click) reads sys.argv.
    sys.argv = [sys.argv[0], *WORKER_OPTIONS, *extra]
    app.main()


if __name__ == "__main__":
    main()
