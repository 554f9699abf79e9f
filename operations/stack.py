"""The local stack: servers from wheels, then Chirp's own processes, all stopped on exit."""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time

import httpx

from infra.flink_cluster import FlinkSessionCluster
from infra.processes import ManagedProcess
from infra.servers import (
    KafkaServer,
    PostgresServer,
    RedisClusterServers,
    RedisServer,
    ServerStartError,
    free_port,
)
from infra.settings import Settings

# What Chirp's own processes get when the launcher dies without stopping them. A clean stop
# of theirs is bounded only by the launcher (stop()), and it may never end without the
# servers: a worker orphaned in the middle of a backlog once retried the gone broker for
# minutes, holding the search index. They keep nothing a clean stop would save (every
# projection is idempotent and resumes from its recorded positions). The servers get their
# own clean-stop signal instead: each stops promptly without a launcher (docs/local-stack.md).
CHIRP_PROCESS_ORPHANED = signal.SIGKILL


class LocalStack:
    """Starts what `settings` does not point elsewhere, prepares it, and stops it in reverse."""

    def __init__(
        self, settings: Settings, *, ephemeral: bool = False, durable: bool | None = None
    ) -> None:
        # An ephemeral stack (tests) takes free ports and skips crash safety; a dev stack
        # keeps fixed ports and a durable data directory, so both can run side by side.
        # `durable` overrides the crash safety (a crash test needs it on free ports).
        self.ephemeral = ephemeral
        self.durable = not ephemeral if durable is None else durable
        self.data_dir = settings.data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # PostgreSQL runs as an unprivileged user when we are root: it must reach its folder.
        os.chmod(self.data_dir, 0o755)
        self.settings = settings
        self.servers: list = []
        self.processes: list[ManagedProcess] = []
        self.flink_clusters: list[FlinkSessionCluster] = []
        # The local broker keeps events in memory only: this stack restores its log from the
        # archive on start and lets the archive catch up on stop (operations/durability.py).
        self.local_broker = settings.kafka_bootstrap is None

    def start(self) -> Settings:
        """Start and health-check the servers; return settings that point at all of them."""
        updates: dict[str, object] = {"data_dir": self.data_dir}
        try:
            if self.settings.kafka_bootstrap is None:
                kafka = KafkaServer(self._port(self.settings.kafka_port), self.data_dir)
                self._start(kafka)
                updates["kafka_bootstrap"] = kafka.bootstrap
            if self.settings.redis_cluster_nodes:
                pass  # a cluster of the deployment's
            elif self.settings.redis_cluster_masters:
                cluster = RedisClusterServers(
                    self.settings.redis_cluster_masters, self.data_dir, durable=self.durable
                )
                for node in cluster.nodes:
                    self._start(node)
                cluster.form()
                updates["redis_cluster_nodes"] = cluster.addresses
                updates["redis_url"] = cluster.nodes[0].url
            elif self.settings.redis_url is None:
                redis = RedisServer(
                    self._port(self.settings.redis_port), self.data_dir, durable=self.durable
                )
                self._start(redis)
                updates["redis_url"] = redis.url
            if self.settings.postgres_dsn is None:
                postgres = PostgresServer(
                    self._port(self.settings.postgres_port), self.data_dir, durable=self.durable
                )
                self._start(postgres)
                updates["postgres_dsn"] = postgres.dsn
            updates["jwt_secret"] = self.settings.jwt_secret or self._jwt_secret()
        except BaseException:
            self.stop()
            raise
        self.settings = self.settings.model_copy(update=updates)
        try:
            self._prepare()
            if self.local_broker:
                self._restore_log()
        except BaseException:
            self.stop()
            raise
        return self.settings

    def _port(self, configured: int) -> int:
        return free_port() if self.ephemeral else configured

    def _start(self, server) -> None:
        self.servers.append(server)
        server.start()

    def _jwt_secret(self) -> str:
        path = self.data_dir / "jwt-secret"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    def _prepare(self) -> None:
        """Create the topics and the tables every process expects."""
        from operations.bootstrap import prepare_storage

        prepare_storage(self.settings)

    def _restore_log(self) -> None:
        from operations.durability import restore_log
        from streams.topics import topic_registry

        started = time.monotonic()
        restored = restore_log(self.settings, topic_registry(self.settings))
        if restored:
            print(
                f"Restored {restored:,} events from the archive onto the local broker in "
                f"{time.monotonic() - started:.1f}s.",
                flush=True,
            )

    def environment(self) -> dict[str, str]:
        """The environment that makes a child process use this stack."""
        env = dict(os.environ)
        env.update(
            {
                "CHIRP_DATA_DIR": str(self.data_dir),
                "CHIRP_KAFKA_BOOTSTRAP": self.settings.bootstrap_servers,
                "CHIRP_REDIS_URL": self.settings.redis,
                "CHIRP_REDIS_CLUSTER_NODES": self.settings.redis_cluster_nodes,
                "CHIRP_POSTGRES_DSN": self.settings.postgres,
                "CHIRP_JWT_SECRET": self.settings.jwt_secret,
                "CHIRP_TOPIC_PREFIX": self.settings.topic_prefix,
                "CHIRP_PARTITIONS": str(self.settings.partitions),
            }
        )
        return env

    def start_api(self, port: int | None = None, **overrides: str) -> str:
        """Run the REST API in a child process; return its base URL once it answers."""
        port = port or (free_port() if self.ephemeral else self.settings.api_port)
        env = (
            self.environment()
            | {"CHIRP_API_HOST": self.settings.api_host, "CHIRP_API_PORT": str(port)}
            | overrides
        )
        env.setdefault("CHIRP_API_WORKERS", str(self.settings.api_workers))
        process = ManagedProcess(
            name="api",
            argv=[sys.executable, "-m", "api"],
            log_path=self.data_dir / "logs" / f"api-{port}.log",
            env=env,
            parent_death_signal=CHIRP_PROCESS_ORPHANED,
        )
        self.processes.append(process)
        process.start()
        base_url = f"http://{self.settings.api_host}:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not process.running():
                raise ServerStartError(f"API exited during start-up:\n{process.tail()}")
            try:
                if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                    return base_url
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise ServerStartError(f"API not ready after 30s:\n{process.tail()}")

    def start_agents(self, **overrides: str) -> ManagedProcess:
        """Run a projection worker (every Faust agent) until its partitions are assigned;
        its Prometheus metrics are then at the returned process's `metrics_url`. Called
        again, it starts another worker, which shares the partitions (docs/deploy.md)."""
        (process,) = self.start_agent_workers(1, **overrides)
        return process

    def start_agent_workers(self, count: int, **overrides: str) -> list[ManagedProcess]:
        """Start `count` projection workers at once (so that they join their groups in one
        rebalance), each with a metrics port and a log of its own; return once every one has
        its partitions assigned."""
        ports = [overrides.get("CHIRP_AGENTS_METRICS_PORT") or str(free_port())]
        ports += [str(free_port()) for _ in range(count - 1)]
        workers = [
            self._launch(
                "agents", ["-m", "agents"], overrides | {"CHIRP_AGENTS_METRICS_PORT": port}
            )
            for port in ports
        ]
        for worker, port in zip(workers, ports, strict=True):
            self._wait_until_ready(worker, "chirp agents ready", 60)
            worker.metrics_url = f"http://127.0.0.1:{port}/metrics"
        return workers

    def start_trending(self, **overrides: str) -> ManagedProcess:
        """Run the trending Flink job (`chirp trending`) until it has been submitted."""
        from streams.trending import TRENDING_READY_LINE

        return self._start_until_ready(
            "trending", ["-m", "operations.cli", "trending"], TRENDING_READY_LINE, 120, overrides
        )

    def start_flink_cluster(self, taskmanagers: int = 1, **options) -> FlinkSessionCluster:
        """Start a Flink standalone session cluster (a JobManager and `taskmanagers`
        TaskManagers) under data_dir; the job goes to it with
        CHIRP_TRENDING_JOBMANAGER=<its rest_address>. Stopped with the stack."""
        number = len(self.flink_clusters)
        cluster = FlinkSessionCluster(self.data_dir / f"flink-cluster-{number}", **options)
        self.flink_clusters.append(cluster)
        cluster.start(taskmanagers)
        return cluster

    def _start_until_ready(
        self, name: str, args: list[str], ready_line: str, timeout: float, overrides: dict[str, str]
    ) -> ManagedProcess:
        """Run a Chirp process with this stack's environment until it logs `ready_line`."""
        process = self._launch(name, args, overrides)
        self._wait_until_ready(process, ready_line, timeout)
        return process

    def _launch(self, name: str, args: list[str], overrides: dict[str, str]) -> ManagedProcess:
        """Start a Chirp process with this stack's environment, logging to a file of its own."""
        process = ManagedProcess(
            name=name,
            argv=[sys.executable, *args],
            log_path=self.data_dir / "logs" / f"{name}-{len(self.processes)}.log",
            env=self.environment() | overrides,
            parent_death_signal=CHIRP_PROCESS_ORPHANED,
        )
        self.processes.append(process)
        process.start()
        return process

    def _wait_until_ready(self, process: ManagedProcess, ready_line: str, timeout: float) -> None:
        name = process.name
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not process.running():
                raise ServerStartError(f"{name} exited during start-up:\n{process.tail()}")
            if ready_line in process.tail(200):
                return
            time.sleep(0.1)
        raise ServerStartError(f"{name} not ready after {timeout}s:\n{process.tail()}")

    def stop(self) -> None:
        """Stop the API, let the archive catch up with the local broker's log, then stop
        Chirp's other processes and the servers, newest first; never raises."""
        for item in reversed(self.processes):
            if item.name == "api":
                item.stop()
        self._drain_into_archive()
        for item in reversed(self.processes):
            item.stop()
        self.processes.clear()
        for cluster in reversed(self.flink_clusters):
            cluster.stop()
        self.flink_clusters.clear()
        for server in reversed(self.servers):
            server.process.stop()
        self.servers.clear()

    def _drain_into_archive(self) -> None:
        """Nothing the API acknowledged may die with the in-memory broker: wait until the
        archive agent has read every event partition to its end."""
        agents = [item for item in self.processes if item.name == "agents" and item.running()]
        if not (self.local_broker and agents and self.servers):
            return
        from operations.durability import wait_until_archived
        from streams.topics import topic_registry

        try:
            if not wait_until_archived(self.settings, topic_registry(self.settings)):
                print(
                    "The archive did not catch up with the log: the newest events may be "
                    "lost with the local broker.",
                    file=sys.stderr,
                    flush=True,
                )
        except Exception as error:  # noqa: BLE001 - stopping goes on whatever happens
            print(
                f"Could not check the archive before stopping: {error}", file=sys.stderr, flush=True
            )

    def pids(self) -> list[int]:
        """PIDs of everything this stack started and still has running."""
        items = [*self.processes, *(server.process for server in self.servers)]
        clusters = [pid for cluster in self.flink_clusters for pid in cluster.pids()]
        return [item.pid for item in items if item.running()] + clusters

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
