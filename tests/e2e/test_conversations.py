"""Conversations, quote tweets and entities through the API, on the real stack: a thread
comes back in order from any tweet in it, a quote embeds what it quotes and counts, and
mentions resolve to the users they named."""

from __future__ import annotations

import uuid

from tests.support.clients import eventually, home, post, register


def _get(client, path: str, user, **params) -> dict:
    response = client.get(path, headers=user.auth, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _context(client, tweet_id: str, user, **params) -> dict:
    return _get(client, f"/api/v1/tweets/{tweet_id}/context", user, **params)


def _ids(items: list[dict]) -> list[str]:
    return [item["tweet_id"] for item in items]


def test_a_thread_comes_back_in_order_from_any_tweet_in_it_with_paged_descendants(client):
    author = register(client, "thr")
    root = post(client, author, "root of the thread")
    reply = post(client, author, "a reply", reply_to=root)
    deep = post(client, author, "a reply to the reply", reply_to=reply)
    sibling = post(client, author, "a second reply to the root", reply_to=root)
    late = post(client, author, "a later reply to the reply", reply_to=reply)
    # Depth first, siblings oldest first: not the order of posting.
    everything = [reply, deep, late, sibling]

    from_root = _context(client, root, author)
    assert from_root["ancestors"] == [] and from_root["tweet"]["tweet_id"] == root
    assert _ids(from_root["descendants"]) == everything and from_root["next_cursor"] is None
    assert from_root["tweet"]["reply_count"] == 2

    from_middle = _context(client, reply, author)
    assert _ids(from_middle["ancestors"]) == [root]
    assert _ids(from_middle["descendants"]) == [deep, late]

    from_leaf = _context(client, deep, author)
    assert _ids(from_leaf["ancestors"]) == [root, reply]
    assert from_leaf["ancestors"][1]["reply_to"] == root
    assert from_leaf["tweet"]["content"] == "a reply to the reply"
    assert from_leaf["descendants"] == [] and from_leaf["next_cursor"] is None

    pages, cursor = [], None
    while True:
        page = _context(client, root, author, limit=3, **({"cursor": cursor} if cursor else {}))
        assert _ids(page["ancestors"]) == [] and page["tweet"]["tweet_id"] == root
        pages.append(_ids(page["descendants"]))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [[reply, deep, late], [sibling]]

    assert client.delete(f"/api/v1/tweets/{reply}", headers=author.auth).status_code == 204
    after = _context(client, deep, author)
    assert after["ancestors"][0]["tweet_id"] == root
    assert after["ancestors"][1] == {"tweet_id": reply, "unavailable": True, "reply_to": root}
    below_root = _context(client, root, author)["descendants"]
    assert _ids(below_root) == everything and below_root[0]["unavailable"] is True
    assert client.get(f"/api/v1/tweets/{reply}/context", headers=author.auth).status_code == 404
    missing = client.get("/api/v1/tweets/123456789/context", headers=author.auth)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_a_quote_embeds_the_quoted_tweet_counts_and_shows_it_unavailable_once_deleted(client):
    author, quoter = register(client, "qtd"), register(client, "qtr")
    word = "qz" + uuid.uuid4().hex[:10]
    quoted = post(client, author, "worth quoting")
    assert _get(client, f"/api/v1/tweets/{quoted}", author)["quote_count"] == 0
    quote = post(client, quoter, f"so true {word}", quote_of=quoted)

    shown = _get(client, f"/api/v1/tweets/{quote}", quoter)
    assert shown["quote_of"] == quoted and shown["quote_count"] == 0
    embedded = shown["quoted_tweet"]
    assert embedded["tweet_id"] == quoted and embedded["content"] == "worth quoting"
    assert embedded["user"]["id"] == author.user_id and embedded["quote_count"] == 1
    assert "quoted_tweet" not in embedded  # one level deep
    assert _get(client, f"/api/v1/tweets/{quoted}", quoter)["quote_count"] == 1
    quotes = _get(client, f"/api/v1/tweets/{quoted}/quotes", quoter)
    assert _ids(quotes["tweets"]) == [quote]

    # Every rendering: the home and user timelines (read twice: filled, then from the
    # caches in one round trip) and search hits.
    for _ in range(2):
        [on_home] = [t for t in home(client, quoter)["tweets"] if t["tweet_id"] == quote]
        assert on_home["quoted_tweet"] == embedded
        own = _get(client, f"/api/v1/users/{quoter.user_id}/tweets", quoter)["tweets"]
        assert own[0]["quoted_tweet"]["tweet_id"] == quoted

    def found():
        hits = _get(client, "/api/v1/search", quoter, q=word)["tweets"]
        return hits and hits[0]["quoted_tweet"]["tweet_id"] == quoted

    assert eventually(found, timeout=15)

    assert client.delete(f"/api/v1/tweets/{quoted}", headers=author.auth).status_code == 204
    gone = {"tweet_id": quoted, "unavailable": True}

    def unavailable():
        return _get(client, f"/api/v1/tweets/{quote}", quoter)["quoted_tweet"] == gone

    assert eventually(unavailable, timeout=10)
    for _ in range(2):
        [on_home] = [t for t in home(client, quoter)["tweets"] if t["tweet_id"] == quote]
        assert on_home["quoted_tweet"] == gone


def test_deleting_a_quote_takes_its_count_back(client):
    author = register(client, "qdl")
    quoted = post(client, author, "quoted, then not")
    quote = post(client, author, "quoting", quote_of=quoted)
    assert _get(client, f"/api/v1/tweets/{quoted}", author)["quote_count"] == 1
    assert client.delete(f"/api/v1/tweets/{quote}", headers=author.auth).status_code == 204
    assert _get(client, f"/api/v1/tweets/{quoted}", author)["quote_count"] == 0
    assert _get(client, f"/api/v1/tweets/{quoted}/quotes", author)["tweets"] == []


def test_entities_carry_resolved_mentions_with_ids_and_no_unknown_names(client):
    author, named = register(client, "men"), register(client, "nmd")
    ghost = "ghost" + uuid.uuid4().hex[:8]
    tweet_id = post(
        client, author, f"hi @{named.username.upper()} and @{ghost} about #Chirp and #chirp"
    )
    plain = post(client, author, "nothing to link")
    expected = {
        "hashtags": ["chirp"],
        "mentions": [{"username": named.username, "user_id": named.user_id}],
    }
    assert _get(client, f"/api/v1/tweets/{tweet_id}", author)["entities"] == expected
    for _ in range(2):
        rendered = {t["tweet_id"]: t for t in home(client, author)["tweets"]}
        assert rendered[tweet_id]["entities"] == expected
        assert rendered[plain]["entities"] == {"hashtags": [], "mentions": []}
