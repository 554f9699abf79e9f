"""A table of bad requests: each gets the right 4xx problem+json, never a 500, and no event."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import jwt
import pytest

from schemas import events as ev
from tests.support.clients import PASSWORD, register


@dataclass
class Case:
    name: str
    method: str
    path: str  # may name {victim}, {attacker}, {tweet}, {deleted}
    status: int
    json: object = None
    content: bytes | None = None
    headers: dict = field(default_factory=dict)
    auth: str | None = "attacker"  # whose token, or a key of the crafted tokens
    content_type: str = "application/json"


# Usernames that bad registrations try: none of them may ever be registered.
BAD_NAMES = ["bad_reg_0", "bad_reg_1", "bad_reg_2", "bad_reg_3", "bad_reg_4", "bad_reg_5"]
GOOD_REG = {"display_name": "Bad Actor", "password": PASSWORD}
MEDIA = {"content_type": "image/jpeg", "byte_size": 1000}

CASES = [
    # registration
    Case("register: empty object", "POST", "/api/v1/users", 422, json={}, auth=None),
    Case(
        "register: malformed JSON", "POST", "/api/v1/users", 400, content=b'{"username":', auth=None
    ),
    Case("register: JSON array", "POST", "/api/v1/users", 422, json=[], auth=None),
    Case(
        "register: username is a number",
        "POST",
        "/api/v1/users",
        422,
        json=GOOD_REG | {"username": 12345},
        auth=None,
    ),
    Case(
        "register: username of 16 characters",
        "POST",
        "/api/v1/users",
        422,
        json=GOOD_REG | {"username": "a" * 16},
        auth=None,
    ),
    Case(
        "register: username with a space",
        "POST",
        "/api/v1/users",
        422,
        json=GOOD_REG | {"username": "bad reg"},
        auth=None,
    ),
    Case(
        "register: username taken, other case",
        "POST",
        "/api/v1/users",
        409,
        json=GOOD_REG | {"username": "{victim_upper}"},
        auth=None,
    ),
    Case(
        "register: password too short",
        "POST",
        "/api/v1/users",
        422,
        json=GOOD_REG | {"username": BAD_NAMES[0], "password": "short"},
        auth=None,
    ),
    Case(
        "register: control character in display name",
        "POST",
        "/api/v1/users",
        422,
        json=GOOD_REG | {"username": BAD_NAMES[1], "display_name": "evil\x1b[2J"},
        auth=None,
    ),
    Case(
        "register: unknown field",
        "POST",
        "/api/v1/users",
        422,
        json=GOOD_REG | {"username": BAD_NAMES[2], "is_admin": True},
        auth=None,
    ),
    Case(
        "register: bio of 161 characters",
        "POST",
        "/api/v1/users",
        422,
        json=GOOD_REG | {"username": BAD_NAMES[3], "bio": "b" * 161},
        auth=None,
    ),
    Case(
        "register: text/plain body",
        "POST",
        "/api/v1/users",
        415,
        content=b'{"username":"bad_reg_4","display_name":"x","password":"long enough"}',
        content_type="text/plain",
        auth=None,
    ),
    Case(
        "register: 10 MB body",
        "POST",
        "/api/v1/users",
        413,
        content=b'{"username":"bad_reg_5","bio":"' + b"x" * 10_000_000 + b'"}',
        auth=None,
    ),
    # login
    Case(
        "login: wrong password",
        "POST",
        "/api/v1/auth/token",
        401,
        json={"username": "{victim_name}", "password": "not the password"},
        auth=None,
    ),
    Case(
        "login: unknown user",
        "POST",
        "/api/v1/auth/token",
        401,
        json={"username": "nobody_here_x", "password": PASSWORD},
        auth=None,
    ),
    # posting
    Case("post: empty content", "POST", "/api/v1/tweets", 422, json={"content": ""}),
    Case("post: 281 code points", "POST", "/api/v1/tweets", 422, json={"content": "a" * 281}),
    Case("post: 281 emoji", "POST", "/api/v1/tweets", 422, json={"content": "🐦" * 281}),
    Case("post: only white space", "POST", "/api/v1/tweets", 422, json={"content": " \n \n "}),
    Case("post: NUL character", "POST", "/api/v1/tweets", 422, json={"content": "a\x00b"}),
    Case("post: terminal escape", "POST", "/api/v1/tweets", 422, json={"content": "\x1b[31mred"}),
    Case(
        "post: unpaired surrogate",
        "POST",
        "/api/v1/tweets",
        422,
        content=b'{"content": "lone \\ud800 half"}',
    ),
    Case("post: content is a number", "POST", "/api/v1/tweets", 422, json={"content": 42}),
    Case("post: content is null", "POST", "/api/v1/tweets", 422, json={"content": None}),
    Case(
        "post: reply to an unknown tweet",
        "POST",
        "/api/v1/tweets",
        422,
        json={"content": "hi", "reply_to": "123456789"},
    ),
    Case(
        "post: reply to a deleted tweet",
        "POST",
        "/api/v1/tweets",
        422,
        json={"content": "hi", "reply_to": "{deleted}"},
    ),
    Case(
        "post: quote of an unknown tweet",
        "POST",
        "/api/v1/tweets",
        422,
        json={"content": "hi", "quote_of": "123456789"},
    ),
    Case(
        "post: quote of a deleted tweet",
        "POST",
        "/api/v1/tweets",
        422,
        json={"content": "hi", "quote_of": "{deleted}"},
    ),
    Case(
        "post: quote_of not an id",
        "POST",
        "/api/v1/tweets",
        422,
        json={"content": "hi", "quote_of": "-5"},
    ),
    Case(
        "post: reply_to as a JSON number",
        "POST",
        "/api/v1/tweets",
        422,
        json={"content": "hi", "reply_to": 123456789},
    ),
    Case(
        "post: quote_of not an id",
        "POST",
        "/api/v1/tweets",
        422,
        json={"content": "hi", "quote_of": "not-an-id"},
    ),
    Case(
        "post: quote_of as a JSON number",
        "POST",
        "/api/v1/tweets",
        422,
        json={"content": "hi", "quote_of": 123456789},
    ),
    Case(
        "post: quote of an unknown tweet",
        "POST",
        "/api/v1/tweets",
        422,
        json={"content": "hi", "quote_of": "123456789"},
    ),
    Case(
        "post: quote of a deleted tweet",
        "POST",
        "/api/v1/tweets",
        422,
        json={"content": "hi", "quote_of": "{deleted}"},
    ),
    Case("post: no token", "POST", "/api/v1/tweets", 401, json={"content": "hi"}, auth=None),
    Case(
        "post: expired token", "POST", "/api/v1/tweets", 401, json={"content": "hi"}, auth="expired"
    ),
    Case(
        "post: token signed with another key",
        "POST",
        "/api/v1/tweets",
        401,
        json={"content": "hi"},
        auth="forged",
    ),
    Case(
        "post: unsigned token (alg none)",
        "POST",
        "/api/v1/tweets",
        401,
        json={"content": "hi"},
        auth="unsigned",
    ),
    Case(
        "post: token with another algorithm",
        "POST",
        "/api/v1/tweets",
        401,
        json={"content": "hi"},
        auth="hs512",
    ),
    Case(
        "post: garbage token", "POST", "/api/v1/tweets", 401, json={"content": "hi"}, auth="garbage"
    ),
    Case(
        "post: bad Idempotency-Key",
        "POST",
        "/api/v1/tweets",
        400,
        json={"content": "hi"},
        headers={"Idempotency-Key": "x" * 300},
    ),
    # tweets
    Case("delete another user's tweet", "DELETE", "/api/v1/tweets/{tweet}", 403),
    Case("delete an unknown tweet", "DELETE", "/api/v1/tweets/987654321", 404),
    Case("delete with a malformed id", "DELETE", "/api/v1/tweets/abc", 422),
    Case("delete with an id beyond 64 bits", "DELETE", "/api/v1/tweets/99999999999999999999", 422),
    Case("like an unknown tweet", "POST", "/api/v1/tweets/987654321/like", 404),
    Case("like a deleted tweet", "POST", "/api/v1/tweets/{deleted}/like", 404),
    Case("retweet an unknown tweet", "POST", "/api/v1/tweets/987654321/retweet", 404),
    Case("like without a token", "POST", "/api/v1/tweets/{tweet}/like", 401, auth=None),
    # conversations
    Case("context of an unknown tweet", "GET", "/api/v1/tweets/987654321/context", 404),
    Case("context of a deleted tweet", "GET", "/api/v1/tweets/{deleted}/context", 404),
    Case("context with a malformed id", "GET", "/api/v1/tweets/abc/context", 422),
    Case("context with a bad cursor", "GET", "/api/v1/tweets/{tweet}/context?cursor=%25%25", 422),
    Case("context with limit 0", "GET", "/api/v1/tweets/{tweet}/context?limit=0", 422),
    Case("context with limit 101", "GET", "/api/v1/tweets/{tweet}/context?limit=101", 422),
    Case("context with limit not a number", "GET", "/api/v1/tweets/{tweet}/context?limit=x", 422),
    Case("quotes of an unknown tweet", "GET", "/api/v1/tweets/987654321/quotes", 404),
    Case("quotes with a bad cursor", "GET", "/api/v1/tweets/{tweet}/quotes?cursor=abc", 422),
    # follows
    Case("follow yourself", "POST", "/api/v1/users/{attacker}/follow", 422),
    Case("follow an unknown user", "POST", "/api/v1/users/987654321/follow", 404),
    Case("unfollow an unknown user", "DELETE", "/api/v1/users/987654321/follow", 404),
    Case("follow with id zero", "POST", "/api/v1/users/0/follow", 422),
    # profile edits (PATCH /users/me)
    Case("profile: no token", "PATCH", "/api/v1/users/me", 401, json={"bio": "x"}, auth=None),
    Case(
        "profile: forged token", "PATCH", "/api/v1/users/me", 401, json={"bio": "x"}, auth="forged"
    ),
    Case(
        "profile: display name of 51 characters",
        "PATCH",
        "/api/v1/users/me",
        422,
        json={"display_name": "a" * 51},
    ),
    Case(
        "profile: empty display name", "PATCH", "/api/v1/users/me", 422, json={"display_name": ""}
    ),
    Case(
        "profile: blank display name", "PATCH", "/api/v1/users/me", 422, json={"display_name": "  "}
    ),
    Case(
        "profile: display name on two lines",
        "PATCH",
        "/api/v1/users/me",
        422,
        json={"display_name": "a\nb"},
    ),
    Case(
        "profile: bio of 161 characters", "PATCH", "/api/v1/users/me", 422, json={"bio": "b" * 161}
    ),
    Case(
        "profile: location of 31 characters",
        "PATCH",
        "/api/v1/users/me",
        422,
        json={"location": "l" * 31},
    ),
    Case(
        "profile: website not a URL", "PATCH", "/api/v1/users/me", 422, json={"website": "example"}
    ),
    Case(
        "profile: website not http(s)",
        "PATCH",
        "/api/v1/users/me",
        422,
        json={"website": "javascript:alert(1)"},
    ),
    Case(
        "profile: website of 101 characters",
        "PATCH",
        "/api/v1/users/me",
        422,
        json={"website": "https://example.com/" + "p" * 81},
    ),
    Case(
        "profile: website with a space",
        "PATCH",
        "/api/v1/users/me",
        422,
        json={"website": "https://exa mple.com"},
    ),
    Case("profile: unknown field", "PATCH", "/api/v1/users/me", 422, json={"username": "x"}),
    Case("profile: bio is a number", "PATCH", "/api/v1/users/me", 422, json={"bio": 5}),
    Case("profile: JSON array", "PATCH", "/api/v1/users/me", 422, json=[]),
    Case("profile: malformed JSON", "PATCH", "/api/v1/users/me", 400, content=b'{"bio":'),
    Case("my profile: no token", "GET", "/api/v1/users/me", 401, auth=None),
    # people: lookup, search, suggestions
    Case("lookup: username of 16 characters", "GET", "/api/v1/users/by/username/" + "a" * 16, 422),
    Case("lookup: username with a dot", "GET", "/api/v1/users/by/username/a.b", 422),
    Case("lookup: unknown username", "GET", "/api/v1/users/by/username/nobody_here_x", 404),
    Case("user search: no q", "GET", "/api/v1/users/search", 422),
    Case("user search: empty q", "GET", "/api/v1/users/search?q=", 422),
    Case("user search: q of symbols only", "GET", "/api/v1/users/search?q=%21%21%21", 422),
    Case("user search: q of 101 characters", "GET", "/api/v1/users/search?q=" + "a" * 101, 422),
    Case("user search: limit 0", "GET", "/api/v1/users/search?q=ab&limit=0", 422),
    Case("user search: limit 101", "GET", "/api/v1/users/search?q=ab&limit=101", 422),
    Case("user search: limit not a number", "GET", "/api/v1/users/search?q=ab&limit=x", 422),
    Case("user search: foreign cursor", "GET", "/api/v1/users/search?q=ab&cursor=abc", 422),
    Case("suggestions: no token", "GET", "/api/v1/users/suggestions", 401, auth=None),
    Case("suggestions: limit 0", "GET", "/api/v1/users/suggestions?limit=0", 422),
    Case("suggestions: limit 101", "GET", "/api/v1/users/suggestions?limit=101", 422),
    # notifications
    Case("notifications: no token", "GET", "/api/v1/notifications", 401, auth=None),
    Case("notifications: unknown type", "GET", "/api/v1/notifications?types=poke", 422),
    Case("notifications: empty type", "GET", "/api/v1/notifications?types=like,", 422),
    Case("notifications: foreign cursor", "GET", "/api/v1/notifications?cursor=abc", 422),
    Case("notifications: limit 0", "GET", "/api/v1/notifications?limit=0", 422),
    Case("unread count: no token", "GET", "/api/v1/notifications/unread_count", 401, auth=None),
    Case("mark read: no token", "POST", "/api/v1/notifications/read", 401, json={}, auth=None),
    Case(
        "mark read: up_to not an id",
        "POST",
        "/api/v1/notifications/read",
        422,
        json={"up_to": "soon"},
    ),
    Case(
        "mark read: up_to as a JSON number",
        "POST",
        "/api/v1/notifications/read",
        422,
        json={"up_to": 5},
    ),
    Case("mark read: unknown field", "POST", "/api/v1/notifications/read", 422, json={"all": 1}),
    Case("mark read: JSON array", "POST", "/api/v1/notifications/read", 422, json=[]),
    Case(
        "mark read: not JSON",
        "POST",
        "/api/v1/notifications/read",
        415,
        content=b"up_to=5",
        content_type="application/x-www-form-urlencoded",
    ),
    Case("mentions: no token", "GET", "/api/v1/timeline/mentions", 401, auth=None),
    Case("mentions: foreign cursor", "GET", "/api/v1/timeline/mentions?cursor=abc", 422),
    # live updates (a stream refused: never a 200 that would stay open)
    Case("stream: no token", "GET", "/api/v1/streaming/home", 401, auth=None),
    Case("stream: expired token", "GET", "/api/v1/streaming/home", 401, auth="expired"),
    Case(
        "stream: forged query token",
        "GET",
        "/api/v1/streaming/home?access_token=not.a.jwt",
        401,
        auth=None,
    ),
    Case(
        "stream: Last-Event-ID not an id",
        "GET",
        "/api/v1/streaming/home",
        400,
        headers={"Last-Event-ID": "yesterday"},
    ),
    Case(
        "stream: Last-Event-ID too long",
        "GET",
        "/api/v1/streaming/home",
        422,
        headers={"Last-Event-ID": "1" * 80 + "-0"},
    ),
    # media uploads (docs/media.md)
    Case("media: no token", "POST", "/api/v1/media", 401, json=MEDIA, auth=None),
    Case("media: empty object", "POST", "/api/v1/media", 422, json={}),
    Case(
        "media: type not taken", "POST", "/api/v1/media", 422, json=MEDIA | {"content_type": "x/y"}
    ),
    Case(
        "media: svg", "POST", "/api/v1/media", 422, json=MEDIA | {"content_type": "image/svg+xml"}
    ),
    Case("media: 0 bytes declared", "POST", "/api/v1/media", 422, json=MEDIA | {"byte_size": 0}),
    Case("media: size as a string", "POST", "/api/v1/media", 422, json=MEDIA | {"byte_size": "9"}),
    Case(
        "media: image over its limit",
        "POST",
        "/api/v1/media",
        422,
        json=MEDIA | {"byte_size": 5 * 1024 * 1024 + 1},
    ),
    Case(
        "media: over every limit",
        "POST",
        "/api/v1/media",
        422,
        json=MEDIA | {"byte_size": 2**40},
    ),
    Case("media: unknown field", "POST", "/api/v1/media", 422, json=MEDIA | {"path": "../x"}),
    Case("complete: unknown media", "POST", "/api/v1/media/42/complete", 404),
    Case("complete: not an id", "POST", "/api/v1/media/abc/complete", 422),
    Case("complete: another's media", "POST", "/api/v1/media/{victim_media}/complete", 403),
    Case("complete: no token", "POST", "/api/v1/media/{victim_media}/complete", 401, auth=None),
    Case(
        "object: forged signature",
        "GET",
        "/api/v1/objects/media/{victim_media}/original?expires=9999999999&signature=forged",
        403,
        auth=None,
    ),
    Case(
        "object: upload with a forged signature",
        "PUT",
        "/api/v1/objects/media/{victim_media}/original"
        "?expires=9999999999&max_bytes=9&signature=forged",
        403,
        content=b"overwrite",
        content_type="image/jpeg",
        auth=None,
    ),
    Case(
        "object: path traversal",
        "GET",
        "/api/v1/objects/..%2F..%2Fjwt-secret?expires=9999999999&signature=x",
        400,
        auth=None,
    ),
    Case("object: no signature", "GET", "/api/v1/objects/media/1/original", 403, auth=None),
    Case(
        "object: public, not there",
        "GET",
        "/api/v1/objects/public/media/1/x/a.webp",
        404,
        auth=None,
    ),
    # the API itself
    Case("a query parameter twice", "GET", "/api/v1/timeline/home?limit=5&limit=6", 422),
    Case("unknown route", "GET", "/api/v1/nothing-here", 404, auth=None),
    Case("wrong method", "PUT", "/api/v1/tweets", 405, auth=None),
]


@pytest.fixture(scope="module")
def world(client_factory, stack):
    """Users and tweets the bad requests aim at, and crafted tokens."""
    with client_factory() as client:
        victim, attacker = register(client, "vic"), register(client, "atk")
        tweet = client.post("/api/v1/tweets", headers=victim.auth, json={"content": "mine"}).json()
        doomed = client.post("/api/v1/tweets", headers=victim.auth, json={"content": "gone"}).json()
        assert (
            client.delete(f"/api/v1/tweets/{doomed['tweet_id']}", headers=victim.auth).status_code
            == 204
        )
        # An upload the victim started (no event until it completes).
        media = client.post("/api/v1/media", headers=victim.auth, json=MEDIA).json()
    secret = stack.settings.jwt_secret
    now = int(time.time())
    claims = {"sub": attacker.user_id, "username": attacker.username, "iat": now, "exp": now + 600}
    tokens = {
        "attacker": attacker.token,
        "expired": jwt.encode(claims | {"iat": now - 7200, "exp": now - 3600}, secret, "HS256"),
        "forged": jwt.encode(claims, "not the server's secret at all, but long enough", "HS256"),
        "unsigned": jwt.encode(claims, None, algorithm="none"),
        "hs512": jwt.encode(claims, secret, algorithm="HS512"),
        "garbage": "not.a.jwt",
    }
    names = {
        "victim": victim.user_id,
        "attacker": attacker.user_id,
        "tweet": tweet["tweet_id"],
        "deleted": doomed["tweet_id"],
        "victim_media": media["media_id"],
        "victim_upper": victim.username.upper(),
        "victim_name": victim.username,
    }
    return {"victim": victim, "attacker": attacker, "tokens": tokens, "names": names}


def _fill(value, names):
    if isinstance(value, str):
        for key, replacement in names.items():
            value = value.replace("{" + key + "}", replacement)
        return value
    if isinstance(value, dict):
        return {key: _fill(item, names) for key, item in value.items()}
    return value


@pytest.fixture(scope="module")
def answers(world, client_factory):
    """Send every bad request once; keep each answer."""
    results = {}
    with client_factory() as client:
        for case in CASES:
            headers = {"content-type": case.content_type} | case.headers
            if case.auth:
                headers["Authorization"] = f"Bearer {world['tokens'][case.auth]}"
            request = client.build_request(
                case.method,
                _fill(case.path, world["names"]),
                json=_fill(case.json, world["names"]),
                content=case.content,
                headers=headers,
            )
            results[case.name] = client.send(request)
    return results


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_request_gets_the_right_problem(case, answers):
    response = answers[case.name]
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == case.status
    assert problem["type"].startswith("urn:chirp:problem:") and problem["title"]
    if case.status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_the_table_is_large_enough():
    assert len(CASES) >= 30


def test_bad_requests_leave_no_event_behind(world, answers, event_log):
    attacker, victim = world["attacker"], world["victim"]
    by_attacker = [type(e).__name__ for e in event_log.by_actor(attacker.id)]
    assert by_attacker == ["UserRegistered"]
    # Events of different topics have no order between them: compare as multisets.
    by_victim = sorted(type(e).__name__ for e in event_log.by_actor(victim.id))
    assert by_victim == ["TweetDeleted", "TweetPosted", "TweetPosted", "UserRegistered"]
    registered = {e.username for e in event_log.events if isinstance(e, ev.UserRegistered)}
    assert registered.isdisjoint([*BAD_NAMES, "nobody_here_x"])


def test_280_emoji_must_pass(client, event_log):
    user = register(client, "emo")
    response = client.post("/api/v1/tweets", headers=user.auth, json={"content": "🐦" * 280})
    assert response.status_code == 201
    [event] = [e for e in event_log.by_actor(user.id) if isinstance(e, ev.TweetPosted)]
    assert event.content == "🐦" * 280
