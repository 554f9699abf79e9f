"""The trending-hashtags job: Flink SQL over `tweets`, the top N per sliding window, to
`trending-topics`.

Steps, each a view of the SQL below:
1. `posted_hashtags`: every hashtag of every TweetPosted, at the event's `occurred_at`. The
   hashtags are the ones the write path extracted (case-folded, unicode-aware:
   schemas/entities.py), so trends, search and the API agree on what a tag is.
2. `slide_counts`: counts per hashtag and slide (tumbling windows of one slide), of distinct
   event ids, so that an event on the log twice counts once.
3. `hashtag_counts`: the slide counts summed in hopping windows one slide longer than the
   trending window. The last `window` of each is the current window, the first `window` is
   the previous one, and the last slide is the latest: one pass gives the three counts,
   with no join.
4. the top N per window and region by count (ties by hashtag), with the velocity, to the
   sink.

Every tweet counts in the `global` trends and, when it carries its author's region
(TweetPosted v7, schemas/regions.py), in that region's too: each hashtag of each tweet is
counted under both (once, for a tweet without a region: the distinct count folds the two
`global`s into one).

Velocity is how fast the rate of mentions grows (seed 000: "acceleration of mentions, not
just volume"): the pace of the latest slide against the pace of the rest of the window, both
as mentions per window, over the earlier pace (at least one mention per window):
`(latest x window/slide - earlier x window/(window - slide)) / max(earlier x window/(window -
slide), 1)`, `earlier = count - latest_count`. A tag mentioned at a steady pace has 0, however
often; one that has just begun has a high velocity even if few mention it yet.

Rows are JSON, keyed by hashtag, written at least once: consumers upsert on
(window_end, hashtag). The row schema is documented for analysts in docs/trending.md.

A live run also reads a one-row-per-second clock whose rows are all filtered out: when every
partition of `tweets` has been silent for the idle timeout, the clock's watermark still moves,
so the last windows close on a quiet system instead of waiting for the next tweet.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from infra.kafka_security import flink_kafka_properties
from infra.settings import Settings
from schemas.regions import GLOBAL
from streams.topics import TopicRegistry

log = logging.getLogger("chirp.trending")
# `chirp trending` logs this once the job is submitted: launchers wait for it.
TRENDING_READY_LINE = "chirp trending job running"

# Window bounds as ISO 8601 in UTC, to the millisecond (test windows are seconds long).
ISO_8601 = "yyyy-MM-dd''T''HH:mm:ss.SSS''Z''"


def _millis(span: timedelta) -> int:
    return round(span.total_seconds() * 1000)


def _interval(span: timedelta) -> str:
    """A Flink SQL day-time interval literal, exact to the millisecond."""
    days, rest = divmod(_millis(span), 86_400_000)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"INTERVAL '{days} {hours:02}:{minutes:02}:{seconds:02}.{millis:03}' DAY TO SECOND(3)"


def velocity_paces(window: timedelta, slide: timedelta) -> tuple[float, float]:
    """What turns the latest slide's count, and the rest of the window's, into mentions per
    window (the rest is empty when the window is one slide)."""
    return window / slide, (window / (window - slide) if window > slide else 0.0)


def _double(value: float) -> str:
    # A DOUBLE, not a DECIMAL literal: the arithmetic is then the same as Python's floats.
    return f"CAST({value!r} AS DOUBLE)"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class TrendingJob:
    """One run of the job: where it reads and writes, its windows, and where it starts and
    stops. `stop_offsets` (partition -> offset) makes a bounded run that ends there."""

    bootstrap_servers: str
    source_topic: str
    sink_topic: str
    window: timedelta = timedelta(hours=1)
    slide: timedelta = timedelta(minutes=5)
    top_n: int = 10
    watermark_delay: timedelta = timedelta(seconds=10)
    idle_timeout: timedelta = timedelta(seconds=30)
    group_id: str = "chirp-trending"
    # Source readers: one per partition of `tweets`, so that a backlog is read in step
    # (a consumer of several partitions of the local broker reads them one after another).
    readers: int = 1
    # None reads the whole log. A start time skips older events and every window that
    # would miss some of them, so no partial window overwrites a complete one downstream.
    start: datetime | None = None
    stop_offsets: dict[int, int] | None = field(default=None, hash=False)
    # The connector's TLS and SASL properties (infra/kafka_security.py), on both tables.
    kafka_properties: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.slide <= timedelta(0) or self.window <= timedelta(0):
            raise ValueError("the window and the slide must be positive")
        if self.window % self.slide:
            raise ValueError(
                f"the window ({self.window}) must be a whole number of slides ({self.slide})"
            )
        if self.top_n < 1:
            raise ValueError("top_n must be at least 1")
        if self.readers < 1:
            raise ValueError("readers must be at least 1")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides) -> TrendingJob:
        topics = TopicRegistry(settings.topic_prefix, settings.partitions)
        values: dict[str, Any] = dict(
            bootstrap_servers=settings.bootstrap_servers,
            source_topic=topics.tweets.name,
            sink_topic=topics.trending.name,
            window=timedelta(seconds=settings.trending_window_seconds),
            slide=timedelta(seconds=settings.trending_slide_seconds),
            top_n=settings.trending_top_n,
            watermark_delay=timedelta(seconds=settings.trending_watermark_delay_seconds),
            idle_timeout=timedelta(seconds=settings.trending_idle_timeout_seconds),
            group_id=f"{settings.topic_prefix}chirp-trending",
            readers=settings.partitions,
            kafka_properties=tuple(flink_kafka_properties(settings).items()),
        )
        return cls(**(values | overrides))

    @property
    def bounded(self) -> bool:
        return self.stop_offsets is not None

    def statements(self) -> list[str]:
        """The SQL that defines the tables and views, in order; `insert()` runs the job."""
        return [
            self._source(),
            *([self._clock()] if not self.bounded else []),
            self._posted_hashtags(),
            self._slide_counts(),
            self._hashtag_counts(),
            self._sink(),
        ]

    def _source(self) -> str:
        if self.start is None:
            startup = "'scan.startup.mode' = 'earliest-offset'"
        else:
            millis = int(self.start.timestamp() * 1000)
            startup = (
                f"'scan.startup.mode' = 'timestamp', 'scan.startup.timestamp-millis' = '{millis}'"
            )
        if self.stop_offsets is not None:
            offsets = ";".join(
                f"partition:{partition},offset:{offset}"
                for partition, offset in sorted(self.stop_offsets.items())
            )
            startup += (
                ", 'scan.bounded.mode' = 'specific-offsets', "
                f"'scan.bounded.specific-offsets' = {_quote(offsets)}"
            )
        # Only what the job reads is declared; the JSON format ignores the other fields.
        # Undecodable records are skipped here (the agents dead-letter them).
        # Over a backlog, partitions must be read in step: windows close only when the
        # slowest partition's watermark passes them, so a partition read ahead makes the
        # windows hold its whole lead in state. One Kafka consumer given several partitions
        # of the local broker reads them one after another, however small its fetches
        # (measured: a 24 h backlog, each partition to its end before the next), so each
        # partition gets a reader of its own (measured: the readers stay within 40 min of
        # event time of each other over the same backlog). The capped fetches bound each
        # reader's buffers. No watermark alignment: in this connector, pausing a split that
        # has just finished fails a bounded job (FLINK-39728, seen here).
        return f"""
            CREATE TABLE tweet_events (
                event_id STRING,
                `type` STRING,
                occurred_at TIMESTAMP_LTZ(3),
                payload ROW<hashtags ARRAY<STRING>, protected BOOLEAN, region STRING>,
                WATERMARK FOR occurred_at AS occurred_at - {_interval(self.watermark_delay)}
            ) WITH (
                'connector' = 'kafka',
                'topic' = {_quote(self.source_topic)},
                'properties.bootstrap.servers' = {_quote(self.bootstrap_servers)},{self._security()}
                'properties.group.id' = {_quote(self.group_id)},
                {startup},
                'scan.parallelism' = '{self.readers}',
                'properties.max.partition.fetch.bytes' = '262144',
                'properties.fetch.max.bytes' = '1048576',
                'format' = 'json',
                'json.ignore-parse-errors' = 'true',
                'json.timestamp-format.standard' = 'ISO-8601'
            )"""

    def _security(self) -> str:
        return "".join(
            f"\n                {_quote(name)} = {_quote(value)},"
            for name, value in self.kafka_properties
        )

    def _clock(self) -> str:
        # `tick` is always 0, which the planner cannot know: the filter in posted_hashtags
        # drops every clock row at run time while its watermarks flow on.
        return f"""
            CREATE TABLE clock (
                tick INT,
                occurred_at AS CAST(CURRENT_TIMESTAMP AS TIMESTAMP_LTZ(3)),
                WATERMARK FOR occurred_at AS occurred_at - {_interval(self.watermark_delay)}
            ) WITH (
                'connector' = 'datagen',
                'rows-per-second' = '1',
                'fields.tick.kind' = 'random',
                'fields.tick.min' = '0',
                'fields.tick.max' = '0'
            )"""

    def _posted_hashtags(self) -> str:
        # A protected account's tweets stay out of trends (docs/safety.md); older events have
        # no `protected`: NULL, counted.
        clock = (
            """
            UNION ALL
            SELECT CAST(tick AS STRING), CAST(tick AS STRING), occurred_at, 'global' FROM clock
            WHERE tick <> 0"""
            if not self.bounded
            else ""
        )
        return f"""
            CREATE TEMPORARY VIEW posted_hashtags AS
            SELECT tag.hashtag, event.event_id, event.occurred_at, area.region
            FROM tweet_events AS event
            CROSS JOIN UNNEST(event.payload.hashtags) AS tag (hashtag)
            CROSS JOIN UNNEST(
                ARRAY['{GLOBAL}', COALESCE(event.payload.region, '{GLOBAL}')]
            ) AS area (region)
            WHERE event.`type` = 'TweetPosted' AND event.payload.protected IS NOT TRUE{clock}"""

    def _slide_counts(self) -> str:
        # One count per (hashtag, slide) however many tweets carry the tag: windows are then
        # summed from these, not from every tweet in each of their slides. Counted by
        # distinct event id: an event the write path sent again (docs/write-path.md) has the
        # same id and time, so it lands in the same slide and counts once. The ids are held
        # only while their slide is open.
        return f"""
            CREATE TEMPORARY VIEW slide_counts AS
            SELECT window_start AS slide_start, window_time AS slide_time, region, hashtag,
                   COUNT(DISTINCT event_id) AS tweets
            FROM TABLE(TUMBLE(TABLE posted_hashtags, DESCRIPTOR(occurred_at),
                              {_interval(self.slide)}))
            GROUP BY window_start, window_end, window_time, region, hashtag"""

    def _hashtag_counts(self) -> str:
        slide = _interval(self.slide)
        return f"""
            CREATE TEMPORARY VIEW hashtag_counts AS
            SELECT window_start, window_end, region, hashtag,
                   COALESCE(SUM(tweets) FILTER (WHERE slide_start >= window_start + {slide}), 0)
                       AS current_count,
                   COALESCE(SUM(tweets) FILTER (WHERE slide_start < window_end - {slide}), 0)
                       AS previous_count,
                   COALESCE(SUM(tweets) FILTER (WHERE slide_start >= window_end - {slide}), 0)
                       AS latest_count
            FROM TABLE(HOP(TABLE slide_counts, DESCRIPTOR(slide_time),
                           {slide}, {_interval(self.window + self.slide)}))
            GROUP BY window_start, window_end, region, hashtag"""

    def _sink(self) -> str:
        return f"""
            CREATE TABLE trending_topics (
                window_start STRING,
                window_end STRING,
                region STRING,
                `rank` BIGINT,
                hashtag STRING,
                `count` BIGINT,
                previous_count BIGINT,
                latest_count BIGINT,
                velocity DOUBLE
            ) WITH (
                'connector' = 'kafka',
                'topic' = {_quote(self.sink_topic)},
                'properties.bootstrap.servers' = {_quote(self.bootstrap_servers)},{self._security()}
                'key.format' = 'raw',
                'key.fields' = 'hashtag',
                'value.format' = 'json',
                'value.fields-include' = 'ALL',
                'sink.delivery-guarantee' = 'at-least-once'
            )"""

    def insert(self) -> str:
        """The statement that runs the job: top N per window, with the velocity."""
        complete = ""
        if self.start is not None:
            start = self.start.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
            complete = f"AND window_start >= TIMESTAMP '{start}'"
        pace, earlier_pace = (_double(factor) for factor in velocity_paces(self.window, self.slide))
        one = _double(1.0)
        return f"""
            INSERT INTO trending_topics
            SELECT DATE_FORMAT(window_start + {_interval(self.slide)}, '{ISO_8601}'),
                   DATE_FORMAT(window_end, '{ISO_8601}'), region,
                   hashtag_rank, hashtag, current_count, previous_count, latest_count,
                   (latest_count * {pace} - (current_count - latest_count) * {earlier_pace})
                       / GREATEST((current_count - latest_count) * {earlier_pace}, {one})
            FROM (
                SELECT *, ROW_NUMBER() OVER (
                    PARTITION BY window_start, window_end, region
                    ORDER BY current_count DESC, hashtag ASC
                ) AS hashtag_rank
                FROM hashtag_counts
                WHERE current_count > 0 {complete}
            )
            WHERE hashtag_rank <= {self.top_n}"""


# The local mini-cluster (the JVM PyFlink starts) serves only this process: its sockets (the
# REST endpoint, the blob server, any RPC or data port) listen on loopback, and its REST
# endpoint neither takes jobs nor cancels them (Flink 2.0's options; the job's configuration
# reaches the mini-cluster when the job is submitted).
MINI_CLUSTER_OPTIONS = {
    "rest.bind-address": "127.0.0.1",
    "rest.address": "127.0.0.1",
    "jobmanager.bind-host": "127.0.0.1",  # the blob server's too
    "taskmanager.bind-host": "127.0.0.1",
    "taskmanager.host": "127.0.0.1",
    "web.submit.enable": "false",
    "web.cancel.enable": "false",
}


@dataclass(frozen=True)
class Cluster:
    """A Flink session cluster to submit the job to (`chirp trending --jobmanager`), and how
    the job runs there: at `parallelism`, with exactly-once checkpoints every
    `checkpoint_interval` into `checkpoint_dir`, restarted from the last one when a task
    fails (a TaskManager lost, say).

    The source keeps one reader per partition of `tweets` (TrendingJob.readers), so the
    cluster needs max(parallelism, partitions) task slots. The job has no Python functions:
    the cluster runs it in its JVMs alone, with no Python worker, and the submitting process
    only plans it and waits on it."""

    jobmanager: str  # host:port of its REST endpoint
    checkpoint_dir: str  # a URI every JobManager and TaskManager reaches (file://, s3://)
    parallelism: int = 2
    checkpoint_interval: timedelta = timedelta(seconds=10)

    def __post_init__(self) -> None:
        host, _, port = self.jobmanager.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"the JobManager is HOST:PORT, not {self.jobmanager!r}")
        if self.parallelism < 1:
            raise ValueError("the parallelism must be at least 1")
        if self.checkpoint_interval <= timedelta(0):
            raise ValueError("the checkpoint interval must be positive")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides) -> Cluster | None:
        """The cluster the settings name (CHIRP_TRENDING_JOBMANAGER), or None: the job then
        runs on a mini-cluster inside its own process."""
        values: dict[str, Any] = dict(
            jobmanager=settings.trending_jobmanager,
            checkpoint_dir=settings.trending_checkpoint_dir
            or str(settings.data_dir / "flink-checkpoints"),
            parallelism=settings.trending_parallelism,
            checkpoint_interval=timedelta(seconds=settings.trending_checkpoint_interval_seconds),
        )
        values |= {name: value for name, value in overrides.items() if value is not None}
        if values["jobmanager"] is None:
            return None
        return cls(**values)

    @property
    def checkpoint_uri(self) -> str:
        if "://" in self.checkpoint_dir:
            return self.checkpoint_dir
        return Path(self.checkpoint_dir).resolve().as_uri()

    # Through the cluster's REST API, not the submitting process's JVM: a signal to the
    # process group of `chirp trending` ends that JVM too.
    def job_state(self, job_id: str) -> str:
        """RUNNING, RESTARTING, FINISHED, FAILED, CANCELED... (Flink's JobStatus)."""
        import httpx

        response = httpx.get(f"http://{self.jobmanager}/jobs/{job_id}", timeout=30)
        response.raise_for_status()
        return response.json()["state"]

    def cancel(self, job_id: str) -> None:
        import httpx

        response = httpx.patch(f"http://{self.jobmanager}/jobs/{job_id}?mode=cancel", timeout=30)
        response.raise_for_status()

    def options(self) -> dict[str, str]:
        host, _, port = self.jobmanager.rpartition(":")
        return {
            "execution.target": "remote",
            "rest.address": host,
            "rest.port": port,
            "parallelism.default": str(self.parallelism),
            "execution.checkpointing.interval": f"{_millis(self.checkpoint_interval)} ms",
            "execution.checkpointing.mode": "EXACTLY_ONCE",
            "execution.checkpointing.storage": "filesystem",
            "execution.checkpointing.dir": self.checkpoint_uri,
            # Retried for ever, 1 s after a failure and up to a minute apart after repeated
            # ones; the tasks wait for slots (a TaskManager back) before they run again.
            "restart-strategy.type": "exponential-delay",
        }


@functools.cache
def _scratch_directory() -> Path:
    scratch = Path(tempfile.mkdtemp(prefix="chirp-flink-"))
    atexit.register(shutil.rmtree, scratch, True)
    return scratch


def run(
    job: TrendingJob,
    jars: list[Path],
    *,
    jvm_args: str = "-Xmx512m",
    log_dir: Path | None = None,
    state_backend: str = "hashmap",
    cluster: Cluster | None = None,
):
    """Submit `job` to `cluster`, or without one to a local Flink (a JVM child of this
    process); return its TableResult.

    `.wait()` on the result returns when a bounded job has finished; a live job runs until
    it is cancelled, or on the local Flink until this process ends."""
    # Read by PyFlink when it starts the JVM (once per process), which shares the machine
    # with the whole stack. Flink unpacks jars and spills into its temporary directories and
    # does not always remove them: they go into one this process removes when it exits.
    scratch = _scratch_directory()
    jvm = os.environ.get("JVM_ARGS", jvm_args)
    if "-Djava.io.tmpdir=" not in jvm:
        os.environ["JVM_ARGS"] = f"{jvm} -Djava.io.tmpdir={scratch}"
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("FLINK_LOG_DIR", str(log_dir))
    # PyFlink would otherwise serve Python functions to the mini-cluster from a gRPC server
    # in this process on every interface ([::]:0); the job has none (a private switch of
    # PyFlink's, the one its own tests use).
    os.environ.setdefault("_python_worker_execution_mode", "process")
    from pyflink.common import Configuration
    from pyflink.table import EnvironmentSettings, TableEnvironment

    if cluster is None:
        tables = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
        options = MINI_CLUSTER_OPTIONS | {"parallelism.default": "1", "io.tmp.dirs": str(scratch)}
    else:
        # Where the job runs is decided when the environment is made: the options go there.
        configuration = Configuration()
        for option, value in cluster.options().items():
            configuration.set_string(option, value)
        tables = TableEnvironment.create(
            EnvironmentSettings.new_instance()
            .in_streaming_mode()
            .with_configuration(configuration)
            .build()
        )
        options = {}
    config = tables.get_config()
    for option, value in options.items():
        config.set(option, value)
    config.set("pipeline.name", f"chirp trending ({job.source_topic} -> {job.sink_topic})")
    # Shipped with the job: a cluster's blob server hands them to its TaskManagers.
    config.set("pipeline.jars", ";".join(jar.resolve().as_uri() for jar in jars))
    # The window state holds one count per (hashtag, slide) of the open windows: on the heap
    # unless the settings ask for RocksDB (docs/trending.md, "Memory over a backlog").
    config.set("state.backend.type", state_backend)
    config.set("table.local-time-zone", "UTC")
    config.set("table.exec.source.idle-timeout", f"{_millis(job.idle_timeout)} ms")
    for statement in job.statements():
        tables.execute_sql(statement)
    log.info(
        "trending job: %s windows every %s, top %d, %s -> %s, on %s",
        job.window,
        job.slide,
        job.top_n,
        job.source_topic,
        job.sink_topic,
        f"{cluster.jobmanager} at parallelism {cluster.parallelism}"
        if cluster
        else "a mini-cluster",
    )
    return tables.execute_sql(job.insert())
