"""A Flink standalone session cluster from PyFlink's own distribution, on loopback.

PyFlink's wheels carry a whole Flink (`pyflink/bin`, `lib`, `opt`): `jobmanager.sh` and
`taskmanager.sh start-foreground` exec one JVM each, so the PID this module starts is the
JVM's and the stack stops it like any other server. The configuration is generated into a
directory of the cluster's own (`FLINK_CONF_DIR`), with small memory budgets for a machine
that the whole stack shares, ports chosen free, and every socket on 127.0.0.1.

The Kafka connector is not put on the cluster's class path: a job ships its jars
(`pipeline.jars`), which the JobManager's blob server hands to the TaskManagers.

    cluster = FlinkSessionCluster(work_dir)
    cluster.start()                      # a JobManager and one TaskManager
    cluster.rest_address                 # "127.0.0.1:<port>": `chirp trending --jobmanager`
    cluster.stop()

Or from a shell, in the foreground until Ctrl-C:

    python -m infra.flink_cluster DIR [TASKMANAGERS]
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from infra.processes import ManagedProcess
from infra.servers import free_port, wait_until

# The console only: ManagedProcess sends each JVM's output to a log file of its own.
_LOG4J_CONSOLE = """\
rootLogger.level = INFO
rootLogger.appenderRef.console.ref = ConsoleAppender
logger.kafka.name = org.apache.kafka
logger.kafka.level = WARN
appender.console.name = ConsoleAppender
appender.console.type = CONSOLE
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n
"""


def flink_home() -> Path:
    """Where PyFlink's wheel keeps its Flink distribution (bin, lib, opt, conf)."""
    import pyflink

    return Path(pyflink.__file__).parent


@dataclass
class FlinkSessionCluster:
    """A JobManager and its TaskManagers, each a foreground JVM tracked by PID."""

    work_dir: Path
    slots: int = 2
    jobmanager_memory: str = "768m"
    taskmanager_memory: str = "768m"
    # How soon the JobManager gives up on a TaskManager that stopped answering (a killed
    # one's connection is refused at once: two failed heartbeats mark it gone).
    heartbeat_interval_ms: int = 2000
    heartbeat_timeout_ms: int = 10_000
    rest_port: int = 0  # 0: a free one
    rpc_port: int = 0
    jobmanager: ManagedProcess | None = field(default=None, init=False)
    taskmanagers: list[ManagedProcess] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        # Two calls of free_port may return the same port: it is free again once checked.
        self.rest_port = self.rest_port or free_port()
        while not self.rpc_port or self.rpc_port == self.rest_port:
            self.rpc_port = free_port()

    @property
    def rest_address(self) -> str:
        return f"127.0.0.1:{self.rest_port}"

    @property
    def rest_url(self) -> str:
        return f"http://{self.rest_address}"

    @property
    def conf_dir(self) -> Path:
        return self.work_dir / "conf"

    def configuration(self) -> dict[str, str]:
        """The cluster's config.yaml, as flat keys (Flink 2 reads them like nested ones)."""
        tmp = self.work_dir / "tmp"
        return {
            # Java 17 needs the module openings Flink ships in its own config.yaml.
            "env.java.opts.all": f"{_java_module_options()} -Djava.io.tmpdir={tmp}",
            "jobmanager.rpc.address": "127.0.0.1",
            "jobmanager.rpc.port": str(self.rpc_port),
            "jobmanager.bind-host": "127.0.0.1",  # the blob server's too
            "jobmanager.memory.process.size": self.jobmanager_memory,
            "jobmanager.execution.failover-strategy": "region",
            "taskmanager.bind-host": "127.0.0.1",
            "taskmanager.host": "127.0.0.1",
            "taskmanager.numberOfTaskSlots": str(self.slots),
            "taskmanager.memory.process.size": self.taskmanager_memory,
            # A small TaskManager: Flink's defaults for the framework and the network would
            # take most of it. Managed memory feeds the SQL window operators' buffers.
            "taskmanager.memory.jvm-overhead.min": "128m",
            "taskmanager.memory.framework.heap.size": "64m",
            "taskmanager.memory.framework.off-heap.size": "64m",
            "taskmanager.memory.network.min": "32m",
            "taskmanager.memory.network.max": "32m",
            "taskmanager.memory.managed.size": "64m",
            "rest.address": "127.0.0.1",
            "rest.bind-address": "127.0.0.1",
            "rest.port": str(self.rest_port),
            # Jobs come through the REST client (`chirp trending`), never as uploaded jars.
            "web.submit.enable": "false",
            "heartbeat.interval": str(self.heartbeat_interval_ms),
            "heartbeat.timeout": str(self.heartbeat_timeout_ms),
            "io.tmp.dirs": str(tmp),
            "blob.storage.directory": str(self.work_dir / "blobs"),
        }

    def start(self, taskmanagers: int = 1) -> None:
        """Start the JobManager, then `taskmanagers` TaskManagers; return once all have
        registered. On a failure, whatever started is stopped."""
        try:
            self._write_configuration()
            self.jobmanager = self._process("jobmanager", "jobmanager.sh")
            self.jobmanager.start()
            wait_until(
                lambda: self._get("/overview") is not None,
                "Flink JobManager",
                self.jobmanager,
                timeout=60,
            )
            for _ in range(taskmanagers):
                self.start_taskmanager()
        except BaseException:
            self.stop()
            raise

    def start_taskmanager(self) -> ManagedProcess:
        """Start one more TaskManager; return it once the JobManager lists it."""
        resource_id = f"taskmanager-{len(self.taskmanagers)}"
        process = self._process(
            resource_id, "taskmanager.sh", "-D", f"taskmanager.resource-id={resource_id}"
        )
        self.taskmanagers.append(process)
        process.start()
        wait_until(
            lambda: resource_id in self.taskmanager_ids(),
            f"Flink TaskManager {resource_id}",
            process,
            timeout=60,
        )
        return process

    def taskmanager_ids(self) -> list[str]:
        """The TaskManagers the JobManager knows (a killed one until its heartbeats fail)."""
        answer = self._get("/taskmanagers") or {}
        return [item["id"] for item in answer.get("taskmanagers", [])]

    def kill_taskmanager(self, process: ManagedProcess) -> None:
        """SIGKILL one TaskManager, as a machine's crash would end it."""
        process.kill()

    def stop(self) -> None:
        """Stop the TaskManagers, then the JobManager; never raises."""
        for process in reversed(self.taskmanagers):
            process.stop()
        if self.jobmanager is not None:
            self.jobmanager.stop()

    def pids(self) -> list[int]:
        processes = [*self.taskmanagers, *([self.jobmanager] if self.jobmanager else [])]
        return [process.pid for process in processes if process.pid and process.running()]

    def get(self, path: str) -> dict:
        """GET a path of the cluster's REST API (e.g. /jobs/<id>/checkpoints)."""
        response = httpx.get(f"{self.rest_url}{path}", timeout=5)
        response.raise_for_status()
        return response.json()

    def _get(self, path: str) -> dict | None:
        try:
            return self.get(path)
        except httpx.HTTPError:
            return None

    def _write_configuration(self) -> None:
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        for directory in ("tmp", "blobs", "logs"):
            (self.work_dir / directory).mkdir(exist_ok=True)
        # JSON strings are YAML strings: no YAML writer needed.
        lines = [f"{key}: {json.dumps(value)}" for key, value in self.configuration().items()]
        (self.conf_dir / "config.yaml").write_text("\n".join(lines) + "\n")
        (self.conf_dir / "log4j-console.properties").write_text(_LOG4J_CONSOLE)

    def _process(self, name: str, script: str, *args: str) -> ManagedProcess:
        env = {
            key: value
            for key, value in os.environ.items()
            # The trending job's own JVM settings (streams/trending.py) are not the cluster's:
            # Flink sizes each JVM from the configuration.
            if key not in {"JVM_ARGS", "FLINK_CONF_DIR", "FLINK_LOG_DIR", "FLINK_ENV_JAVA_OPTS"}
        }
        env |= {
            "FLINK_CONF_DIR": str(self.conf_dir),
            "FLINK_LOG_DIR": str(self.work_dir / "logs"),
            "FLINK_PID_DIR": str(self.work_dir),
        }
        return ManagedProcess(
            name=f"flink-{name}",
            argv=["bash", str(flink_home() / "bin" / script), "start-foreground", *args],
            log_path=self.work_dir / "logs" / f"{name}.log",
            env=env,
            cwd=self.work_dir,
            # A JVM's clean stop runs its shutdown hooks; without a launcher nobody waits.
            parent_death_signal=signal.SIGKILL,
        )

    def __enter__(self) -> FlinkSessionCluster:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _java_module_options() -> str:
    """`env.java.opts.all` of the config.yaml PyFlink ships (the --add-opens Java 17 needs)."""
    from ruamel.yaml import YAML

    shipped = YAML(typ="safe").load((flink_home() / "conf" / "config.yaml").read_text())
    return str(shipped["env"]["java"]["opts"]["all"])


if __name__ == "__main__":
    import sys

    from infra.servers import ServerStartError

    cluster = FlinkSessionCluster(Path(sys.argv[1]).resolve())
    try:
        cluster.start(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
        print(
            f"Flink session cluster at {cluster.rest_url} (logs in {cluster.work_dir}/logs): "
            f"chirp trending --jobmanager {cluster.rest_address}. Ctrl-C stops it.",
            flush=True,
        )
        stop = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stop)  # after the JVMs started: not theirs
        signal.sigwait(stop)
    except ServerStartError as error:
        print(error, file=sys.stderr)
        sys.exit(1)
    finally:
        cluster.stop()
