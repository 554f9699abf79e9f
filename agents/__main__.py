"""`python -m agents`: run the projection worker."""

import sys

from agents.app import app

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "worker", "--loglevel", "info", "--without-web", *sys.argv[1:]]
    app.main()
