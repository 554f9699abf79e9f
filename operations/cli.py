"""The `chirp` command line."""

from __future__ import annotations

import argparse
import os
import re
import select
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path

from infra.logs import configure as configure_logging
from infra.settings import get_settings
from operations.stack import LocalStack
from projections.targets import READ_MODELS, ReadModel
from streams.trending import TRENDING_READY_LINE

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Flink's globally terminal job states.
_FLINK_JOB_ENDS = {"FINISHED", "FAILED", "CANCELED"}


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


def api(args: argparse.Namespace) -> int:
    """Serve the REST API as `python -m api` does, until stopped."""
    from api.__main__ import main as serve_api

    serve_api()
    return 0


def agents(args: argparse.Namespace) -> int:
    """Run the projection worker as `python -m agents` does, until stopped."""
    from agents.__main__ import main as run_worker

    run_worker(args.worker_options)
    return 0


def run(args: argparse.Namespace) -> int:
    """Start the local stack, the API and the demo; serve until Ctrl-C, then stop it all."""
    from infra.servers import ServerStartError
    from operations.demo import seed_demo
    from projections.tantivy_commits import SearchIndexLocked

    for signum in _STOP_SIGNALS:
        signal.signal(signum, _interrupt)
    stack = LocalStack(get_settings())
    try:
        print("Starting the local stack (Kafka protocol broker, Valkey, PostgreSQL)...", flush=True)
        settings = stack.start()
        print("Starting the projection agents (Faust)...", flush=True)
        for _ in range(settings.agents_workers):
            stack.start_agents()
        _start_trending(stack)
        base_url = stack.start_api()
        if not args.no_demo:
            seeded = seed_demo(base_url)
            print(
                f"{'Seeded the' if seeded else 'Kept the earlier'} demo: users alice, bob and "
                "carol (password 'demo-password-1')."
            )
        print(
            f"Chirp API: {base_url}\nAPI docs:  {base_url}/docs\n"
            f"Kafka: {settings.bootstrap_servers}  Redis: {settings.redis}  "
            f"PostgreSQL: {settings.postgres}\nPress Ctrl-C to stop.",
            flush=True,
        )
        return _serve_until_interrupted(stack)
    except KeyboardInterrupt:
        return 130
    except (SearchIndexLocked, ServerStartError) as error:
        print(f"chirp run: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        # A second Ctrl-C must not cut the shutdown short and leave servers behind.
        for signum in _STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        print("Stopping...", flush=True)
        stack.stop()
        print("Stopped.", flush=True)


def _start_trending(stack: LocalStack) -> None:
    """Start the trending job when Flink is installed; say plainly when it is not."""
    from infra.flink import FlinkUnavailable, connector_jars

    try:
        connector_jars(stack.settings.flink_jars_dir)
    except FlinkUnavailable as error:
        print(f"No trends: {error}", flush=True)
        return
    print("Starting the trending job (Flink; about 10-30 s)...", flush=True)
    stack.start_trending()


def trending(args: argparse.Namespace) -> int:
    """Run the trending job alone against the configured Kafka until Ctrl-C (or, bounded by
    nothing, forever)."""
    from infra.flink import FlinkUnavailable, connector_jars
    from infra.kafka_security import kafka_python_security
    from streams.admin import ensure_topics
    from streams.topics import topic_registry
    from streams.trending import Cluster, TrendingJob
    from streams.trending import run as run_job

    settings = get_settings()
    try:
        jars = connector_jars(settings.flink_jars_dir)
    except FlinkUnavailable as error:
        print(error, file=sys.stderr)
        return 2
    overrides = {"start": args.start}
    for name in ("window", "slide"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    if args.top is not None:
        overrides["top_n"] = args.top
    try:
        job = TrendingJob.from_settings(settings, **overrides)
        cluster = Cluster.from_settings(
            settings,
            jobmanager=args.jobmanager,
            parallelism=args.parallelism,
            checkpoint_dir=args.checkpoints,
        )
    except ValueError as error:
        print(f"chirp trending: {error}", file=sys.stderr)
        return 2
    ensure_topics(
        settings.bootstrap_servers, topic_registry(settings), kafka_python_security(settings)
    )
    for signum in _STOP_SIGNALS:
        signal.signal(signum, _interrupt)
    result = run_job(
        job,
        jars,
        jvm_args=settings.flink_jvm_args,
        log_dir=settings.data_dir.resolve() / "logs" / "flink",
        state_backend=settings.flink_state_backend,
        cluster=cluster,
    )
    where = "a mini-cluster in this process"
    job_id = str(result.get_job_client().get_job_id())
    if cluster is not None:
        where = (
            f"job {job_id} on {cluster.jobmanager}, parallelism {cluster.parallelism}, "
            f"checkpoints in {cluster.checkpoint_uri}"
        )
    print(
        f"{TRENDING_READY_LINE}: {job.window} windows every {job.slide}, top {job.top_n}, "
        f"{job.bootstrap_servers} {job.source_topic} -> {job.sink_topic}, on {where}",
        flush=True,
    )
    try:
        if cluster is None:
            result.wait()
            return 0
        # On a cluster the job restarts by itself after a failure: this only watches it.
        while (state := cluster.job_state(job_id)) not in _FLINK_JOB_ENDS:
            time.sleep(1)
        print(f"chirp trending: job {job_id} {state}", file=sys.stderr, flush=True)
        return 0 if state == "FINISHED" else 1
    except KeyboardInterrupt:
        print("Stopping the trending job...", flush=True)
        if cluster is not None:
            cluster.cancel(job_id)
        else:
            result.get_job_client().cancel().result()
        return 0


def replay(args: argparse.Namespace) -> int:
    """Rebuild read models into fresh generations from the log, then switch readers to them."""
    import asyncio

    from tqdm import tqdm

    from operations.replay import ReplayFailed, replay

    for read_model in READ_MODELS if args.read_model == "all" else (args.read_model,):
        # Trend rows are not archived: `all --source archive` takes them from Kafka.
        source = (
            "kafka" if read_model == ReadModel.TRENDS and args.read_model == "all" else args.source
        )
        bar = tqdm(desc=f"replay {read_model}", unit="ev", dynamic_ncols=True, file=sys.stderr)

        def progress(applied: int, target: int, phase: str, bar=bar) -> None:
            bar.total = max(target, applied)
            bar.update(applied - bar.n)
            bar.set_postfix_str(phase)

        try:
            result = asyncio.run(
                replay(
                    get_settings(),
                    read_model,
                    source=source,
                    start=args.start,
                    keep_old=args.keep_old,
                    progress=progress,
                )
            )
        except ReplayFailed as error:
            print(f"chirp replay {read_model}: {error}", file=sys.stderr)
            return 1
        finally:
            bar.close()
        rate = result.events / result.seconds if result.seconds else 0
        print(
            f"{read_model}: generation {result.old_generation} -> {result.new_generation}, "
            f"{result.events:,} events ({result.from_archive:,} from the archive) in "
            f"{result.seconds:.1f}s, {rate:,.0f}/s; readers switched; generation "
            f"{result.old_generation} {'dropped' if result.dropped_old else 'kept'}",
            flush=True,
        )
    return 0


def export(args: argparse.Namespace) -> int:
    """Archived events of a time range to a Parquet or JSON-lines file (or stdout)."""
    from operations.export import export_events

    if args.start and args.end and args.end <= args.start:
        print("chirp export: --to must be after --from", file=sys.stderr)
        return 2
    try:
        result = export_events(get_settings(), args.start, args.end, args.format, args.output)
    except ValueError as error:
        print(f"chirp export: {error}", file=sys.stderr)
        return 2
    rate = result.exported / result.seconds if result.seconds else 0
    print(
        f"exported {result.exported:,} events ({rate:,.0f}/s) to "
        f"{args.output or 'standard output'}"
        + (f"; left out {result.skipped:,} this code cannot decode" if result.skipped else ""),
        file=sys.stderr,
    )
    return 0


def train_ranker(args: argparse.Namespace) -> int:
    """Train the ranked home timeline's model from the log (docs/ranking.md)."""
    import orjson

    from operations.train_ranker import (
        archived_events,
        examples,
        exported_events,
        publish_model,
        train,
        write_model,
    )
    from projections.ranking import HalfLives

    settings = get_settings()
    if args.start and args.end and args.end <= args.start:
        print("chirp train-ranker: --to must be after --from", file=sys.stderr)
        return 2
    if not 0 < args.holdout < 1:
        print("chirp train-ranker: --holdout must be between 0 and 1", file=sys.stderr)
        return 2
    if args.events is not None:
        events, skipped = exported_events(args.events)
    else:
        events, skipped = archived_events(settings, args.start, args.end)
    try:
        model, report, _ = train(examples(events, HalfLives.of_settings(settings), args.holdout))
    except ValueError as error:
        print(f"chirp train-ranker: {error}", file=sys.stderr)
        return 2
    path = write_model(model, args.output)
    if args.publish:
        publish_model(settings, model)
    print(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode())
    print(
        f"read {len(events):,} events"
        + (f" (left out {skipped:,} this code cannot decode)" if skipped else "")
        + f"; wrote {path}"
        + ("; published it: the API serves it within seconds" if args.publish else ""),
        file=sys.stderr,
    )
    return 0


def migrate(args: argparse.Namespace) -> int:
    """Bring the write model, chirp_meta and the archive to their newest schema revision, or
    (--status) say where they stand: exit 1 if one is behind."""
    from sqlalchemy.exc import OperationalError

    from operations.migrate import Migrated, Status, status
    from operations.migrate import migrate as migrate_all

    try:
        done: list[Status] | list[Migrated] = (
            status(get_settings()) if args.status else migrate_all(get_settings())
        )
    except OperationalError as error:
        print(f"chirp migrate: {error.orig}", file=sys.stderr)
        return 1
    for schema_set in done:
        print(schema_set.report(), flush=True)
    behind = [state for state in done if isinstance(state, Status) and not state.at_head]
    return 1 if behind else 0


def _duration(text: str) -> timedelta:
    """'90s', '5m', '1h' (or plain seconds) as a timedelta."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)?", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (try 90s, 5m, 1h)")
    return timedelta(seconds=float(match[1]) * units[match[2] or "s"])


def _start_time(text: str) -> datetime | None:
    """'earliest', or an ISO 8601 time (UTC unless it says otherwise)."""
    if text == "earliest":
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not 'earliest' or an ISO 8601 time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _end_time(text: str) -> datetime | None:
    """'now', or an ISO 8601 time."""
    return None if text == "now" else _start_time(text)


def _add_from(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument(
        "--from",
        dest="start",
        type=_start_time,
        default=None,
        metavar="earliest|ISO-TIME",
        help=help,
    )


def _add_to(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument(
        "--to", dest="end", type=_end_time, default=None, metavar="now|ISO-TIME", help=help
    )


def _installed_version() -> str:
    """The version of the installed `chirp` distribution (pyproject.toml's, once installed)."""
    try:
        return metadata.version("chirp")
    except metadata.PackageNotFoundError:
        return "(not installed: pip install -e .)"


def _stdout_reader_gone() -> bool:
    """Whether standard output is a pipe whose reader has closed it (it then polls as an
    error), rather than some other pipe or socket this process writes to."""
    poller = select.poll()
    poller.register(sys.stdout.fileno(), select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def main(argv: list[str] | None = None) -> int:
    configure_logging("chirp")
    parser = argparse.ArgumentParser(prog="chirp", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_installed_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    api_parser = commands.add_parser(
        "api",
        help="serve the REST API (a deployment's API role)",
        description="The same as `python -m api`: uvicorn on CHIRP_API_HOST:CHIRP_API_PORT with "
        "CHIRP_API_WORKERS processes; every setting from CHIRP_* (infra/settings.py).",
    )
    api_parser.set_defaults(handler=api)
    agents_parser = commands.add_parser(
        "agents",
        help="run the projection worker (a deployment's agents role)",
        description="The same as `python -m agents`: the Faust worker running every projection "
        "agent and the archive; every setting from CHIRP_* (infra/settings.py).",
    )
    agents_parser.add_argument(
        "worker_options", nargs=argparse.REMAINDER, help="more options for the Faust worker"
    )
    agents_parser.set_defaults(handler=agents)
    run_parser = commands.add_parser("run", help="run the local stack, the API and a demo")
    run_parser.add_argument("--no-demo", action="store_true", help="do not seed demo data")
    run_parser.set_defaults(handler=run)
    trending_parser = commands.add_parser(
        "trending",
        help="run the trending-hashtags Flink job alone against the configured Kafka",
        description="Reads `tweets`, writes the top hashtags per sliding window to "
        "`trending-topics` (docs/trending.md). Defaults come from CHIRP_TRENDING_*.",
    )
    _add_from(trending_parser, "read tweets from this time on (default: earliest)")
    trending_parser.add_argument("--window", type=_duration, help="window size, e.g. 1h")
    trending_parser.add_argument("--slide", type=_duration, help="slide, e.g. 5m")
    trending_parser.add_argument("--top", type=int, help="hashtags per window")
    trending_parser.add_argument(
        "--jobmanager",
        metavar="HOST:PORT",
        help="submit to this Flink session cluster's REST endpoint (CHIRP_TRENDING_JOBMANAGER); "
        "default: a mini-cluster inside this process",
    )
    trending_parser.add_argument(
        "--parallelism", type=int, help="on a cluster: the job's parallelism (default 2)"
    )
    trending_parser.add_argument(
        "--checkpoints",
        metavar="DIR",
        help="on a cluster: where checkpoints go, a directory or URI every JobManager and "
        "TaskManager reaches (default <data_dir>/flink-checkpoints)",
    )
    trending_parser.set_defaults(handler=trending)
    replay_parser = commands.add_parser(
        "replay",
        help="rebuild a read model from the log into a fresh target, then switch to it",
        description="Builds the read model into a new generation (schema, key prefix or "
        "index), catches up with the live agents, hands over and switches "
        "readers atomically; the old generation is dropped unless --keep-old "
        "(docs/replay.md).",
    )
    replay_parser.add_argument(
        "read_model",
        choices=(*READ_MODELS, "all"),
        help="core: the social graph, tweet store, engagements, "
        "timelines and caches; search: the search index; "
        "trends: the trending windows (from trending-topics); "
        "all: the three, one after another",
    )
    _add_from(replay_parser, "apply only events from this time on (default: earliest)")
    replay_parser.add_argument(
        "--source",
        choices=("kafka", "archive"),
        default="kafka",
        help="read the archive first, then Kafka where it ends (core and search)",
    )
    replay_parser.add_argument(
        "--keep-old", action="store_true", help="keep the old generation instead of dropping it"
    )
    replay_parser.set_defaults(handler=replay)
    export_parser = commands.add_parser(
        "export",
        help="write archived events of a time range as Parquet or JSON lines",
        description="Events from the archive (docs/replay.md), upcast to their current schema "
        "version, in log order per topic partition.",
    )
    _add_from(export_parser, "events at or after (default: earliest)")
    _add_to(export_parser, "events before (default: now)")
    export_parser.add_argument(
        "--format",
        choices=("parquet", "jsonl"),
        default="parquet",
        help="parquet: a directory with a file per event type, "
        "<Type>.parquet, its fields as typed columns; jsonl: one "
        "event envelope per line",
    )
    export_parser.add_argument(
        "--output",
        "-o",
        type=Path,
        default=None,
        help="parquet: the directory to write into (its <Type>.parquet "
        "files replaced); jsonl: the file to write (replaced), "
        "standard output without it",
    )
    export_parser.set_defaults(handler=export)
    train_parser = commands.add_parser(
        "train-ranker",
        help="train the ranked home timeline's model from the archive or an export",
        description="Examples from the log's reading sessions, features as of each session, "
        "a logistic regression; prints held-out metrics against reverse-chronological "
        "order (docs/ranking.md) and writes a versioned model file.",
    )
    _add_from(train_parser, "archived events at or after (default: earliest)")
    _add_to(train_parser, "archived events before (default: now)")
    train_parser.add_argument(
        "--events",
        type=Path,
        default=None,
        help="read a `chirp export --format jsonl` file instead of the archive",
    )
    train_parser.add_argument(
        "--holdout",
        type=float,
        default=0.25,
        help="the later share of the period held out to evaluate (default 0.25)",
    )
    train_parser.add_argument(
        "--output",
        "-o",
        type=Path,
        default=Path("ranker-models"),
        help="the directory to write ranker-<version>.json into (default ./ranker-models)",
    )
    train_parser.add_argument(
        "--publish",
        action="store_true",
        help="also publish the model: every API process serves it (order=ranked) within seconds",
    )
    train_parser.set_defaults(handler=train_ranker)
    migrate_parser = commands.add_parser(
        "migrate",
        help="upgrade the write model, chirp_meta and the archive to the newest schema",
        description="Runs the schema revisions (alembic) the configured PostgreSQL lacks; a "
        "database prepared before migrations is recognised and stamped at the "
        "baseline. Read models are rebuilt by `chirp replay` instead "
        "(docs/migrations.md).",
    )
    migrate_parser.add_argument(
        "--status",
        action="store_true",
        help="only say which revision each schema set is at, and the "
        "newest; exit 1 if one is behind",
    )
    migrate_parser.set_defaults(handler=migrate)
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except BrokenPipeError:
        if not _stdout_reader_gone():
            raise
        # `chirp export --format jsonl | head`: the reader has what it wanted. Python ignores
        # SIGPIPE, so the write failed instead; end quietly, with the status of a command
        # SIGPIPE stopped. Standard output goes to /dev/null so that the interpreter's last
        # flush does not fail again (the Python docs' "Note on SIGPIPE").
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
