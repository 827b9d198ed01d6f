"""The key ring of an envelope codec: keys by id, one of them active (ENVELOPE.md sections 5.1 and 8)."""

from __future__ import annotations

from typing import Dict, Final, Iterator, Mapping, Optional, Tuple

from ._errors import InvalidArgument

__all__ = ["KeyRing", "KEY_BYTES", "MAX_KEY_ID"]

KEY_BYTES: Final = 32
MAX_KEY_ID: Final = 2**32 - 1


def _check_key_id(key_id: object) -> int:
    if isinstance(key_id, bool) or not isinstance(key_id, int) or not 1 <= key_id <= MAX_KEY_ID:
        raise InvalidArgument("a key id is an int in 1..2^32-1 (0 marks an unkeyed envelope), not %r" % (key_id,))
    return key_id


def _check_key(key_id: int, key: object) -> bytes:
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise InvalidArgument("key %d must be bytes, not %s" % (key_id, type(key).__name__))
    key = bytes(key)
    if len(key) != KEY_BYTES:
        raise InvalidArgument("key %d has %d bytes; a ring key has exactly 32 (e.g. os.urandom(32))"
                              % (key_id, len(key)))
    return key


class KeyRing:
    """Keys by id (1..2^32-1), each exactly 32 bytes, and the ``active`` id new envelopes are written under.

    Every key of the ring reads; the others than the active one are *retired*, kept so that records
    written under them still read until they are rewritten. Rotation::

        ring = KeyRing({1: old_key}, active=1)
        ring = ring.rotated(2, new_key)     # {1: old, 2: new}, active 2: writes use key 2, both read
        pgstate.rewrap(client, ids, Envelope(keys=ring, info=...))   # rewrite the records under key 2
        ring = ring.without(1)              # once every record has been rewritten

    A ring is immutable, and its ``repr`` never shows a key. Never reuse an id for another key.
    """

    __slots__ = ("_keys", "_active")

    def __init__(self, keys: Mapping[int, bytes], active: int) -> None:
        if not isinstance(keys, Mapping) or not keys:
            raise InvalidArgument("a key ring needs a non-empty mapping of key id to 32-byte key")
        checked: Dict[int, bytes] = {}
        for key_id, key in keys.items():
            checked[_check_key_id(key_id)] = _check_key(key_id, key)
        _check_key_id(active)
        if active not in checked:
            raise InvalidArgument("the active key id %d is not in the ring (ids %s)" % (active, sorted(checked)))
        self._keys = checked
        self._active = active

    @property
    def active(self) -> int:
        """The id new envelopes are written under."""
        return self._active

    @property
    def ids(self) -> Tuple[int, ...]:
        """Every key id of the ring, ascending."""
        return tuple(sorted(self._keys))

    @property
    def retired(self) -> Tuple[int, ...]:
        """The ids that only read."""
        return tuple(k for k in sorted(self._keys) if k != self._active)

    def key(self, key_id: int) -> Optional[bytes]:
        """The key with this id, or None."""
        return self._keys.get(key_id)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids)

    def rotated(self, key_id: int, key: bytes) -> "KeyRing":
        """A ring with ``key`` added under the new ``key_id`` and made active; the others retired."""
        if key_id in self._keys:
            raise InvalidArgument("key id %d is already in the ring: a new key needs a new id" % key_id)
        return KeyRing({**self._keys, key_id: key}, active=key_id)

    def with_active(self, key_id: int) -> "KeyRing":
        """The same keys with another active one (e.g. to roll a rotation back)."""
        return KeyRing(self._keys, active=key_id)

    def without(self, key_id: int) -> "KeyRing":
        """The ring less a retired key (the active one cannot be removed)."""
        if key_id == self._active:
            raise InvalidArgument("key id %d is the active key: make another key active first" % key_id)
        if key_id not in self._keys:
            raise InvalidArgument("key id %d is not in the ring" % key_id)
        return KeyRing({k: v for k, v in self._keys.items() if k != key_id}, active=self._active)

    def __repr__(self) -> str:
        return "KeyRing(ids=%s, active=%d)" % (list(self.ids), self._active)
