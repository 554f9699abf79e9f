"""The media read model in PostgreSQL, beside the tweets of its generation: each upload's
type, size, alt text and renditions, and the tweet it is attached to (docs/media.md)."""

from __future__ import annotations

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from projections.media_attachments import StoredMedia, attachment
from projections.media_plan import MediaPlan
from projections.postgres_store import PostgresStore, columns_of

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.media (
    media_id   bigint PRIMARY KEY,
    owner_id   bigint NOT NULL,
    media_type text,            -- null until its MediaUploaded is applied
    width      integer,
    height     integer,
    alt_text   text NOT NULL DEFAULT '',
    renditions jsonb,           -- name -> rendition; null until processed
    tweet_id   bigint,
    position   smallint,
    removed    boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS media_by_tweet ON {schema}.media (tweet_id, position)
    WHERE tweet_id IS NOT NULL;
-- An owner's uploads: what an account's deletion removes (projections/postgres_erasure.py).
CREATE INDEX IF NOT EXISTS media_by_owner ON {schema}.media (owner_id);
"""


def _stored(media_id, media_type, width, height, alt_text, renditions) -> StoredMedia:
    return StoredMedia(media_id, media_type, width, height, alt_text, renditions)


class PostgresMedia(PostgresStore):
    schema_sql = SCHEMA_SQL

    def __init__(self, pool: AsyncConnectionPool, schema: str, base_url: str) -> None:
        """`base_url`: what a public file's key is appended to (infra.object_stores)."""
        super().__init__(pool, schema)
        self.base_url = base_url

    def rendered(self, stored: dict[int, list[StoredMedia]]) -> dict[int, list[dict]]:
        """Each tweet's attachments as the API shows them."""
        return {
            tweet_id: [attachment(m, self.base_url) for m in media]
            for tweet_id, media in stored.items()
        }

    async def write(self, conn, plan: MediaPlan) -> set[int]:
        """Apply `plan` in the batch's transaction; the tweets whose attachments changed
        (to render again), but for those posted in the batch."""
        table = f"{self.schema}.media"
        changed: set[int] = set()

        async def upsert(columns: str, types: str, rows: list[tuple], sets: str) -> None:
            if not rows:
                return
            names = columns.split(", ")
            cursor = await conn.execute(
                f"INSERT INTO {table} ({columns})"
                f" SELECT * FROM unnest({types}) ORDER BY 1"
                f" ON CONFLICT (media_id) DO UPDATE SET {sets} RETURNING tweet_id",
                columns_of(sorted(rows), len(names)),
            )
            changed.update(row[0] for row in await cursor.fetchall() if row[0] is not None)

        await upsert(
            "media_id, owner_id, media_type, width, height",
            "%s::bigint[], %s::bigint[], %s::text[], %s::integer[], %s::integer[]",
            [(m, e.owner_id, e.media_type, e.width, e.height) for m, e in plan.uploaded.items()],
            "media_type = excluded.media_type, width = excluded.width, height = excluded.height",
        )
        await upsert(
            "media_id, owner_id, renditions",
            "%s::bigint[], %s::bigint[], %s::jsonb[]",
            [
                (m, e.owner_id, Jsonb({r.name: r.model_dump() for r in e.renditions}))
                for m, e in plan.processed.items()
            ],
            "renditions = excluded.renditions",
        )
        await upsert(
            "media_id, owner_id, alt_text",
            "%s::bigint[], %s::bigint[], %s::text[]",
            [(m, e.owner_id, e.alt_text) for m, e in plan.described.items()],
            "alt_text = excluded.alt_text",
        )
        await upsert(
            "media_id, owner_id, tweet_id, position",
            "%s::bigint[], %s::bigint[], %s::bigint[], %s::smallint[]",
            [(m, *attached) for m, attached in plan.attached.items()],
            "tweet_id = excluded.tweet_id, position = excluded.position",
        )
        await upsert(
            "media_id, owner_id, removed",
            "%s::bigint[], %s::bigint[], %s::boolean[]",
            [(m, owner, True) for m, owner in plan.deleted.items()],
            "removed = true",
        )
        return changed - plan.posted

    async def attachments(self, tweet_ids: list[int], conn=None) -> dict[int, list[StoredMedia]]:
        """Each tweet's uploads shown (uploaded, not removed) in order; [] for a tweet with
        none. `conn`: the batch's transaction, else one of the pool's."""
        found: dict[int, list[StoredMedia]] = {tweet_id: [] for tweet_id in tweet_ids}
        if not tweet_ids:
            return found
        sql = (
            "SELECT tweet_id, media_id, media_type, width, height, alt_text, renditions"
            f" FROM {self.schema}.media WHERE tweet_id = ANY(%s) AND NOT removed"
            " AND media_type IS NOT NULL ORDER BY tweet_id, position"
        )
        if conn is None:
            async with self.pool.connection() as own:
                rows = await (await own.execute(sql, (list(tweet_ids),))).fetchall()
        else:
            rows = await (await conn.execute(sql, (list(tweet_ids),))).fetchall()
        for tweet_id, *media in rows:
            found[tweet_id].append(_stored(*media))
        return found
