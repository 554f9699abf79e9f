"""Every Redis client of Chirp, built here: a standalone server's (`CHIRP_REDIS_URL`) or a
Redis / Valkey Cluster's (`CHIRP_REDIS_CLUSTER_NODES`).

redis-py's cluster clients speak the same commands. Their pipelines send each node its
commands at once, all nodes side by side (one round trip per node the pipeline needs), and
route a script call by its keys: the keys of one call must share a slot (projections/
redis_keys.py tags them), and a call over keys that need not be together, such as a push
into many timelines, is split per slot first (`by_slot`). A transaction's keys share a slot.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import redis
import redis.cluster
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot

from infra.settings import Settings


def cluster_nodes(spec: str) -> list[tuple[str, int]]:
    """ "host:port,host:port" as (host, port) pairs."""
    nodes = []
    for item in spec.split(","):
        if item.strip():
            host, _, port = item.strip().rpartition(":")
            nodes.append((host or "127.0.0.1", int(port)))
    return nodes


class _Cluster(RedisCluster):
    """redis-py's asyncio cluster client, initialised before its first command is routed.

    redis-py 7.4 chooses a command's nodes before it reads the cluster's slots on first use:
    a command sent while the client has no slots yet goes to a random node, answered MOVED.
    When several first commands run at once (a burst of logins on a fresh API process), the
    fifth MOVED makes the client close every connection, under the commands still running on
    them ("Connection closed by server"). Reading the slots first routes every command right.
    Pipelines initialise first already."""

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        await self.initialize()  # returns at once once the slots are read
        return await super().execute_command(*args, **kwargs)


def async_redis(settings: Settings, **options: Any) -> Redis:
    """An asyncio client of the settings' Redis: a cluster client when they name a cluster
    (typed as Redis: it offers the same commands)."""
    if settings.redis_cluster_nodes:
        nodes = [
            ClusterNode(host, port) for host, port in cluster_nodes(settings.redis_cluster_nodes)
        ]
        return cast(Redis, _Cluster(startup_nodes=nodes, **options))
    return Redis.from_url(settings.redis, **options)


def sync_redis(settings: Settings, **options: Any) -> redis.Redis:
    """A blocking client of the settings' Redis (tools, tests, benchmarks)."""
    if settings.redis_cluster_nodes:
        nodes = [
            redis.cluster.ClusterNode(host, port)
            for host, port in cluster_nodes(settings.redis_cluster_nodes)
        ]
        return cast(redis.Redis, redis.cluster.RedisCluster(startup_nodes=nodes, **options))
    return redis.Redis.from_url(settings.redis, **options)


def throttled_server(settings: Settings) -> str:
    """The server as throttled-py's RedisStore names it."""
    if settings.redis_cluster_nodes:
        return "redis+cluster://" + ",".join(
            f"{host}:{port}" for host, port in cluster_nodes(settings.redis_cluster_nodes)
        )
    return settings.redis


def is_cluster(client: object) -> bool:
    return isinstance(client, RedisCluster | redis.cluster.RedisCluster)


def by_slot(client: object, keys: Iterable[str]) -> list[list[str]]:
    """`keys` in groups that share a slot, in their order: one group but on a cluster."""
    keys = list(keys)
    if not is_cluster(client):
        return [keys] if keys else []
    groups: dict[int, list[str]] = {}
    for key in keys:
        groups.setdefault(key_slot(key.encode()), []).append(key)
    return list(groups.values())
