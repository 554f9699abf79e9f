import pytest

from schemas.entities import extract_hashtags, extract_mentions


@pytest.mark.parametrize(
    "text, tags",
    [
        ("#Love and #LOVE and #love", ("love",)),
        ("#123 is a number, #1a is a tag", ("1a",)),
        ("#tag#tag", ("tag",)),
        ("read https://example.org/page#section and www.example.org/#top", ()),
        ("#Café #東京 #नमस्ते #straße", ("café", "東京", "नमस्ते", "strasse")),
        ("end of sentence #done.", ("done",)),
        ("(#paren) #comma, #under_score", ("paren", "comma", "under_score")),
        ("x&#39;s entity", ()),
        ("＃fullwidth", ("fullwidth",)),
    ],
)
def test_hashtags(text, tags):
    assert extract_hashtags(text) == tags


@pytest.mark.parametrize(
    "text, mentions",
    [
        ("@Bob and @bob, hi @carol_1", ("bob", "carol_1")),
        ("mail me@example.org", ()),
        ("@user @user", ("user",)),
        ("@waytoolongusername1", ()),
    ],
)
def test_mentions(text, mentions):
    assert extract_mentions(text) == mentions
