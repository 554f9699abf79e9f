"""User search's contract, one class run against each adapter: tantivy, and the Elasticsearch
adapter on the API stand-in (osmem-server; a real Elasticsearch with CHIRP_ELASTICSEARCH_URL).
Both must find the same users with the same text scores (projections/user_search's tiers)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from projections.elasticsearch_search import ElasticsearchSearchIndex, elasticsearch_client
from projections.tantivy_search import TantivySearchIndex
from projections.user_search import (
    EXACT_NAME,
    EXACT_USERNAME,
    PREFIX,
    TYPO,
    UserDocument,
    UserHit,
    parse_user_query,
)
from tests.integration.conftest import NO_REAL_ELASTICSEARCH, REAL_ELASTICSEARCH_URL

USERS = [
    UserDocument(1, "Ada_Lovelace", "Ada Lovelace"),
    UserDocument(2, "adam", "Adam Smith"),
    UserDocument(3, "bob", "Böb Lovelance"),
    UserDocument(4, "zed", "Zed"),
]


class UserSearchContract:
    @asynccontextmanager
    async def open_index(self, generation: int = 1):
        raise NotImplementedError
        yield

    def run(self, scenario) -> None:
        async def main():
            async with self.open_index() as index:
                await index.setup()
                await index.index_users(USERS)
                await scenario(index)

        asyncio.run(main())

    async def hits(self, index, q: str) -> list[UserHit]:
        return await index.user_candidates(parse_user_query(q), 100)

    def test_exact_beats_prefix_on_either_field(self):
        async def scenario(index):
            assert await self.hits(index, "ada") == [UserHit(1, EXACT_NAME), UserHit(2, PREFIX)]
            assert await self.hits(index, "@BOB") == [UserHit(3, EXACT_USERNAME)]
            assert await self.hits(index, "ada_lo") == [UserHit(1, PREFIX)]

        self.run(scenario)

    def test_typos_and_accents_are_forgiven_and_every_word_must_match(self):
        async def scenario(index):
            assert await self.hits(index, "lovelcae") == [UserHit(1, TYPO)]
            assert await self.hits(index, "lovelace") == [
                UserHit(1, EXACT_NAME),
                UserHit(3, TYPO),
            ]
            assert await self.hits(index, "bob lovelance") == [
                UserHit(3, EXACT_USERNAME + EXACT_NAME)
            ]
            assert await self.hits(index, "ada love") == [UserHit(1, EXACT_NAME + PREFIX)]
            assert await self.hits(index, "ada zed") == []
            assert await self.hits(index, "qqqq") == []

        self.run(scenario)

    def test_indexing_a_user_again_replaces_the_name_and_changes_nothing_else(self):
        async def scenario(index):
            await index.index_users([UserDocument(4, "zed", "Lovelace Fan")])
            await index.index_users([UserDocument(4, "zed", "Lovelace Fan")])
            assert await self.hits(index, "lovelace") == [
                UserHit(1, EXACT_NAME),
                UserHit(4, EXACT_NAME),
                UserHit(3, TYPO),
            ]
            assert await self.hits(index, "zed") == [UserHit(4, EXACT_USERNAME)]

        self.run(scenario)


class TestTantivyUserSearch(UserSearchContract):
    @asynccontextmanager
    async def open_index(self, generation: int = 1):
        directory = Path(tempfile.mkdtemp())
        index = TantivySearchIndex(directory / "index", writable=True)
        try:
            yield index
        finally:
            await index.close()
            shutil.rmtree(directory, ignore_errors=True)

    def test_a_read_only_process_sees_the_writers_commits(self):
        async def scenario(index):
            reader = TantivySearchIndex(index.directory)
            await reader.setup()
            try:
                assert await self.hits(reader, "zed") == [UserHit(4, EXACT_USERNAME)]
                await index.index_users([UserDocument(5, "zelda", "Zelda")])
                assert [hit.user_id for hit in await self.hits(reader, "ze")] == [4, 5]
            finally:
                await reader.close()

        self.run(scenario)


class ElasticsearchUserSearchContract(UserSearchContract):
    url: str
    api_stand_in: bool

    @asynccontextmanager
    async def open_index(self, generation: int = 1):
        alias = f"contract-{uuid.uuid4().hex[:8]}"
        client = elasticsearch_client(self.url, api_stand_in=self.api_stand_in)
        index = ElasticsearchSearchIndex(client, alias, generation=generation, refresh=True)
        try:
            yield index
        finally:
            await index.drop()
            await client.close()

    def test_a_dropped_generation_takes_its_users_along(self):
        async def scenario(index):
            users = index.users
            assert await index.client.indices.exists(index=users.index_name)
            await index.drop()
            assert not await index.client.indices.exists(index=users.index_name)

        self.run(scenario)


class TestElasticsearchUserSearchOnApiStandIn(ElasticsearchUserSearchContract):
    api_stand_in = True

    @pytest.fixture(autouse=True)
    def _server(self, elasticsearch_api_stand_in):
        self.url = elasticsearch_api_stand_in.url


@pytest.mark.skipif(not REAL_ELASTICSEARCH_URL, reason=NO_REAL_ELASTICSEARCH)
class TestElasticsearchUserSearch(ElasticsearchUserSearchContract):
    api_stand_in = False
    url = REAL_ELASTICSEARCH_URL or ""
