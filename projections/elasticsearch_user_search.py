"""Users in an Elasticsearch index of their own, beside the tweets': `<alias>-users-v<generation>`
read through the alias `<alias>-users`, matched by projections/user_search's tiers as
constant-score clauses (so the text score is the same number as on tantivy)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from elasticsearch import AsyncElasticsearch, BadRequestError

from projections.search import SearchEngineError
from projections.search_ranking import TOKEN_PATTERN
from projections.user_search import (
    EXACT_NAME,
    EXACT_USERNAME,
    PREFIX,
    TYPO,
    UserDocument,
    UserHit,
    UserQuery,
    typo_distance,
)

USER_SETTINGS = {
    "analysis": {
        "tokenizer": {"name_tokens": {"type": "pattern", "pattern": TOKEN_PATTERN, "group": 0}},
        "analyzer": {
            # Display-name words: lowercase and ASCII-folded, never stemmed.
            "user_name": {
                "type": "custom",
                "tokenizer": "name_tokens",
                "filter": ["lowercase", "asciifolding"],
            }
        },
    },
}
USER_MAPPINGS = {
    "dynamic": "strict",
    "properties": {
        "user_id": {"type": "long"},
        "username": {"type": "keyword"},  # lowercased
        "display_name": {"type": "text", "analyzer": "user_name"},
    },
}

# Awaits an Elasticsearch request, turning its failures into SearchEngineError.
Call = Callable[[Awaitable[Any]], Awaitable[Any]]


class ElasticsearchUserIndex:
    def __init__(
        self, client: AsyncElasticsearch, alias: str, generation: int, refresh: bool, call: Call
    ) -> None:
        self.client, self.refresh, self.call = client, refresh, call
        self.alias = f"{alias}-users"
        self.index_name = f"{self.alias}-v{generation}"

    async def setup(self) -> None:
        try:
            await self.call(
                self.client.indices.create(
                    index=self.index_name, settings=USER_SETTINGS, mappings=USER_MAPPINGS
                )
            )
        except SearchEngineError as error:
            if not isinstance(error.__cause__, BadRequestError) or (
                "resource_already_exists_exception" not in str(error)
            ):
                raise
        if not await self.call(self.client.indices.exists_alias(name=self.alias)):
            await self.call(self.client.indices.put_alias(index=self.index_name, name=self.alias))

    async def promote(self) -> None:
        current = await self.call(self.client.indices.get_alias(name=self.alias))
        actions = [{"remove": {"index": index, "alias": self.alias}} for index in current]
        actions.append({"add": {"index": self.index_name, "alias": self.alias}})
        await self.call(self.client.indices.update_aliases(actions=actions))

    async def drop(self) -> None:
        await self.call(self.client.indices.delete(index=self.index_name, ignore_unavailable=True))

    async def write(self, users: Sequence[UserDocument]) -> None:
        """Add or replace `users` in one `_bulk`."""
        if not users:
            return
        operations: list[dict] = []
        for user in users:
            operations += [
                {"index": {"_index": self.index_name, "_id": str(user.user_id)}},
                {
                    "user_id": user.user_id,
                    "username": user.username.lower(),
                    "display_name": user.display_name,
                },
            ]
        response = await self.call(self.client.bulk(operations=operations, refresh=self.refresh))
        if response["errors"]:
            failed = [item["index"] for item in response["items"] if "error" in item["index"]]
            raise SearchEngineError(f"elasticsearch: users not indexed: {failed[:3]}")

    async def erase(self, user_ids: Sequence[int]) -> None:
        """Remove these users in one `_bulk` (unknown ones are ignored)."""
        if not user_ids:
            return
        operations = [
            {"delete": {"_index": self.index_name, "_id": str(user_id)}} for user_id in user_ids
        ]
        response = await self.call(self.client.bulk(operations=operations, refresh=self.refresh))
        failed = [
            item["delete"]
            for item in response["items"]
            if "error" in item["delete"] and item["delete"]["status"] != 404
        ]
        if failed:
            raise SearchEngineError(f"elasticsearch: users not erased: {failed[:3]}")

    async def candidates(self, query: UserQuery, count: int) -> list[UserHit]:
        response = await self.call(
            self.client.search(
                index=self.alias,
                query=user_query(query),
                sort=[{"_score": "desc"}, {"user_id": "asc"}],
                size=count,
                source=False,
                track_total_hits=False,
            )
        )
        return [UserHit(int(hit["_id"]), float(hit["_score"])) for hit in response["hits"]["hits"]]


def user_query(query: UserQuery) -> dict:
    """Every token must match; each scores the best tier it reaches on either field."""
    return {"bool": {"must": [_token(token) for token in query.tokens]}}


def _token(token: str) -> dict:
    tiers: list[tuple[dict, float]] = [
        ({"term": {"username": token}}, EXACT_USERNAME),
        ({"term": {"display_name": token}}, EXACT_NAME),
    ]
    for field in ("username", "display_name"):
        tiers.append(({"prefix": {field: token}}, PREFIX))
        if distance := typo_distance(token):
            tiers.append(({"fuzzy": {field: {"value": token, "fuzziness": distance}}}, TYPO))
    return {
        "dis_max": {
            "queries": [
                {"constant_score": {"filter": clause, "boost": score}} for clause, score in tiers
            ]
        }
    }
