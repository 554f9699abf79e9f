"""A quote's embedded tweet carries the reader's flags and its author, also when the timeline
read the quoted tweet ahead without putting it on the page."""

from __future__ import annotations

from tests.support.clients import follow, home, post, register


def test_a_quoted_tweet_read_ahead_still_shows_that_the_reader_liked_it(client):
    author, reader = register(client, "qa"), register(client, "qr")
    follow(client, reader, author)
    quoted = post(client, author, "the quoted one")
    quoting = post(client, author, "the quote", quote_of=quoted)
    liked = client.post(f"/api/v1/tweets/{quoted}/like", headers=reader.auth)
    assert liked.status_code == 200, liked.text
    # One tweet a page: the quote; the quoted tweet, older, is read ahead.
    page = home(client, reader, limit=1)
    assert [tweet["tweet_id"] for tweet in page["tweets"]] == [quoting]
    embedded = page["tweets"][0]["quoted_tweet"]
    assert embedded["tweet_id"] == quoted
    assert embedded["liked_by_me"] is True
