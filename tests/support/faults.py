"""Writers that keep count of what the API accepted, and an audit of what became of it: for
the fault tests, which print these figures."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from tests.support.clients import User, eventually


@dataclass
class WriteLedger:
    """Every post the writers tried: its content (unique), its answers, and its final answer."""

    accepted: dict[str, str] = field(default_factory=dict)  # content -> tweet id (201)
    unconfirmed: set[str] = field(default_factory=set)  # contents last answered 503 "kept"
    refused: set[str] = field(default_factory=set)  # contents last answered 503 "nothing recorded"
    statuses: list[int] = field(default_factory=list)  # every answer, retries included
    kept_answers: int = 0  # 503 write-unconfirmed answers, retries included
    accepted_at: list[float] = field(default_factory=list)  # time.monotonic() of each 201
    slowest_answer: float = 0.0
    first_refusal: float | None = None  # time.monotonic() of the first 503
    last_refusal: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def server_errors(self) -> list[int]:
        return [status for status in self.statuses if status >= 500 and status != 503]

    def recovered_after(self, moment: float, timeout: float = 30.0) -> float:
        """Seconds from `moment` (time.monotonic()) to the first post accepted after it."""
        assert eventually(lambda: any(at > moment for at in self.accepted_at), timeout=timeout), (
            f"no post was accepted within {timeout:.0f}s"
        )
        return min(at for at in self.accepted_at if at > moment) - moment


@contextmanager
def running(stop: threading.Event, *targets):
    """Each of `targets` in a thread of its own, until `stop` is set on the way out."""
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def post_steadily(
    base_url: str,
    author: User,
    name: str,
    ledger: WriteLedger,
    stop: threading.Event,
    pause: float = 0.02,
    retries: int = 3,
) -> None:
    """Post unique contents until `stop`; a 503 is retried with the same Idempotency-Key after
    its Retry-After, as a careful client does, up to `retries` times."""
    with httpx.Client(base_url=base_url, timeout=60) as client:
        number = 0
        while not stop.wait(pause):
            content, key = f"{name} post {number}", str(uuid.uuid4())
            number += 1
            for attempt in range(retries + 1):
                started = time.monotonic()
                response = client.post(
                    "/api/v1/tweets",
                    json={"content": content},
                    headers=author.auth | {"Idempotency-Key": key},
                )
                elapsed = time.monotonic() - started
                with ledger.lock:
                    ledger.statuses.append(response.status_code)
                    ledger.slowest_answer = max(ledger.slowest_answer, elapsed)
                    if response.status_code == 201:
                        ledger.accepted[content] = response.json()["tweet_id"]
                        ledger.accepted_at.append(time.monotonic())
                        ledger.unconfirmed.discard(content)
                        ledger.refused.discard(content)
                        break
                    if response.status_code == 503:
                        now = time.monotonic()
                        ledger.first_refusal = ledger.first_refusal or now
                        ledger.last_refusal = now
                        kept = response.json()["type"].endswith("write-unconfirmed")
                        ledger.kept_answers += kept
                        (ledger.unconfirmed if kept else ledger.refused).add(content)
                if response.status_code != 503 or attempt == retries:
                    break
                time.sleep(float(response.headers.get("retry-after", "1")))


def settled_audit(
    base_url: str, authors: list[User], ledger: WriteLedger, timeout: float = 60.0
) -> dict:
    """The audit once the agents have applied the log and the outbox has delivered what it
    kept (no accepted post missing, every kept one applied), or as it stands at `timeout`."""

    def settled() -> dict | None:
        figures = audit(base_url, authors, ledger)
        done = figures["lost"] == 0 and figures["unconfirmed_applied"] == figures["unconfirmed"]
        return figures if done else None

    return eventually(settled, timeout=timeout) or audit(base_url, authors, ledger)


def audit(base_url: str, authors: list[User], ledger: WriteLedger) -> dict:
    """What became of the writes: every accepted post readable once, none twice."""
    seen: dict[str, list[str]] = {}
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for author in authors:
            cursor = None
            while True:
                params = {"limit": 100} | ({"cursor": cursor} if cursor else {})
                page = client.get(f"/api/v1/users/{author.user_id}/tweets", params=params).json()
                for tweet in page["tweets"]:
                    seen.setdefault(tweet["content"], []).append(tweet["tweet_id"])
                cursor = page["next_cursor"]
                if not cursor:
                    break
    lost = [
        content
        for content, tweet_id in ledger.accepted.items()
        if tweet_id not in seen.get(content, [])
    ]
    duplicated = {content: ids for content, ids in seen.items() if len(ids) > 1}
    return {
        "accepted": len(ledger.accepted),
        "lost": len(lost),
        "duplicated": len(duplicated),
        "lost_examples": lost[:3],
        "duplicated_examples": dict(list(duplicated.items())[:3]),
        # Answered 503 in the end (no retry left): kept ones take effect later anyway.
        "unconfirmed_applied": sum(1 for content in ledger.unconfirmed if content in seen),
        "unconfirmed": len(ledger.unconfirmed),
        "refused_applied": sum(1 for content in ledger.refused if content in seen),
        "refused": len(ledger.refused),
    }


_COUNTS = (
    "like_count",
    "retweet_count",
    "reply_count",
    "followers_count",
    "following_count",
    "tweet_count",
    "count",
)


def effects_compared(live: dict, clean: dict) -> dict:
    """Effects of the log in `live` against a clean run of the same log (snapshots of
    tests.support.read_models): entries or counts missing (lost) or in excess (duplicated)."""
    lost = duplicated = 0
    for key, expected in clean.items():
        seen = live.get(key)
        if isinstance(expected, list):
            have = Counter(_identity(item) for item in seen or [])
            want = Counter(_identity(item) for item in expected)
            lost += sum((want - have).values())
            duplicated += sum((have - want).values())
            continue
        if isinstance(expected, tuple):  # (status, body) of one tweet
            if expected[0] == 200 and (seen is None or seen[0] != 200):
                lost += 1
                continue
            expected, seen = expected[1], (seen or (None, {}))[1]
        for count in _COUNTS:
            if isinstance(expected, dict) and count in expected:
                difference = (seen or {}).get(count, 0) - expected[count]
                lost += max(-difference, 0)
                duplicated += max(difference, 0)
    return {"lost": lost, "duplicated": duplicated}


def _identity(item: dict) -> str:
    return str(item.get("tweet_id") or item.get("id") or item.get("user_id") or item)
