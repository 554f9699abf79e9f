"""The one settings object: every knob is an environment variable `CHIRP_<NAME>`."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.regions import region_codes


class Settings(BaseSettings):
    """Chirp's configuration; defaults describe the local development stack."""

    model_config = SettingsConfigDict(env_prefix="CHIRP_", extra="ignore")

    # Where the local stack keeps its data; a test stack uses a temporary one.
    data_dir: Path = Path(".chirp/dev")

    # Servers. Unset means "start one locally"; set means "use this one".
    kafka_bootstrap: str | None = None
    redis_url: str | None = None
    # A Redis or Valkey Cluster instead: some of its nodes, "host:port,host:port" (every
    # client is then a cluster client, infra/redis_clients.py; redis_url is not used).
    redis_cluster_nodes: str = ""
    postgres_dsn: str | None = None

    # Ports of the local dev stack; a test stack picks free ones so both can run at once.
    kafka_port: int = 19092
    redis_port: int = 16379
    # The local stack's Redis: 0 a standalone Valkey, N a Valkey Cluster of N masters on free
    # ports (CHIRP_REDIS_CLUSTER_MASTERS=3 runs the tests on a cluster, docs/read-models.md).
    redis_cluster_masters: int = 0
    postgres_port: int = 15432

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # API worker processes (each has its own Snowflake worker id and connections).
    api_workers: int = 1
    # Proxies whose X-Forwarded-For names the client (uvicorn's --forwarded-allow-ips): the
    # client address the login and sign-up limits count by (docs/write-path.md).
    forwarded_allow_ips: str = "127.0.0.1,::1"

    topic_prefix: str = ""
    # The unit of parallelism: the agents of one read model run on at most this many workers
    # per topic (docs/deploy.md). Topics are created with it: raising it later moves keys.
    partitions: int = Field(default=4, ge=1, description="partitions of each event topic")
    # Copies of every topic's partitions (Faust's own topics too), set when a topic is
    # created; 1 suits the local single broker, production wants 3.
    topic_replication_factor: int = Field(default=1, ge=1)
    # Copies that must have a write before the broker acknowledges it (the producer asks all
    # in-sync ones), set on each topic at creation; unset: the broker's default. With 3
    # copies, 2 keeps writes going through one broker's loss and loses none acknowledged.
    topic_min_insync_replicas: int | None = Field(default=None, ge=1)
    # How every Kafka client (producers, consumers, admin, Faust, the Flink job) talks to the
    # brokers: TLS (SSL, SASL_SSL) checks them against kafka_ssl_cafile (unset: the system's
    # CAs); SASL logs in as kafka_sasl_username; a client certificate and key for mutual TLS.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None

    # Auth. An empty secret makes the launcher generate one and keep it in data_dir.
    jwt_secret: str = ""
    jwt_ttl_seconds: int = 24 * 3600
    # How long a deleted account's username stays reserved (docs/safety.md).
    deleted_username_hold_days: float = Field(default=30, ge=0)
    # argon2id cost; the defaults are argon2-cffi's (RFC 9106's low-memory profile).
    password_time_cost: int = 3
    password_memory_kib: int = 64 * 1024

    # Write path. The producer gives up on an unacknowledged event after this long and the
    # API answers 503; the same bound is the producer's delivery timeout, so an event the
    # client was told failed is never delivered later.
    produce_timeout_ms: int = 5000
    max_body_bytes: int = 64 * 1024
    # Logs (infra/logs.py): JSON lines, text, or auto (text at a terminal, JSON elsewhere).
    log_format: Literal["auto", "json", "text"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # One line per request served (method, route, status, duration, request id).
    access_log: bool = True
    # Browser origins allowed to call the API (CORS), comma-separated, e.g.
    # "https://app.example.com,http://localhost:5173"; "*" for any; empty: none (no CORS).
    cors_origins: str = ""
    # Where the agents worker serves its Prometheus metrics (0: not served).
    agents_metrics_port: int = Field(default=0, ge=0, le=65535)
    # Agents workers `chirp run` starts (each `chirp agents` process is one; they share the
    # partitions of each read model: docs/deploy.md). A deployment starts its own.
    agents_workers: int = Field(default=1, ge=1)
    # Per-user write limits (seed 003's defaults; token buckets in Redis; 0: no limit).
    rate_limit_tweets_per_minute: int = Field(default=10, ge=0)
    rate_limit_follows_per_hour: int = Field(default=100, ge=0)
    rate_limit_likes_per_hour: int = Field(default=1000, ge=0)
    # Login and sign-up limits (docs/write-path.md; 0: none). Failed logins per username
    # (from any address) and per client address (for any username) within the window lock
    # that key out, for a first lockout doubling with each further one up to the maximum.
    login_failures_per_username: int = Field(default=10, ge=0)
    login_failures_per_ip: int = Field(default=100, ge=0)
    login_failure_window_seconds: int = Field(default=15 * 60, ge=1)
    login_lockout_seconds: float = Field(default=60, gt=0)
    login_lockout_max_seconds: float = Field(default=3600, gt=0)
    signup_per_ip_per_hour: int = Field(default=20, ge=0)
    postgres_pool_size: int = 10

    # The event archive (PostgreSQL): every event, kept beyond the log's retention.
    archive_schema: str = Field(default="archive", pattern="^[a-z_][a-z0-9_]*$")
    # On: an acknowledged event leaves the API's outbox only once the archive holds it (marked
    # acknowledged meanwhile, so no relay sends it again), so a stack whose broker forgets (the
    # local one keeps the log in memory) loses nothing when every process dies at once: a
    # restart restores the archive and sends the rest again. Off: acknowledged events leave at
    # once, for a deployment whose log is replicated or one with no archive agent reading it.
    outbox_until_archived: bool = True

    # Read models. These name generation 1 of each read model (core, search, trends,
    # notifications);
    # `chirp replay` builds later generations beside them (docs/replay.md). Which generation
    # readers and agents use is resolved at start-up and followed while they run
    # (projections/targets.py), not configured.
    read_schema: str = "read_model"
    redis_prefix: str = "chirp:"
    core_generation: int = Field(default=1, ge=1)
    search_generation: int = Field(default=1, ge=1)
    trends_generation: int = Field(default=1, ge=1)
    notifications_generation: int = Field(default=1, ge=1)
    # Likes, retweets and follows of one target group into one notification per span of this
    # many seconds (spans aligned to the epoch, so a replay groups as live did).
    notification_group_seconds: int = Field(default=86_400, ge=1)
    # The ranked home timeline (docs/ranking.md): hours after which a viewer's like, retweet
    # or reply of an author's tweet counts half in the viewer's affinity for the author.
    ranking_half_life_like_hours: float = Field(default=72.0, gt=0)
    ranking_half_life_retweet_hours: float = Field(default=168.0, gt=0)
    ranking_half_life_reply_hours: float = Field(default=168.0, gt=0)
    tweet_store: str = Field(default="postgres", pattern="^(postgres|cassandra)$")
    cassandra_hosts: str = ""  # comma-separated; the Cassandra tweet store and its tests
    cassandra_keyspace: str = "chirp"
    # The keyspace's replication, set when it is created: SimpleStrategy (one data centre,
    # the local single node) or NetworkTopologyStrategy with cassandra_replication_factor
    # copies in cassandra_datacenter, which is also where the driver sends requests.
    cassandra_replication_strategy: Literal["SimpleStrategy", "NetworkTopologyStrategy"] = (
        "SimpleStrategy"
    )
    cassandra_replication_factor: int = Field(default=1, ge=1)
    cassandra_datacenter: str | None = None
    # LOCAL_QUORUM reads and writes overlap in at least one copy: a read sees the last write.
    cassandra_consistency: Literal["ONE", "LOCAL_ONE", "QUORUM", "LOCAL_QUORUM", "ALL"] = (
        "LOCAL_QUORUM"
    )
    cassandra_username: str | None = None
    cassandra_password: SecretStr | None = None
    # Authors with at least this many followers are not pushed (seeds use 10k-100k).
    celebrity_threshold: int = 10_000
    # ...and while fan-out lags more than the bound (by event time), this lower one applies.
    celebrity_threshold_lowered: int = 1_000
    fanout_lag_bound_seconds: float = 2.0
    # Twitter and Mastodon keep 800 entries per home timeline; older pages come from the store.
    home_timeline_cap: int = 800
    # Newest entries kept per author: first pages of a user timeline, and celebrity recents.
    recent_cap: int = 200
    # The agents' consumer group: a new group re-reads the log from the start.
    agent_group: str = "chirp-projections"
    # Only users who read their home timeline within this many days keep one in Redis.
    active_days: int = 30
    cache_ttl_seconds: int = 7 * 24 * 3600
    # Longest a read waits for the projections to catch up with the reader's own writes.
    read_your_writes_timeout_ms: int = 2000

    # Live updates (docs/streaming.md). The stream keeps the newest this many live events (all
    # readers' together): how far back a reconnecting client may resume.
    stream_retention_events: int = Field(default=100_000, ge=100)
    # A comment line on every open stream this often, so proxies keep it and a client notices
    # a dead one.
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0)
    # Events waiting for one slow client at most; a client further behind is dropped.
    stream_buffer_events: int = Field(default=1000, ge=1)

    # Search: the embedded engine (tantivy, an index directory; default under data_dir) or
    # Elasticsearch at elasticsearch_url, read through an alias.
    search_engine: str = Field(default="tantivy", pattern="^(tantivy|elasticsearch)$")
    search_dir: Path | None = None
    elasticsearch_url: str | None = None
    elasticsearch_alias: str = "tweets"
    # An API key (the encoded form Elasticsearch returns) and the CA that signed the cluster's
    # certificate (unset: the system's CAs), for an https:// elasticsearch_url.
    elasticsearch_api_key: SecretStr | None = None
    elasticsearch_ca_certs: Path | None = None
    # osmem-server (tests) speaks the Elasticsearch API but not the client's compatibility
    # mimetypes: set when elasticsearch_url points at that stand-in.
    elasticsearch_api_stand_in: bool = False
    # Tweets go into one index per month (by the tweet's time), each with these shards and
    # replicas (seed 000: 2 replicas; a single-node cluster cannot place them and stays
    # yellow: set 0 there). Months older than the current one and the
    # `elasticsearch_retention_months` before it are dropped whole (0: kept for ever).
    elasticsearch_shards: int = Field(default=1, ge=1)
    elasticsearch_replicas: int = Field(default=2, ge=0)
    elasticsearch_retention_months: int = Field(default=0, ge=0)

    # Trending hashtags (the Flink job): sliding event-time windows of `trending_window_seconds`
    # every `trending_slide_seconds` (production 1 h / 5 min), the top `trending_top_n` per
    # window. Events may reach the broker out of order by up to the producers' delivery
    # timeout, so the watermark waits longer than produce_timeout_ms.
    trending_window_seconds: int = Field(default=3600, ge=1)
    trending_slide_seconds: int = Field(default=300, ge=1)
    trending_top_n: int = Field(default=50, ge=1, le=100)
    # The regions trends are also kept for (ISO 3166-1 alpha-2, comma-separated): an account
    # whose profile location names one of them posts into its trends (docs/trending.md).
    trending_regions: str = "US,GB,IN,BR,JP,ID,MX,TR,ES,FR,DE,CA,AU,NG,PH,KR,AR,SA"
    trending_watermark_delay_seconds: float = Field(default=10.0, ge=0)
    # A partition silent this long stops holding the watermark back. Short values drop the
    # events of a backlog as late (docs/trending.md); 30 s does not.
    trending_idle_timeout_seconds: float = Field(default=30.0, gt=0)
    # A Flink session cluster to submit the job to: HOST:PORT of its JobManager's REST
    # endpoint (docs/trending.md, "On a Flink cluster"). Unset: a mini-cluster inside the
    # `chirp trending` process, as `make run` does.
    trending_jobmanager: str | None = Field(default=None, pattern=r"^[^\s:]+:[0-9]+$")
    # On a cluster only: the job's parallelism (the source keeps one reader per partition),
    # and its checkpoints, a directory (or file://, s3:// URI) every JobManager and
    # TaskManager reaches; unset: <data_dir>/flink-checkpoints, for a cluster on this host.
    trending_parallelism: int = Field(default=2, ge=1)
    trending_checkpoint_dir: str | None = None
    trending_checkpoint_interval_seconds: float = Field(default=10.0, gt=0)
    # Where `make` put the Kafka connector jars for Flink; default: inside the environment.
    flink_jars_dir: Path | None = None
    # The Flink job's JVM shares two cores and the memory with every other server.
    flink_jvm_args: str = "-Xmx512m"
    # Where the job keeps its window state: the heap ("hashmap"), or RocksDB (off the heap,
    # for more hashtags per window than the heap holds; ~5x slower here). docs/trending.md.
    flink_state_backend: str = Field(default="hashmap", pattern="^(rocksdb|hashmap)$")

    # Media (docs/media.md): the object store for uploads and renditions, a directory served
    # by the API ("embedded", default under data_dir) or an S3 bucket.
    object_store: str = Field(default="embedded", pattern="^(embedded|s3)$")
    media_dir: Path | None = None
    # The API's base URL as clients reach it, for the embedded store's presigned URLs
    # (default: http://api_host:api_port).
    public_url: str | None = None
    # How long a presigned upload URL and a download URL stay valid.
    media_upload_url_seconds: int = Field(default=15 * 60, ge=1)
    media_download_url_seconds: int = Field(default=24 * 3600, ge=1)
    # Where clients fetch the public renditions (a CDN in front of the bucket, say); unset:
    # the embedded store's /api/v1/objects/, or the S3 endpoint's bucket URL.
    media_base_url: str | None = None
    # An upload never attached to a tweet expires after this; a deleted tweet's uploads
    # are removed this long after the deletion; the API processes look this often.
    media_orphan_seconds: float = Field(default=24 * 3600, gt=0)
    media_delete_grace_seconds: float = Field(default=3600, ge=0)
    media_sweep_seconds: float = Field(default=30, gt=0)
    s3_bucket: str = "chirp-media"
    s3_endpoint_url: str | None = None  # an S3-compatible server; unset: AWS
    s3_region: str | None = None
    # Unset: boto3's own chain (AWS_* variables, profiles, instance roles).
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        self.trend_regions  # noqa: B018 - refuses a code that is not a country's, at start
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"CHIRP_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "CHIRP_KAFKA_SASL_USERNAME and CHIRP_KAFKA_SASL_PASSWORD"
            )
        if (self.topic_min_insync_replicas or 0) > self.topic_replication_factor:
            raise ValueError(
                "CHIRP_TOPIC_MIN_INSYNC_REPLICAS cannot exceed CHIRP_TOPIC_REPLICATION_FACTOR: "
                "no write would ever be acknowledged"
            )
        if self.cassandra_replication_strategy == "NetworkTopologyStrategy" and not (
            self.cassandra_datacenter
        ):
            raise ValueError("NetworkTopologyStrategy needs CHIRP_CASSANDRA_DATACENTER")
        return self

    @property
    def trend_regions(self) -> frozenset[str]:
        return region_codes(self.trending_regions.split(","))

    @property
    def media_directory(self) -> Path:
        return self.media_dir or self.data_dir / "media"

    @property
    def api_public_url(self) -> str:
        return self.public_url or f"http://{self.api_host}:{self.api_port}"

    @property
    def trends_stale_after(self) -> timedelta:
        """How long after its end the newest window is still "now": the next one would have
        closed by then (one slide, the watermark delay, the idle timeout of a quiet system,
        and a margin) had any hashtag been posted since."""
        return timedelta(
            seconds=self.trending_slide_seconds
            + self.trending_watermark_delay_seconds
            + self.trending_idle_timeout_seconds
            + 10
        )

    @property
    def core_schema(self) -> str:
        """The PostgreSQL schema of the core read models' current generation."""
        return core_schema(self.read_schema, self.core_generation)

    @property
    def core_prefix(self) -> str:
        """The Redis key prefix of the core read models' current generation."""
        return core_prefix(self.redis_prefix, self.core_generation)

    @property
    def notifications_schema(self) -> str:
        """The PostgreSQL schema of the notifications read model's current generation."""
        return core_schema(f"{self.read_schema}_notifications", self.notifications_generation)

    @property
    def search_directory(self) -> Path:
        """The embedded index of the search generation in use; by default one per read
        schema, beside the data."""
        first = self.search_dir or self.data_dir / "search" / self.read_schema
        if self.search_generation == 1:
            return first
        return first.with_name(f"{first.name}_g{self.search_generation}")

    def generation(self, read_model: str) -> int:
        """The generation of `read_model` (core, search, trends, notifications) these settings
        name."""
        return getattr(self, f"{read_model}_generation")

    def at(self, **generations: int) -> Settings:
        """These settings with other generations, e.g. `settings.at(core=2)`."""
        return self.model_copy(
            update={
                f"{read_model}_generation": generation
                for read_model, generation in generations.items()
            }
        )

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"

    @property
    def redis(self) -> str:
        return self.redis_url or f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def postgres(self) -> str:
        return self.postgres_dsn or f"postgresql://chirp@127.0.0.1:{self.postgres_port}/chirp"


def core_schema(base: str, generation: int) -> str:
    return base if generation == 1 else f"{base}_g{generation}"


def core_prefix(root: str, generation: int) -> str:
    return root if generation == 1 else f"{root}g{generation}:"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
