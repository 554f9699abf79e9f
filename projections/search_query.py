"""The search box's language, parsed into a structured query that no engine sees as syntax.

Words, "quoted phrases", #hashtags, from:username, since:YYYY-MM-DD (inclusive) and
until:YYYY-MM-DD (exclusive), all of which must match. Every other character is plain text:
the adapters build engine queries from the parsed parts, never from the user's string.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import date

import regex

from projections.search_ranking import TOKEN_PATTERN
from schemas.entities import extract_hashtags

MAX_QUERY_LENGTH = 500
# Each word, phrase, hashtag or author is one more clause for the engine to evaluate.
MAX_TERMS = 32

_QUOTES = '"“”'
_SEARCHABLE = regex.compile(TOKEN_PATTERN)
_OPERATOR = regex.compile(r"(?i)^(from|since|until):(.*)$")
_USERNAME = regex.compile(r"^@?([A-Za-z0-9_]{1,15})$")
_DAY = regex.compile(r"^\d{4}-\d{2}-\d{2}$")
_EXAMPLES = {"from": "from:alice", "since": "since:2024-01-31", "until": "until:2024-01-31"}


class SearchQueryError(ValueError):
    """The query cannot be searched; the message says why, in words meant for the user."""


@dataclass(frozen=True)
class SearchQuery:
    """A parsed query. Words are lowercased; hashtags and authors are in their indexed form."""

    words: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    # from: given more than once means from any of them.
    authors: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None

    @property
    def has_text(self) -> bool:
        """Whether relevance comes from text (words, phrases, hashtags) rather than operators."""
        return bool(self.words or self.phrases or self.hashtags)

    def fingerprint(self) -> str:
        """A short stable digest, so that a cursor is only ever used with its own query."""
        return hashlib.blake2b(repr(self).encode(), digest_size=6).hexdigest()


def parse_search_query(text: str) -> SearchQuery:
    """Parse the user's `q`; raise SearchQueryError with a readable reason if it is unusable."""
    if len(text) > MAX_QUERY_LENGTH:
        raise SearchQueryError(f"the query is longer than {MAX_QUERY_LENGTH} characters")
    text = unicodedata.normalize("NFC", text)
    if any(unicodedata.category(char) in ("Cc", "Cs") and not char.isspace() for char in text):
        raise SearchQueryError("the query contains control characters or broken Unicode")
    parts: dict[str, list] = {"words": [], "phrases": [], "hashtags": [], "authors": []}
    dates: dict[str, date] = {}
    for outside, chunk in _split_quotes(text):
        if outside:
            for token in chunk.split():
                _classify(token, parts, dates)
        else:
            _add_phrase(chunk, parts)
    query = SearchQuery(
        **{name: tuple(dict.fromkeys(values)) for name, values in parts.items()},
        since=dates.get("since"),
        until=dates.get("until"),
    )
    _check(query)
    return query


def _split_quotes(text: str) -> list[tuple[bool, str]]:
    """Alternate (outside quotes, text) chunks; straight and curly quotes are the same mark."""
    chunks = regex.split(f"[{_QUOTES}]", text)
    if len(chunks) % 2 == 0:
        raise SearchQueryError('unbalanced quotes: close the phrase with another "')
    return [(index % 2 == 0, chunk) for index, chunk in enumerate(chunks)]


def _add_phrase(chunk: str, parts: dict[str, list]) -> None:
    phrase = " ".join(chunk.split()).lower()
    if not _SEARCHABLE.search(phrase):
        raise SearchQueryError(
            'a quoted phrase needs words inside the quotes, e.g. "solar eclipse"'
        )
    parts["phrases"].append(phrase)


def _classify(token: str, parts: dict[str, list], dates: dict[str, date]) -> None:
    if token[0] in "#＃":
        tags = extract_hashtags(token)
        if not tags:
            raise SearchQueryError(
                f"{token!r} is not a hashtag: write # followed by letters, e.g. #photography"
            )
        parts["hashtags"].append(tags[0])
        return
    operator = _OPERATOR.match(token)
    if operator is None:
        # Words without letters or digits (`-`, `&`, `*`, emoji) have nothing to match.
        if _SEARCHABLE.search(token):
            parts["words"].append(token.lower())
        return
    name, value = operator.group(1).lower(), operator.group(2)
    if not value:
        raise SearchQueryError(
            f"{name}: needs a value right after the colon, e.g. {_EXAMPLES[name]}"
        )
    if name == "from":
        username = _USERNAME.match(value)
        if username is None:
            raise SearchQueryError(f"{value!r} is not a username (1-15 letters, digits or _)")
        parts["authors"].append(username.group(1).lower())
        return
    if name in dates:
        raise SearchQueryError(f"{name}: is given more than once")
    dates[name] = _day(name, value)


def _day(name: str, value: str) -> date:
    try:
        if _DAY.match(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise SearchQueryError(f"{name}:{value} is not a date: write it as {_EXAMPLES[name]}")


def _check(query: SearchQuery) -> None:
    terms = len(query.words) + len(query.phrases) + len(query.hashtags) + len(query.authors)
    if terms > MAX_TERMS:
        raise SearchQueryError(
            f"the query has more than {MAX_TERMS} words, phrases, hashtags and authors"
        )
    if terms == 0 and query.since is None and query.until is None:
        raise SearchQueryError(
            "the query has nothing to search for: type a word, "
            'a "phrase", a #hashtag or from:username'
        )
    if query.since and query.until and query.since >= query.until:
        raise SearchQueryError("since: must be a day before until: (until: is exclusive)")
