"""What the Flink job needs beyond the `flink` extra: the Kafka connector jars, and a check.

PyPI's only build of Flink's Kafka connector for Flink 2.0 sits inside
shigawire-apache-flink-libraries. Installing that package would drop ~50 Flink 2.0.0 jars
beside apache-flink 2.0.2's, so it is downloaded (pinned by hash), and only the connector and
its Kafka client are taken out of it, into the environment. This runs at install time
(`make`), never when the job starts: nothing is downloaded at run time.

    python -m infra.flink      # fetch the jars into this environment (idempotent)
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

CONNECTOR_WHEEL = "shigawire-apache-flink-libraries==2.0.0.post1"
CONNECTOR_WHEEL_SHA256 = "aaa65537d3f0c0ff279185d8243024f0efd95788ba044bf249ba0f40b69289cd"
# Flink's Kafka connector 4.0.1-2.0 and the kafka-clients 3.9.1 it was built against.
JARS = ("flink-connector-kafka.jar", "kafka-clients.jar")


class FlinkUnavailable(RuntimeError):
    """The Flink job cannot run in this environment; the message says what to install."""


def default_jar_directory() -> Path:
    return Path(sys.prefix) / "share" / "chirp" / "flink-jars"


def connector_jars(directory: Path | None = None) -> list[Path]:
    """The connector jars, checked; FlinkUnavailable says plainly what is missing."""
    if importlib.util.find_spec("pyflink") is None:
        raise FlinkUnavailable(
            "Flink is not installed: trending is off. Install the extra with "
            "`pip install -e '.[flink]'` and the connector jars with `python -m infra.flink` "
            "(`make run` and `make test` do both)."
        )
    if shutil.which("java") is None:
        raise FlinkUnavailable("Flink needs a Java runtime (17) on PATH: trending is off.")
    directory = directory or default_jar_directory()
    jars = [directory / name for name in JARS]
    missing = [jar.name for jar in jars if not jar.is_file()]
    if missing:
        raise FlinkUnavailable(
            f"Flink's Kafka connector is missing ({', '.join(missing)} in {directory}): "
            "trending is off. Fetch it with `python -m infra.flink`."
        )
    return jars


def install_connector_jars(directory: Path | None = None) -> list[Path]:
    """Download the pinned connector wheel and extract the jars into `directory`."""
    directory = directory or default_jar_directory()
    if all((directory / name).is_file() for name in JARS):
        return [directory / name for name in JARS]
    with tempfile.TemporaryDirectory() as scratch:
        requirement = Path(scratch) / "requirements.txt"
        requirement.write_text(f"{CONNECTOR_WHEEL} --hash=sha256:{CONNECTOR_WHEEL_SHA256}\n")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--only-binary",
                ":all:",
                "--require-hashes",
                "-r",
                str(requirement),
                "-d",
                scratch,
            ],
            check=True,
        )
        (wheel,) = Path(scratch).glob("*.whl")
        directory.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as archive:
            for name in JARS:
                # Written under a temporary name first: a half-written jar is never "present".
                partial = directory / f".{name}.partial"
                partial.write_bytes(archive.read(f"pyflink/lib/{name}"))
                partial.replace(directory / name)
    return [directory / name for name in JARS]


if __name__ == "__main__":
    for jar in install_connector_jars(Path(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(jar)
