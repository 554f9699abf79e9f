"""Personal data in events, sealed under a key of the person's own (crypto-shredding).

The words a person writes and the names they give themselves (a tweet's content, a profile's
username, display name, bio, location and website, an upload's alt text) travel in their
events encrypted with AES-256-GCM under the account's key, kept in the write model only
(`write_model.user_keys`). The rest of an event stays in the clear: ids, times, and what the
read models and the trending job need without the key (hashtags, mentions, protection).

Deleting the account deletes the key: from then on the log, its archive and an export hold
only ciphertext of that person's data, and no replay can read it back (docs/safety.md).

On the wire a sealed event carries its personal fields empty ("" or null) and `sealed`: the
base64 of a 12-byte nonce and the ciphertext of the fields as JSON, authenticated with the
event's id (a sealed payload moved to another event does not open).
"""

from __future__ import annotations

import base64
import os
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas import events as ev

KEY_BYTES = 32
_NONCE_BYTES = 12

# The personal fields of each event type, and what each reads as while sealed.
SEALED_FIELDS: dict[type[ev.Event], dict[str, Any]] = {
    ev.UserRegistered: {"username": "", "display_name": "", "bio": ""},
    ev.ProfileUpdated: {"display_name": None, "bio": None, "location": None, "website": None},
    ev.TweetPosted: {"content": ""},
    ev.MediaDescribed: {"alt_text": ""},
}


class Unsealable(ValueError):
    """A sealed event whose key is not the one it was sealed with (or is gone)."""


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def sealable(event: ev.Event) -> bool:
    return type(event) in SEALED_FIELDS


def owner(event: ev.Event) -> int:
    """Whose key seals `event`: the account whose words or names it carries (its actor)."""
    return event.actor_id


def seal(event: ev.Event, key: bytes) -> ev.Event:
    """`event` with its personal fields encrypted under `key` (unchanged if it has none)."""
    blanks = SEALED_FIELDS.get(type(event))
    if blanks is None:
        return event
    personal = {name: getattr(event, name) for name in blanks}
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, orjson.dumps(personal), _aad(event))
    return event.model_copy(update={**blanks, "sealed": base64.b64encode(nonce + sealed).decode()})


def unseal(event: ev.Event, key: bytes) -> ev.Event:
    """`event` with its personal fields in the clear again; Unsealable if `key` is not its."""
    sealed = getattr(event, "sealed", None)
    if sealed is None:
        return event
    raw = base64.b64decode(sealed)
    try:
        personal = orjson.loads(
            AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _aad(event))
        )
    except InvalidTag as error:
        raise Unsealable(f"event {event.event_id} does not open with this key") from error
    return event.model_copy(update={**personal, "sealed": None})


def is_sealed(event: ev.Event) -> bool:
    return getattr(event, "sealed", None) is not None


def _aad(event: ev.Event) -> bytes:
    return str(event.event_id).encode()
