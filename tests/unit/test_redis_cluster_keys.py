"""The key layout a Redis Cluster needs, and the one client factory (infra/redis_clients.py)."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from infra.redis_clients import async_redis, by_slot, cluster_nodes, sync_redis, throttled_server
from infra.settings import Settings
from projections.redis_keys import ID_SLOT, RedisKeys

KEYS = RedisKeys()
G2 = RedisKeys("chirp:g2:", root="chirp:", trends_generation=2)


def slot(key: str) -> int:
    return key_slot(key.encode())


def test_a_users_keys_share_a_slot() -> None:
    for keys in (KEYS, G2):
        user = [
            keys.home(42),
            keys.build_lock(keys.home(42)),
            keys.recent(42),
            keys.build_lock(keys.recent(42)),
            keys.following(42),
            keys.hidden(42),
            keys.muted(42),
            keys.liked(42),
            keys.retweeted(42),
            keys.user(42),
            keys.last_write(42),
        ]
        assert {slot(key) for key in user} == {slot(KEYS.home(42))}
    assert slot(KEYS.home(42)) != slot(KEYS.home(43))


def test_what_scripts_and_transactions_touch_together_shares_a_slot() -> None:
    assert slot(KEYS.position("core", "tweets", 3)) == slot(KEYS.applied_events("core"))
    assert slot(KEYS.agent_workers("core")) == slot(KEYS.paused_workers("core", "chirp:", 2))
    assert slot(KEYS.trend_windows()) == slot(KEYS.trend_window(1_700_000_000_000))
    assert slot(G2.trend_windows()) == slot(G2.trend_window(1))
    assert slot(KEYS.tweet(7)) == slot(KEYS.tweet(7)) != slot(KEYS.tweet(8))


def test_the_page_scripts_templates_make_the_same_keys() -> None:
    head, tail = KEYS.recent(ID_SLOT).split(ID_SLOT)
    assert head + "42" + tail == KEYS.recent(42)
    head, tail = KEYS.tweet(ID_SLOT).split(ID_SLOT)
    assert head + "7" + tail == KEYS.tweet(7)


def test_generation_1_still_tells_its_keys() -> None:
    assert KEYS.in_generation(KEYS.home(1)) and KEYS.in_generation(KEYS.tweet(1))
    for other in (KEYS.trend_windows(), KEYS.last_write(1), KEYS.agent_workers("core")):
        assert not KEYS.in_generation(other)
    assert not KEYS.in_generation(G2.home(1))


def test_keys_split_per_slot_only_on_a_cluster() -> None:
    keys = [KEYS.home(n) for n in range(50)]
    standalone = Redis()
    assert by_slot(standalone, keys) == [keys]
    cluster = RedisCluster(host="127.0.0.1", port=1)  # not connected until used
    groups = by_slot(cluster, keys)
    assert sorted(key for group in groups for key in group) == sorted(keys)
    assert all(len({slot(key) for key in group}) == 1 for group in groups)
    assert by_slot(standalone, []) == []


def test_the_cluster_nodes_setting_selects_cluster_clients() -> None:
    assert cluster_nodes("10.0.0.1:7000, 10.0.0.2:7001,") == [
        ("10.0.0.1", 7000),
        ("10.0.0.2", 7001),
    ]
    standalone = Settings(redis_url="redis://127.0.0.1:6390/0")
    assert type(async_redis(standalone)) is Redis
    assert type(sync_redis(standalone)).__name__ == "Redis"
    assert throttled_server(standalone) == "redis://127.0.0.1:6390/0"
    cluster = Settings(redis_cluster_nodes="127.0.0.1:7000,127.0.0.1:7001")
    assert isinstance(async_redis(cluster), RedisCluster)  # connects when first used
    # (the blocking cluster client connects as it is made: the cluster tests make those)
    assert throttled_server(cluster) == "redis+cluster://127.0.0.1:7000,127.0.0.1:7001"
