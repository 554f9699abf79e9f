import pytest

from schemas.entities import as_hashtag, extract_hashtags, extract_mentions


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


@pytest.mark.parametrize(
    "text, tag",
    [("Caturday", "caturday"), ("#Caturday", "caturday"), ("straße", "strasse"),
     ("日本語", "日本語"), ("a b", None), ("x#y", None), ("123", None), ("#", None), ("", None),
     ("tag!", None)],
)  # fmt: skip
def test_a_path_segment_is_one_hashtag_case_folded_or_none(text, tag):
    assert as_hashtag(text) == tag
