"""The search index on Elasticsearch (production): an explicit mapping behind an alias,
bulk writes, and the shared ranking as a function_score query."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
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
_LOG2_OF_10 = math.log2(10)
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
    """Tweets in the index `<alias>-v<generation>`, read through `alias`.

    Writes go to this generation's index; searches go through the alias. A rebuild writes a
    new generation and `promote()`s it: one atomic alias switch moves every reader over.
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
    ) -> None:
        self.client = client
        self.clock = clock
        self.alias = alias
        self.index_name = f"{alias}-v{generation}"
        self.refresh = refresh
        # The generation's users, in an index (and alias) of their own.
        self.users = ElasticsearchUserIndex(client, alias, generation, refresh, self._call)

    async def setup(self) -> None:
        try:
            await self.client.indices.create(
                index=self.index_name, settings=SETTINGS, mappings=MAPPINGS
            )
        except BadRequestError as error:
            if "resource_already_exists_exception" not in str(error):
                raise SearchEngineError(f"elasticsearch: {error}") from error
        except TransportError as error:
            raise SearchEngineError(f"elasticsearch unreachable: {error}") from error
        if not await self._call(self.client.indices.exists_alias(name=self.alias)):
            await self._call(self.client.indices.put_alias(index=self.index_name, name=self.alias))
        await self.users.setup()

    async def promote(self) -> None:
        """Point the alias at this generation only, in one atomic step."""
        current = await self._call(self.client.indices.get_alias(name=self.alias))
        actions = [{"remove": {"index": index, "alias": self.alias}} for index in current]
        actions.append({"add": {"index": self.index_name, "alias": self.alias}})
        await self._call(self.client.indices.update_aliases(actions=actions))
        await self.users.promote()

    async def ping(self) -> None:
        await self._call(self.client.indices.exists_alias(name=self.alias))

    async def drop(self) -> None:
        """Delete this generation's index (one the alias no longer points at)."""
        await self._call(self.client.indices.delete(index=self.index_name, ignore_unavailable=True))
        await self.users.drop()

    async def close(self) -> None:
        await self.client.close()

    async def index(self, documents: Sequence[TweetDocument]) -> None:
        operations = []
        for document in documents:
            operations += [
                {"index": {"_index": self.index_name, "_id": str(document.tweet_id)}},
                self._source(document),
            ]
        await self._bulk(operations)

    async def delete(self, tweet_ids: Sequence[int]) -> None:
        await self._bulk(
            [
                {"delete": {"_index": self.index_name, "_id": str(tweet_id)}}
                for tweet_id in tweet_ids
            ]
        )

    async def erase_users(self, users: Mapping[int, str]) -> None:
        if not users:
            return
        # A tweet's author is indexed by username (its id is kept in _source only).
        await self._call(
            self.client.delete_by_query(
                index=self.index_name,
                query={"terms": {"author": sorted(name.lower() for name in users.values())}},
                refresh=True,
                conflicts="proceed",
            )
        )
        await self.users.erase(list(users))

    async def update_engagement(self, counts: Mapping[int, Counts]) -> None:
        operations = []
        for tweet_id, tweet_counts in counts.items():
            operations += [
                {"update": {"_index": self.index_name, "_id": str(tweet_id)}},
                {"doc": _counts(tweet_counts)},
            ]
        await self._bulk(operations)

    async def index_users(self, users: Sequence[UserDocument]) -> None:
        await self.users.write(users)

    async def user_candidates(self, query: UserQuery, count: int) -> list[UserHit]:
        return await self.users.candidates(query, count)

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

    async def _ranked(
        self, query: SearchQuery, as_of_ms: int, count: int, personal: Personal | None
    ) -> list[SearchHit]:
        response = await self._call(
            self.client.search(
                index=self.alias,
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

    async def _bulk(self, operations: list[dict]) -> None:
        if not operations:
            return
        response = await self._call(self.client.bulk(operations=operations, refresh=self.refresh))
        if not response["errors"]:
            return
        for item in response["items"]:
            ((action, result),) = item.items()
            # Deleting or updating a tweet that is not indexed is not an error here.
            if "error" in result and not (
                action in ("delete", "update") and result["status"] == 404
            ):
                raise SearchEngineError(
                    f"elasticsearch {action} {result['_id']}: {result['error']}"
                )

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
