"""Users in a tantivy index of their own, beside the tweets' (a `users` directory inside the
tweet index's, so a generation is still one directory): matched by projections/user_search's
tiers, as constant-score clauses."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import tantivy
from tantivy import Filter, Occur, Query, TextAnalyzerBuilder, Tokenizer

from projections.search import SearchEngineError
from projections.search_ranking import TOKEN_PATTERN
from projections.tantivy_commits import commit_batch, open_writer
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

USER_NAME = "user_name"
WRITER_HEAP_BYTES = 15_000_000  # tantivy's minimum per indexing thread


def user_name_analyzer() -> tantivy.TextAnalyzer:
    """Display-name words: the tweets' tokens, lowercase and ASCII-folded, never stemmed (a
    name is not a word to conflate)."""
    return (
        TextAnalyzerBuilder(Tokenizer.regex(TOKEN_PATTERN))
        .filter(Filter.lowercase())
        .filter(Filter.ascii_fold())
        .build()
    )


def user_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("user_id", stored=True, indexed=True, fast=True)
    builder.add_text_field("username", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field(
        "display_name", stored=True, tokenizer_name=USER_NAME, index_option="basic"
    )
    return builder.build()


class TantivyUserIndex:
    """The users of one search generation, in `directory`; writable by one process."""

    def __init__(self, directory: Path, *, writable: bool) -> None:
        self.directory = directory
        self.writable = writable
        self.schema = user_schema()
        self._index: tantivy.Index | None = None
        self._writer: tantivy.IndexWriter | None = None
        self._write_lock = threading.Lock()

    def open(self) -> None:
        """Open (or create) the index: call on a worker thread."""
        if self._index is not None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        index = tantivy.Index(self.schema, path=str(self.directory), reuse=True)
        index.register_tokenizer(USER_NAME, user_name_analyzer())
        if self.writable:
            self._writer = open_writer(index, self.directory, WRITER_HEAP_BYTES)
        self._index = index

    def close(self) -> None:
        with self._write_lock:
            if self._writer is not None:
                self._writer.wait_merging_threads()
            self._writer = self._index = None

    def write(self, users: Sequence[UserDocument]) -> None:
        """Add or replace `users` in one commit (the last version of a user wins)."""
        if not users:
            return
        if self._writer is None or self._index is None:
            raise SearchEngineError("this tantivy user index is not open for writing")

        def replace(writer: tantivy.IndexWriter) -> None:
            for user in users:
                writer.delete_documents_by_query(
                    Query.term_query(self.schema, "user_id", user.user_id)
                )
                writer.add_document(
                    tantivy.Document.from_dict(
                        {
                            "user_id": user.user_id,
                            "username": user.username.lower(),
                            "display_name": user.display_name,
                        },
                        self.schema,
                    )
                )

        with self._write_lock:
            commit_batch(self._index, self._writer, replace)

    def erase(self, user_ids: Sequence[int]) -> None:
        """Remove these users in one commit."""
        if not user_ids:
            return
        if self._writer is None or self._index is None:
            raise SearchEngineError("this tantivy user index is not open for writing")

        def delete(writer: tantivy.IndexWriter) -> None:
            for user_id in user_ids:
                writer.delete_documents_by_query(Query.term_query(self.schema, "user_id", user_id))

        with self._write_lock:
            commit_batch(self._index, self._writer, delete)

    def candidates(self, query: UserQuery, count: int) -> list[UserHit]:
        """The `count` best text matches, by score then id."""
        if self._index is None:
            raise SearchEngineError(f"the user index at {self.directory} is not open")
        try:
            self._index.reload()  # the agent may have committed since
            searcher = self._index.searcher()
            found = searcher.search(self._query(query), limit=count, count=False).hits
            ids = cast(
                list[int],
                searcher.fast_field_values("user_id", [address for _, address in found]),
            )
        except ValueError as error:
            raise SearchEngineError(f"tantivy: {error}") from error
        hits = [UserHit(user_id, score) for (score, _), user_id in zip(found, ids, strict=True)]
        return sorted(hits, key=lambda hit: (-hit.score, hit.user_id))

    def _query(self, query: UserQuery) -> Query:
        return Query.boolean_query([(Occur.Must, self._token(token)) for token in query.tokens])

    def _token(self, token: str) -> Query:
        """The best tier this token reaches on either field."""
        tiers = [
            (Query.term_query(self.schema, "username", token), EXACT_USERNAME),
            (Query.term_query(self.schema, "display_name", token), EXACT_NAME),
        ]
        for field in ("username", "display_name"):
            tiers.append(
                (Query.fuzzy_term_query(self.schema, field, token, distance=0, prefix=True), PREFIX)
            )
            if distance := typo_distance(token):
                tiers.append(
                    (Query.fuzzy_term_query(self.schema, field, token, distance=distance), TYPO)
                )
        return Query.disjunction_max_query(
            [Query.const_score_query(clause, score) for clause, score in tiers]
        )
