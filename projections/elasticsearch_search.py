"""The search index on Elasticsearch (production): an explicit mapping behind an alias,
bulk writes, and the shared ranking as a function_score query."""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

try:
    from elastic_transport import AiohttpHttpNode, TransportError
    from elasticsearch import ApiError, AsyncElasticsearch, BadRequestError, NotFoundError
except ModuleNotFoundError as error:
    raise ModuleNotFoundError(
        "The Elasticsearch search index needs the `elasticsearch` extra: "
        "pip install -e '.[elasticsearch]'",
        name=error.name,
    ) from error

from projections.elasticsearch_user_search import ElasticsearchUserIndex
from projections.engagements import Counts
from projections.search import SearchEngineError, SearchHit, SearchPage, TweetDocument
from projections.search_paging import search_page
from projections.search_query import SearchQuery
from projections.search_ranking import (
    TOKEN_PATTERN,
    Personal,
    day_start_ms,
    engagement,
    epoch_ms,
    recency_steps,
)
from projections.user_search import UserDocument, UserHit, UserQuery
from streams.ids import id_time

SETTINGS = {
    "analysis": {
        "tokenizer": {"tweet_tokens": {"type": "pattern", "pattern": TOKEN_PATTERN, "group": 0}},
        "filter": {"english_porter2": {"type": "stemmer", "language": "porter2"}},
        "analyzer": {
            "tweet_text": {
                "type": "custom",
                "tokenizer": "tweet_tokens",
                "filter": ["lowercase", "asciifolding", "english_porter2"],
            }
        },
    },
}
# The counts are kept in _source only (returned, never searched or sorted on). author_id is
# searched by the personal boost (since 2026-12-03: an index made before has it in _source
# only; rebuild it with `chirp replay search`).
_SOURCE_ONLY = {"type": "long", "index": False, "doc_values": False}
MAPPINGS = {
    "dynamic": "strict",
    "properties": {
        "tweet_id": {"type": "long"},
        "author_id": {"type": "long", "doc_values": False},
        "author": {"type": "keyword"},
        "hashtags": {"type": "keyword"},
        "content": {"type": "text", "analyzer": "tweet_text"},
        "created_at": {"type": "date", "format": "epoch_millis"},
        "like_count": _SOURCE_ONLY,
        "retweet_count": _SOURCE_ONLY,
        "reply_count": _SOURCE_ONLY,
        "engagement": {"type": "long"},
    },
}
# field_value_factor's log2p is log10(2 + x); times log2(10) it is search_ranking's log2(2 + x).
log = logging.getLogger("chirp.search")
_LOG2_OF_10 = math.log2(10)
# How often a writer looks for months past the retention to drop.
EXPIRY_CHECK_SECONDS = 3600.0
_COMPATIBLE_MIMETYPE = re.compile(r"application/vnd\.elasticsearch\+([a-z-]+); compatible-with=\d+")


class PlainJsonHttpNode(AiohttpHttpNode):
    """Sends `application/json` where the client asks for `vnd.elasticsearch+json;
    compatible-with=N`, which the Elasticsearch API stand-in (osmem-server) answers with 406."""

    async def perform_request(self, method, target, body=None, headers=None, **options):
        if headers:
            headers = headers.copy()
            for name in ("accept", "content-type"):
                if name in headers:
                    headers[name] = _COMPATIBLE_MIMETYPE.sub(r"application/\1", headers[name])
        return await super().perform_request(method, target, body, headers, **options)


def elasticsearch_client(
    url: str,
    *,
    api_stand_in: bool = False,
    api_key: str | None = None,
    ca_certs: str | None = None,
) -> AsyncElasticsearch:
    """A client for `url`, logging in with `api_key` and checking the server's certificate
    against `ca_certs` (unset: the system's CAs) where given; `api_stand_in` for a server
    that only speaks plain JSON."""
    options: dict[str, Any] = {"api_key": api_key, "ca_certs": ca_certs}
    if api_stand_in:
        options["node_class"] = PlainJsonHttpNode
    return AsyncElasticsearch(url, **{name: value for name, value in options.items() if value})


class ElasticsearchSearchIndex:
    """Tweets in monthly indexes `<alias>-v<generation>-<YYYY.MM>` (by the tweet's time),
    read through `alias`.

    An index template (one per generation) gives each month's index its settings, mapping
    and aliases when the first tweet of that month is written: the generation's alias
    `<alias>-v<generation>`, and `alias` itself once the generation is promoted. A search
    goes through `alias`, or, with `since:`/`until:`, to the months it needs only. A rebuild
    writes a new generation and `promote()`s it: one atomic alias switch moves every reader
    over. Months older than `retention_months` are dropped whole (`drop_expired`).
    `refresh=True` makes each write searchable before it returns (tests, read-your-writes);
    by default a write is searchable after the index's refresh interval (1 s).
    """

    def __init__(
        self,
        client: AsyncElasticsearch,
        alias: str = "tweets",
        *,
        generation: int = 1,
        refresh: bool = False,
        clock: Callable[[], float] = time.time,
        shards: int = 1,
        replicas: int = 0,
        retention_months: int = 0,
    ) -> None:
        self.client = client
        self.clock = clock
        self.alias = alias
        # The generation's alias over its months (and its index template's name).
        self.generation_alias = f"{alias}-v{generation}"
        self.refresh = refresh
        self.shards, self.replicas = shards, replicas
        self.retention_months = retention_months
        self._next_expiry_check = 0.0
        # The generation's users, in an index (and alias) of their own.
        self.users = ElasticsearchUserIndex(client, alias, generation, refresh, self._call)

    def month_index(self, moment: datetime) -> str:
        return f"{self.generation_alias}-{moment.astimezone(UTC):%Y.%m}"

    def _month_of(self, tweet_id: int) -> str:
        """The month a tweet is in: its id's (a Snowflake id says when it was made, so every
        write of the tweet finds its index without a look-up)."""
        return self.month_index(id_time(tweet_id))

    async def setup(self) -> None:
        """The template, and the current month's index (so that the aliases have an index
        to stand on); the first generation set up is the one `alias` serves."""
        if await self._legacy_index():
            raise SearchEngineError(
                f"elasticsearch: {self.generation_alias} is one index from before monthly "
                "indexes (2026-12-03): rebuild the search read model with `chirp replay search`"
            )
        serving = not await self._call(self.client.indices.exists_alias(name=self.alias))
        if not serving:
            current = await self._call(self.client.indices.get_alias(name=self.alias))
            serving = any(name.startswith(f"{self.generation_alias}-") for name in current)
        await self._put_template(serving)
        try:
            await self.client.indices.create(
                index=self.month_index(datetime.fromtimestamp(self.clock(), UTC))
            )
        except BadRequestError as error:
            if "resource_already_exists_exception" not in str(error):
                raise SearchEngineError(f"elasticsearch: {error}") from error
        except TransportError as error:
            raise SearchEngineError(f"elasticsearch unreachable: {error}") from error
        if serving:
            await self._call(
                self.client.indices.put_alias(index=f"{self.generation_alias}-*", name=self.alias)
            )
        await self.users.setup()

    async def _legacy_index(self) -> bool:
        """Whether this generation is one index named as its alias is now (made before
        monthly indexes)."""
        exists = await self._call(self.client.indices.exists(index=self.generation_alias))
        aliased = await self._call(self.client.indices.exists_alias(name=self.generation_alias))
        return bool(exists) and not aliased

    async def _put_template(self, serving: bool) -> None:
        aliases: dict[str, dict] = {self.generation_alias: {}}
        if serving:
            aliases[self.alias] = {}
        await self._call(
            self.client.indices.put_index_template(
                name=self.generation_alias,
                index_patterns=[f"{self.generation_alias}-*"],
                template={
                    "settings": {
                        **SETTINGS,
                        "number_of_shards": self.shards,
                        "number_of_replicas": self.replicas,
                    },
                    "mappings": MAPPINGS,
                    "aliases": aliases,
                },
            )
        )

    async def promote(self) -> None:
        """Point the alias at this generation's months only, in one atomic step; its template
        adds the alias to the months to come."""
        await self._put_template(serving=True)
        current = await self._call(self.client.indices.get_alias(name=self.alias))
        actions = [{"remove": {"index": index, "alias": self.alias}} for index in current]
        actions.append({"add": {"index": f"{self.generation_alias}-*", "alias": self.alias}})
        await self._call(self.client.indices.update_aliases(actions=actions))
        await self.users.promote()

    async def ping(self) -> None:
        await self._call(self.client.indices.exists_alias(name=self.alias))

    async def drop(self) -> None:
        """Delete this generation's months and template (a generation no longer read)."""
        await self._call(
            self.client.indices.delete(
                index=f"{self.generation_alias}-*", ignore_unavailable=True, allow_no_indices=True
            )
        )
        try:
            await self._call(self.client.indices.delete_index_template(name=self.generation_alias))
        except SearchEngineError as error:
            if not isinstance(error.__cause__, NotFoundError):
                raise
        if await self._legacy_index():  # the generation a replay replaces after an upgrade
            await self._call(self.client.indices.delete(index=self.generation_alias))
        await self.users.drop()

    async def months(self) -> list[str]:
        """This generation's monthly indexes, oldest first."""
        found = await self._call(self.client.indices.get_alias(name=self.generation_alias))
        return sorted(found)

    def _oldest_kept(self) -> str | None:
        """The oldest month's index `retention_months` keeps (None: it keeps every month):
        the current month and the `retention_months` before it."""
        if self.retention_months <= 0:
            return None
        now = datetime.fromtimestamp(self.clock(), UTC)
        months = now.year * 12 + now.month - 1 - self.retention_months
        return self.month_index(datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC))

    async def drop_expired(self) -> list[str]:
        """Delete the months older than `retention_months` keeps, whole; return them."""
        oldest_kept = self._oldest_kept()
        if oldest_kept is None:
            return []
        expired = [name for name in await self.months() if name < oldest_kept]
        if expired:
            await self._call(self.client.indices.delete(index=",".join(expired)))
        return expired

    async def _expire_when_due(self) -> None:
        """drop_expired() at most once per EXPIRY_CHECK_SECONDS, from the writers."""
        now = self.clock()
        if self._oldest_kept() is not None and now >= self._next_expiry_check:
            self._next_expiry_check = now + EXPIRY_CHECK_SECONDS
            dropped = await self.drop_expired()
            if dropped:
                log.info("dropped the search index's expired months: %s", ", ".join(dropped))

    async def close(self) -> None:
        await self.client.close()

    async def index(self, documents: Sequence[TweetDocument]) -> None:
        """Write each tweet into its month's index; tweets of months past the retention are
        not written (a replay would otherwise bring dropped months back)."""
        await self._expire_when_due()
        oldest_kept = self._oldest_kept() or ""
        operations = []
        for document in documents:
            if self.month_index(document.created_at) < oldest_kept:
                continue
            operations += [
                {
                    "index": {
                        "_index": self.month_index(document.created_at),
                        "_id": str(document.tweet_id),
                    }
                },
                self._source(document),
            ]
        await self._bulk(operations)

    async def delete(self, tweet_ids: Sequence[int]) -> None:
        await self._write_by_id("delete", [(tweet_id, None) for tweet_id in tweet_ids])

    async def erase_users(self, users: Mapping[int, str]) -> None:
        if not users:
            return
        # A tweet's author is indexed by username (its id is kept in _source only).
        await self._call(
            self.client.delete_by_query(
                index=self.generation_alias,
                query={"terms": {"author": sorted(name.lower() for name in users.values())}},
                refresh=True,
                conflicts="proceed",
            )
        )
        await self.users.erase(list(users))

    async def update_engagement(self, counts: Mapping[int, Counts]) -> None:
        await self._write_by_id(
            "update", [(tweet_id, {"doc": _counts(found)}) for tweet_id, found in counts.items()]
        )

    async def _write_by_id(self, action: str, items: list[tuple[int, dict | None]]) -> None:
        """Deletes or updates of tweets known by id only: each sent to its id's month (a
        Snowflake id says when the tweet was made); those not found there are looked up
        across the generation's months in one search and sent again where they are (a
        tweet whose `created_at` fell in the next month a moment after its id was made; ids
        that are not Snowflake ids). Not found anywhere: already deleted, or never indexed."""
        missed = await self._bulk(_operations(action, items, self._month_of))
        if not missed:
            return
        found = await self._call(
            self.client.search(
                index=self.generation_alias,
                query={"ids": {"values": [str(tweet_id) for tweet_id in missed]}},
                size=len(missed),
                source=False,
            )
        )
        where = {int(hit["_id"]): hit["_index"] for hit in found["hits"]["hits"]}
        moved = [
            item
            for item in items
            if where.get(item[0], self._month_of(item[0])) != self._month_of(item[0])
        ]
        await self._bulk(_operations(action, moved, where.__getitem__))

    async def index_users(self, users: Sequence[UserDocument]) -> None:
        await self.users.write(users)

    async def user_candidates(self, query: UserQuery, count: int) -> list[UserHit]:
        return await self.users.candidates(query, count)

    async def search(
        self,
        query: SearchQuery,
        cursor: str | None = None,
        limit: int = 20,
        personal: Personal | None = None,
    ) -> SearchPage:
        async def ranked(query: SearchQuery, as_of_ms: int, count: int) -> list[SearchHit]:
            return await self._ranked(query, as_of_ms, count, personal)

        return await search_page(ranked, query, cursor, limit, self.clock)

    async def indexes_for(self, query: SearchQuery, as_of_ms: int) -> str:
        """Where a search goes: the alias, or with since:/until: this generation's months
        that overlap them (none: an empty month's name, which matches nothing)."""
        if not (query.since or query.until):
            return self.alias
        # A day either side: a tweet's month is its id's, made a moment before its
        # `created_at` (at a month's turn, the months may differ).
        first = ""
        if query.since:
            first = self.month_index(_midnight(query.since - timedelta(days=1)))
        until = query.until or datetime.fromtimestamp(as_of_ms / 1000, UTC).date()
        last = self.month_index(_midnight(until + timedelta(days=1)))
        wanted = [name for name in await self.months() if first <= name <= last]
        return ",".join(wanted) or f"{self.generation_alias}-none"

    async def tagged(self, hashtag: str, before: int | None, limit: int) -> list[int]:
        filters: list[dict[str, Any]] = [{"term": {"hashtags": hashtag}}]
        if before is not None:
            filters.append({"range": {"tweet_id": {"lt": before}}})
        response = await self._call(
            self.client.search(
                index=self.alias,
                query={"bool": {"filter": filters}},
                sort=[{"tweet_id": "desc"}],
                size=limit,
                source=False,
                track_total_hits=False,
            )
        )
        return [int(hit["_id"]) for hit in response["hits"]["hits"]]

    async def _ranked(
        self, query: SearchQuery, as_of_ms: int, count: int, personal: Personal | None
    ) -> list[SearchHit]:
        response = await self._call(
            self.client.search(
                index=await self.indexes_for(query, as_of_ms),
                ignore_unavailable=True,
                # BM25's statistics over every month searched, not each month's own: a
                # tweet's score must not depend on which month's index holds it.
                search_type="dfs_query_then_fetch",
                query=ranking_query(query, as_of_ms, personal),
                sort=[{"_score": "desc"}, {"tweet_id": "desc"}],
                size=count,
                source=False,
                track_total_hits=False,
            )
        )
        return [
            SearchHit(int(hit["_id"]), float(hit["_score"])) for hit in response["hits"]["hits"]
        ]

    @staticmethod
    def _source(document: TweetDocument) -> dict:
        return {
            "tweet_id": document.tweet_id,
            "author_id": document.author_id,
            "author": document.author_username.lower(),
            "hashtags": list(document.hashtags),
            "content": document.content,
            "created_at": epoch_ms(document.created_at),
            **_counts(document.counts),
        }

    async def _bulk(self, operations: list[dict]) -> list[int]:
        """Send `operations`; the ids of the deletes and updates that found no document."""
        if not operations:
            return []
        response = await self._call(self.client.bulk(operations=operations, refresh=self.refresh))
        missed = []
        for item in response["items"]:
            ((action, result),) = item.items()
            if action in ("delete", "update") and result["status"] == 404:
                missed.append(int(result["_id"]))
            elif "error" in result:
                raise SearchEngineError(
                    f"elasticsearch {action} {result['_id']}: {result['error']}"
                )
        return missed

    @staticmethod
    async def _call(request):
        try:
            return await request
        except NotFoundError as error:
            raise SearchEngineError(
                f"elasticsearch: no index behind the alias ({error})"
            ) from error
        except ApiError as error:
            raise SearchEngineError(f"elasticsearch: {error}") from error
        except TransportError as error:
            raise SearchEngineError(f"elasticsearch unreachable: {error}") from error


def ranking_query(query: SearchQuery, as_of_ms: int, personal: Personal | None = None) -> dict:
    """search_ranking's score as a function_score: BM25 (or 1) x recency step x engagement
    x personal boost."""
    must: list[dict[str, Any]] = []
    should: list[dict[str, Any]] = []
    if query.words:
        must.append({"match": {"content": {"query": " ".join(query.words), "operator": "and"}}})
    must += [{"match_phrase": {"content": phrase}} for phrase in query.phrases]
    # Ranked by the tag as a word of the text, filtered on the exact hashtag.
    should += [{"match": {"content": tag}} for tag in query.hashtags]
    if not query.has_text:
        must.append({"match_all": {}})
    filters: list[dict[str, Any]] = [{"term": {"hashtags": tag}} for tag in query.hashtags]
    if query.authors:
        filters.append({"terms": {"author": list(query.authors)}})
    if query.since or query.until:
        filters.append(
            _created_between(
                day_start_ms(query.since) if query.since else None,
                day_start_ms(query.until) - 1 if query.until else None,
            )
        )
    # Created strictly before the first page's moment (see search_paging).
    filters.append(_created_between(None, as_of_ms - 1))
    steps = [
        {"filter": _created_between(step.oldest_ms, step.newest_ms), "weight": step.factor}
        for step in recency_steps(as_of_ms)
    ]
    boost = {
        "field_value_factor": {"field": "engagement", "modifier": "log2p", "missing": 0},
        "weight": _LOG2_OF_10,
    }
    # The tiers are disjoint: a tweet matches at most one (the rest count 1).
    personal_boosts = [
        {"filter": {"terms": {"author_id": sorted(authors)}}, "weight": factor}
        for authors, factor in (personal.tiers() if personal else [])
    ]
    return {
        "function_score": {
            "query": {"bool": {"must": must, "should": should, "filter": filters}},
            # Each tweet matches exactly one step; multiplied with its engagement boost.
            "functions": [*steps, boost, *personal_boosts],
            "score_mode": "multiply",
            "boost_mode": "multiply",
        }
    }


def _counts(counts: Counts) -> dict:
    return {
        "like_count": counts.likes,
        "retweet_count": counts.retweets,
        "reply_count": counts.replies,
        "engagement": engagement(counts),
    }


def _created_between(oldest_ms: int | None, newest_ms: int | None) -> dict:
    bounds = {}
    if oldest_ms is not None:
        bounds["gte"] = oldest_ms
    if newest_ms is not None:
        bounds["lte"] = newest_ms
    return {"range": {"created_at": bounds}}


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _operations(
    action: str, items: list[tuple[int, dict | None]], index_of: Callable[[int], str]
) -> list[dict]:
    """Bulk operations of `action` for (tweet id, body or None), each to `index_of(id)`."""
    operations: list[dict] = []
    for tweet_id, body in items:
        operations.append({action: {"_index": index_of(tweet_id), "_id": str(tweet_id)}})
        if body is not None:
            operations.append(body)
    return operations
