"""Reading the structured logs of a process the local stack started."""

from __future__ import annotations

import orjson

FIELDS = {"time", "level", "logger", "message", "service"}


def json_records(process) -> list[dict]:
    """Every line of `process`'s log as a JSON object with the fields every record has; a line
    that is not one fails the calling test."""
    records = []
    for number, line in enumerate(process.log_path.read_text().splitlines(), 1):
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise AssertionError(
                f"{process.log_path.name}:{number} is not JSON: {line!r}") from None
        assert isinstance(record, dict) and FIELDS <= record.keys(), line
        records.append(record)
    return records
