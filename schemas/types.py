"""Field types shared by events and API models."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from annotated_types import GroupedMetadata
from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

MAX_ID = 2**63 - 1
_DECIMAL = re.compile(r"^[0-9]{1,19}$")


def parse_id(value: object) -> int:
    """A 64-bit id from its decimal string (or an int); ValueError for anything else."""
    if isinstance(value, bool):
        raise ValueError("an id is a decimal string")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DECIMAL.match(value):
        number = int(value)
    else:
        raise ValueError("an id is a decimal string of up to 19 digits")
    if not 0 < number <= MAX_ID:
        raise ValueError("an id is a positive 64-bit integer")
    return number


def parse_id_string(value: object) -> int:
    """Like parse_id, but only from a string: a JSON number may have lost precision already."""
    if not isinstance(value, str):
        raise ValueError("an id is a decimal string, not a JSON number")
    return parse_id(value)


_ID_SCHEMA = {"type": "string", "pattern": r"^[0-9]{1,19}$", "examples": ["1234567890123456789"]}

# Ids are 64-bit integers in Python and decimal strings on the wire: JavaScript numbers hold
# only 53 bits exactly.
Id = Annotated[
    int,
    BeforeValidator(parse_id),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(_ID_SCHEMA),
]
# An id in a request body: a decimal string only.
IdString = Annotated[
    int,
    BeforeValidator(parse_id_string),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(_ID_SCHEMA),
]


def rfc3339(moment: datetime) -> str:
    """`moment` as every API answer writes times: RFC 3339 in UTC with a `Z`, to the
    millisecond (ids, and so tweets' times, are exact to the millisecond)."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# A time in an API answer.
Timestamp = Annotated[
    datetime,
    PlainSerializer(rfc3339, return_type=str),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "examples": ["2026-12-02T08:44:51.640Z"]}
    ),
]


def normalize_text(value: str) -> str:
    """NFC-normalise `value`; reject control characters other than newline and lone surrogates."""
    text = unicodedata.normalize("NFC", value)
    for char in text:
        category = unicodedata.category(char)
        if category == "Cc" and char != "\n":
            raise ValueError(f"control character U+{ord(char):04X} is not allowed")
        if category == "Cs":
            raise ValueError(f"unpaired surrogate U+{ord(char):04X} is not allowed")
    return text


@dataclass(frozen=True)
class TextChecks(GroupedMetadata):
    """The metadata of a bounded text type, `Annotated[str, bounded_text(...)]`."""

    validator: AfterValidator
    json_schema: WithJsonSchema

    def __iter__(self) -> Iterator[object]:
        yield self.validator
        yield self.json_schema


def bounded_text(
    max_length: int,
    *,
    single_line: bool = False,
    not_blank: bool = False,
    may_be_empty: bool = False,
) -> TextChecks:
    """The checks of a text type of 1..max_length code points (0..max_length if
    `may_be_empty`), counted after NFC normalisation: `Annotated[str, bounded_text(...)]`."""
    min_length = 0 if may_be_empty else 1

    def check(value: str) -> str:
        text = normalize_text(value)
        if single_line and "\n" in text:
            raise ValueError("must be a single line")
        if not min_length <= len(text) <= max_length:
            raise ValueError(f"must be {min_length} to {max_length} characters, not {len(text)}")
        if not_blank and not text.strip():
            raise ValueError("must contain more than white space")
        return text

    # What `check` refuses, said in the schema too (clients and API fuzzers read it): no
    # control character but newline (none at all on a single line), no lone surrogate,
    # something besides white space.
    allowed = (
        r"[^\u0000-\u001f\u007f-\u009f\ud800-\udfff]"
        if single_line
        else r"[^\u0000-\u0009\u000b-\u001f\u007f-\u009f\ud800-\udfff]"
    )
    pattern = rf"^(?=[\s\S]*\S){allowed}*$" if not_blank else rf"^{allowed}*$"
    schema = {
        "type": "string",
        "minLength": min_length,
        "maxLength": max_length,
        "pattern": pattern,
    }
    return TextChecks(AfterValidator(check), WithJsonSchema(schema))
