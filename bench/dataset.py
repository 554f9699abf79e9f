"""The benchmark's data: the real SNAP ego-Twitter graph and TweetEval texts, plus synthetic
celebrities with follower counts of real celebrity scale (scaled down to the machine).

Sources (read from ../shared/data, never copied into the project):
- follows.txt.gz: SNAP ego-Twitter (McAuley & Leskovec, NIPS 2012), 81,306 users, 1.77M edges.
- tweets.txt.gz: TweetEval (Barbieri et al., Findings of EMNLP 2020), 127,550 tweet texts.
"""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass, field
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass
class Dataset:
    users: list[int]
    edges: list[tuple[int, int]]  # (follower, followee)
    texts: list[str]
    celebrities: list[int] = field(default_factory=list)
    synthetic_followers: int = 0


def available() -> bool:
    return (DATA_DIR / "follows.txt.gz").exists() and (DATA_DIR / "tweets.txt.gz").exists()


def real_edges(limit: int | None = None) -> list[tuple[int, int]]:
    """The real graph's (follower, followee) edges in file order, self-loops dropped; the
    first `limit` of them if given."""
    edges: list[tuple[int, int]] = []
    with gzip.open(DATA_DIR / "follows.txt.gz", "rt") as lines:
        for line in lines:
            follower, followee = map(int, line.split())
            if follower != followee:
                edges.append((follower, followee))
                if len(edges) == limit:
                    break
    return edges


def real_texts() -> list[str]:
    """The real tweet texts that fit in a tweet."""
    with gzip.open(DATA_DIR / "tweets.txt.gz", "rt", encoding="utf-8") as lines:
        return [text for line in lines if (text := line.rstrip("\n")) and len(text) <= 280]


def load(celebrities: int, followers_each: int, seed: int = 7) -> Dataset:
    """The real graph (self-loops dropped), real texts, and synthetic celebrity followers."""
    edges = real_edges()
    users = {user for edge in edges for user in edge}
    texts = real_texts()
    real = sorted(users)
    rng = random.Random(seed)
    # Celebrity accounts get ids above every real id; their followers are synthetic ids too,
    # plus a slice of the real users, so that real readers pull them at read time.
    top = max(real) + 1
    stars = [top + n for n in range(celebrities)]
    synthetic = [top + celebrities + n for n in range(followers_each)]
    for star in stars:
        edges += [(fan, star) for fan in synthetic]
        edges += [(fan, star) for fan in rng.sample(real, len(real) // 10)]
    return Dataset(
        users=real + stars + synthetic,
        edges=edges,
        texts=texts,
        celebrities=stars,
        synthetic_followers=followers_each,
    )
