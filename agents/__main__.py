"""`python -m agents`: run the projection worker, logging JSON lines (infra/logs.py) and no
start-up banner."""

import sys

from agents.app import app

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "--quiet", "worker", "--loglevel", "info", "--without-web",
                *sys.argv[1:]]
    app.main()
