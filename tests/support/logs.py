"""Reading the structured logs of a process the local stack started."""

from __future__ import annotations

import orjson

FIELDS = {"time", "level", "logger", "message", "service"}


def json_records(process) -> list[dict]:
    """Every line of `process`'s log as a JSON object with the fields every record has; a line
    that is not one fails the calling test.

    Lines end at "\n" only (JSON Lines): a JSON string may hold U+2028 or U+0085 unescaped,
    where `str.splitlines` would cut it. A last line without its "\n" is still being written
    and is left for the next read."""
    records = []
    lines = process.log_path.read_text().split("\n")[:-1]
    for number, line in enumerate(lines, 1):
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise AssertionError(
                f"{process.log_path.name}:{number} is not JSON: {line!r}"
            ) from None
        assert isinstance(record, dict) and record.keys() >= FIELDS, line
        records.append(record)
    return records
