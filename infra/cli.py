"""The `chirp` command line."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time

from infra.settings import get_settings
from infra.stack import LocalStack


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _serve_until_interrupted(stack: LocalStack) -> int:
    try:
        while True:
            time.sleep(1)
            dead = [process.name for process in stack.processes if not process.running()]
            if dead:
                print(f"{', '.join(dead)} exited; stopping.", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        return 0


def run(args: argparse.Namespace) -> int:
    """Start the local stack, the API and the demo; serve until Ctrl-C, then stop it all."""
    from infra.demo import seed_demo

    for signum in _STOP_SIGNALS:
        signal.signal(signum, _interrupt)
    stack = LocalStack(get_settings())
    try:
        print("Starting the local stack (Kafka protocol broker, Valkey, PostgreSQL)...", flush=True)
        settings = stack.start()
        print("Starting the projection agents (Faust)...", flush=True)
        stack.start_agents()
        base_url = stack.start_api()
        if not args.no_demo:
            seed_demo(base_url)
            print("Seeded the demo: users alice, bob and carol (password 'demo-password-1').")
        print(f"Chirp API: {base_url}\nAPI docs:  {base_url}/docs\n"
              f"Kafka: {settings.bootstrap_servers}  Redis: {settings.redis}  "
              f"PostgreSQL: {settings.postgres}\nPress Ctrl-C to stop.", flush=True)
        return _serve_until_interrupted(stack)
    except KeyboardInterrupt:
        return 130
    finally:
        # A second Ctrl-C must not cut the shutdown short and leave servers behind.
        for signum in _STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        print("Stopping...", flush=True)
        stack.stop()
        print("Stopped.", flush=True)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(prog="chirp", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="run the local stack, the API and a demo")
    run_parser.add_argument("--no-demo", action="store_true", help="do not seed demo data")
    run_parser.set_defaults(handler=run)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
