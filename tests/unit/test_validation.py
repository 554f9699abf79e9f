import unicodedata

import pytest
from pydantic import ValidationError

from schemas.api import TweetCreate, UserCreate

GOOD_USER = {"username": "ada_1", "display_name": "Ada", "password": "long enough"}


def test_content_counts_code_points_so_280_emoji_pass_and_281_fail():
    assert len(TweetCreate(content="😀" * 280).content) == 280
    with pytest.raises(ValidationError):
        TweetCreate(content="😀" * 281)
    with pytest.raises(ValidationError):
        TweetCreate(content="a" * 281)


def test_content_is_counted_after_nfc_normalisation():
    decomposed = unicodedata.normalize("NFD", "é") * 280  # 560 code points before NFC
    assert len(decomposed) == 560
    tweet = TweetCreate(content=decomposed)
    assert tweet.content == "é" * 280


@pytest.mark.parametrize(
    "content",
    [
        "",
        "   ",
        "\n\n",
        "bell\x07",
        "nul\x00",
        "esc\x1b[31m",
        "tab\tinside",
        "cr\r\n",
        "lone \ud800 surrogate",
        "del\x7f",
    ],
)
def test_bad_content_is_refused(content):
    with pytest.raises(ValidationError):
        TweetCreate(content=content)


def test_newlines_are_allowed_in_content():
    assert TweetCreate(content="line one\nline two").content == "line one\nline two"


def test_reply_to_must_be_a_decimal_string_not_a_number():
    assert TweetCreate(content="x", reply_to="12345").reply_to == 12345
    for bad in (12345, "12a", "", "0", "99999999999999999999", -1):
        with pytest.raises(ValidationError):
            TweetCreate(content="x", reply_to=bad)


@pytest.mark.parametrize(
    "username", ["", "a" * 16, "has space", "dash-name", "émile", "semi;", "new\nline"]
)
def test_bad_usernames_are_refused(username):
    with pytest.raises(ValidationError):
        UserCreate(**(GOOD_USER | {"username": username}))


@pytest.mark.parametrize("username", ["a", "A" * 15, "under_score", "123"])
def test_good_usernames_pass(username):
    assert UserCreate(**(GOOD_USER | {"username": username})).username == username


@pytest.mark.parametrize(
    "change",
    [
        {"password": "short"},
        {"password": "x" * 129},
        {"display_name": ""},
        {"display_name": "two\nlines"},
        {"display_name": "d" * 51},
        {"bio": "b" * 161},
        {"unknown": "field"},
        {"username": 5},
    ],
)
def test_bad_registrations_are_refused(change):
    with pytest.raises(ValidationError):
        UserCreate(**(GOOD_USER | change))
