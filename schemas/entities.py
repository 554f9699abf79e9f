"""Hashtags and mentions in tweet text, extracted the way Twitter's twitter-text does."""

from __future__ import annotations

import unicodedata

import regex

# URLs go first, so that a fragment (`https://example.org/page#part`) is never a hashtag.
_URL = regex.compile(r"(?i)\b(?:https?://|www\.)\S+")
# A hashtag starts after a non-word character, has word characters (any script, combining
# marks included) and at least one that is not a digit: `#123` is not a tag; in `#tag#tag`
# only the first is one (the second `#` follows a letter).
_WORD = r"\p{L}\p{M}\p{N}_"
_HASHTAG = regex.compile(rf"(?<![{_WORD}&#＃])[#＃]([{_WORD}]*[\p{{L}}\p{{M}}_][{_WORD}]*)")
_MENTION = regex.compile(r"(?<![\p{L}\p{M}\p{N}_@＠])[@＠]([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_@])")


def _fold(tag: str) -> str:
    return unicodedata.normalize("NFC", tag).casefold()


def _unique(items) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def extract_hashtags(text: str) -> tuple[str, ...]:
    """Case-folded hashtags of `text` without the `#`, in order of first appearance."""
    text = _URL.sub(" ", text)
    return _unique(_fold(match.group(1)) for match in _HASHTAG.finditer(text))


def as_hashtag(text: str) -> str | None:
    """`text` (with or without its `#`) as a case-folded hashtag, if it is exactly one."""
    tag = _fold(text.removeprefix("#").removeprefix("＃"))
    return tag if extract_hashtags("#" + tag) == (tag,) else None


def extract_mentions(text: str) -> tuple[str, ...]:
    """Lower-cased usernames mentioned in `text` without the `@`, in order of first appearance."""
    text = _URL.sub(" ", text)
    return _unique(match.group(1).lower() for match in _MENTION.finditer(text))
