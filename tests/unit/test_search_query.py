from datetime import date

import pytest

from projections.search_query import (
    MAX_QUERY_LENGTH,
    MAX_TERMS,
    SearchQuery,
    SearchQueryError,
    parse_search_query,
)


def test_words_phrases_hashtags_authors_and_dates_are_told_apart():
    query = parse_search_query(
        'Solar "total ECLIPSE" #Tampa from:@Ada_1 since:2024-04-01 until:2024-04-09 eclipse'
    )
    assert query == SearchQuery(
        words=("solar", "eclipse"),
        phrases=("total eclipse",),
        hashtags=("tampa",),
        authors=("ada_1",),
        since=date(2024, 4, 1),
        until=date(2024, 4, 9),
    )


def test_curly_quotes_from_phones_make_phrases_and_repeats_count_once():
    query = parse_search_query("“solar eclipse” dog Dog DOG #Love #love")
    assert query.phrases == ("solar eclipse",)
    assert query.words == ("dog",)
    assert query.hashtags == ("love",)


def test_operators_are_case_insensitive_and_several_authors_mean_any_of_them():
    query = parse_search_query("FROM:alice From:bob")
    assert query.authors == ("alice", "bob") and not query.has_text


def test_operators_inside_quotes_are_plain_words():
    assert parse_search_query('"from:alice #tbt"').phrases == ("from:alice #tbt",)


@pytest.mark.parametrize(
    "text",
    [
        "a AND b",
        "title:x",
        "(a OR b)",
        "a* b?",
        "c++ -d",
        "x^2 ~y",
        "[1 TO 5]",
        "{a}",
        "a\\b /re/ <x>",
        "a && b || !c",
    ],
)
def test_engine_syntax_characters_are_plain_text(text):
    query = parse_search_query(text)
    # Nothing but words: no operator, hashtag or phrase was read into them.
    assert query.words and not (query.phrases or query.hashtags or query.authors)
    assert all(word in text.lower() for word in query.words)


def test_words_without_letters_or_digits_are_left_out():
    assert parse_search_query("dogs - & * 🐶 !!!").words == ("dogs",)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "nothing to search for"),
        ("   ", "nothing to search for"),
        ("- & *", "nothing to search for"),
        ('"solar eclipse', "unbalanced quotes"),
        ('a "b" c"', "unbalanced quotes"),
        ('""', "words inside the quotes"),
        ('" ?! "', "words inside the quotes"),
        ("#", "not a hashtag"),
        ("#123", "not a hashtag"),
        ("from:", "from: needs a value"),
        ("since:", "since: needs a value"),
        ("until: cats", "until: needs a value"),
        ("from:no-dashes", "not a username"),
        ("from:sixteen_chars_xx", "not a username"),
        ("since:2024-02-30", "not a date"),
        ("since:yesterday", "not a date"),
        ("until:24-01-01", "not a date"),
        ("since:2024-01-01 since:2024-02-01", "more than once"),
        ("since:2024-02-01 until:2024-02-01", "before until"),
        ("cats\x00", "control characters"),
        ("cats \ud800", "broken Unicode"),
    ],
)
def test_bad_queries_say_what_is_wrong(text, reason):
    with pytest.raises(SearchQueryError, match=reason):
        parse_search_query(text)


def test_a_query_of_10_kb_is_refused_before_any_parsing():
    with pytest.raises(SearchQueryError, match=f"longer than {MAX_QUERY_LENGTH}"):
        parse_search_query("a " * 5000)
    assert parse_search_query("a" * MAX_QUERY_LENGTH).words == ("a" * MAX_QUERY_LENGTH,)


def test_too_many_terms_are_refused():
    words = " ".join(f"w{n}" for n in range(MAX_TERMS + 1))
    with pytest.raises(SearchQueryError, match="more than"):
        parse_search_query(words)


def test_newlines_and_tabs_separate_words():
    assert parse_search_query("solar\neclipse\ttoday").words == ("solar", "eclipse", "today")


def test_a_date_range_alone_is_a_query():
    query = parse_search_query("since:2024-01-01")
    assert query.since == date(2024, 1, 1) and not query.has_text


def test_the_fingerprint_follows_the_parsed_query_not_its_spelling():
    assert (
        parse_search_query("Dog  #cat").fingerprint()
        == parse_search_query("dog #CAT").fingerprint()
    )
    assert parse_search_query("dog").fingerprint() != parse_search_query('"dog"').fingerprint()
