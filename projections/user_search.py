"""User search: prefix and typo-tolerant matches on username and display name, ranked by
follower count, then by how well the text matched.

The engine (either adapter of `SearchIndex`) finds the candidates and scores the text alone,
the same way on both: per query token, the best of these tiers, summed over the tokens
(every token must match something):

| tier | username | display name word |
|---|---|---|
| exact | 4 | 3 |
| prefix | 2 | 2 |
| typo (edit distance 1, or 2 from 6 letters) | 1 | 1 |

Follower counts are not in the index: they are read from the graph store at query time for
the candidates (`find_users`), so a follow moves a user up at once and the index is written
only when a profile is. The price: only the MAX_CANDIDATES best text matches are ranked by
followers (docs/search.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
import regex

from projections.search_query import SearchQueryError
from projections.search_ranking import TOKEN_PATTERN

MAX_QUERY_LENGTH = 100
MAX_TOKENS = 8
# The best text matches ranked by follower count; paging stops there.
MAX_CANDIDATES = 1000
# Text-match tiers (above): exact beats prefix beats a typo, and a username beats a name.
EXACT_USERNAME, EXACT_NAME, PREFIX, TYPO = 4.0, 3.0, 2.0, 1.0
_TOKENS = regex.compile(TOKEN_PATTERN)


@dataclass(frozen=True)
class UserDocument:
    """A user as the search index holds them."""

    user_id: int
    username: str
    display_name: str


@dataclass(frozen=True)
class UserQuery:
    """Search terms, lowercased and folded to ASCII as the index folds names."""

    tokens: tuple[str, ...]

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256("\x00".join(self.tokens).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class UserHit:
    user_id: int
    score: float  # the text tiers' sum


@dataclass(frozen=True)
class UserSearchPage:
    user_ids: list[int]
    next_cursor: str | None


def fold(text: str) -> str:
    """Lowercase, accents taken off: what the index's name analyzers do to a word."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def name_words(text: str) -> list[str]:
    """The words of a display name, or of a query, as they are matched."""
    return [fold(word) for word in _TOKENS.findall(text)]


def parse_user_query(text: str) -> UserQuery:
    """The query in `text`; SearchQueryError (a message for the user) if there is none."""
    if len(text) > MAX_QUERY_LENGTH:
        raise SearchQueryError(f"a user search is at most {MAX_QUERY_LENGTH} characters")
    tokens = tuple(dict.fromkeys(name_words(text.lstrip("@"))))
    if not tokens:
        raise SearchQueryError("nothing to search for: give letters or digits")
    if len(tokens) > MAX_TOKENS:
        raise SearchQueryError(f"at most {MAX_TOKENS} words")
    return UserQuery(tokens)


def typo_distance(token: str) -> int:
    """The edit distance a token may be off by (as Elasticsearch's AUTO fuzziness)."""
    if len(token) < 3:
        return 0
    return 1 if len(token) < 6 else 2


def rank_users(hits: list[UserHit], followers: dict[int, int]) -> list[int]:
    """Candidates by follower count, then text score, then id (oldest account first)."""
    ranked = sorted(hits, key=lambda hit: (-followers.get(hit.user_id, 0), -hit.score, hit.user_id))
    return [hit.user_id for hit in ranked]


def encode_user_cursor(query: UserQuery, offset: int) -> str:
    payload = orjson.dumps({"q": query.fingerprint, "o": offset})
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_user_cursor(query: UserQuery, cursor: str) -> int:
    """The offset `cursor` stands for; SearchQueryError if it is not one of this query's."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = orjson.loads(raw)
        offset = payload["o"]
        same_query = payload["q"] == query.fingerprint
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise SearchQueryError("cursor: not a cursor this API issued") from None
    if not same_query or not isinstance(offset, int) or not 0 < offset < MAX_CANDIDATES:
        raise SearchQueryError("cursor: not a cursor of this query")
    return offset


async def find_users(
    candidates: Callable[[UserQuery, int], Awaitable[list[UserHit]]],
    followers_counts: Callable[[list[int]], Awaitable[dict[int, int]]],
    query: UserQuery,
    cursor: str | None,
    limit: int,
) -> UserSearchPage:
    """A page of users matching `query`, best first: the engine's candidates ranked by the
    graph store's follower counts. The cursor is an offset in that ranking, which is
    computed again for each page: a follow between two pages can move a user across them."""
    offset = decode_user_cursor(query, cursor) if cursor is not None else 0
    hits = await candidates(query, MAX_CANDIDATES)
    ranked = rank_users(hits, await followers_counts([hit.user_id for hit in hits]))
    page = ranked[offset : offset + limit]
    end = offset + len(page)
    more = len(page) == limit and end < len(ranked) and end < MAX_CANDIDATES
    return UserSearchPage(page, encode_user_cursor(query, end) if more else None)
