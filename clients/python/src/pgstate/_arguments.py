"""The argument rules of PROTOCOL.md section 8, and the bounds they check. No I/O.

Every encoder (:mod:`pgstate._protocol`, :mod:`pgstate._multikey`) and every call checks its
arguments here before anything exists to send, raising :class:`~pgstate.InvalidArgument`
(status 102, the caller's fault) -- also for a ``str8`` field longer than 255 bytes, which is
never truncated (section 12.5). The server half of the tests uses the byte-level checks
(``_check_id_bytes``, ``_check_namespace_bytes``) on what it decodes.
"""

from __future__ import annotations

from typing import Final, Optional

from ._errors import InvalidArgument, Status

__all__ = [
    "DEFAULT_MAX_ID_BYTES", "DEFAULT_MAX_STATE_BYTES", "MAX_ID_BYTES", "MAX_NAMESPACE_BYTES", "MAX_TTL_SECONDS",
    "MAX_UPSERT_EXPECTED_REVISION", "MAX_DELETE_EXPECTED_REVISION", "MAX_STR8_BYTES", "MAX_AFTER_CONNECTION",
    "MAX_TIMEOUT_MS", "check_persistence_id", "check_namespace", "check_upsert_revision", "check_delete_revision",
    "check_after_connection", "check_timeout_ms", "check_ttl", "check_state", "check_client_name",
]

DEFAULT_MAX_ID_BYTES: Final = 255
DEFAULT_MAX_STATE_BYTES: Final = 8 * 1024 * 1024  # 8388608
MAX_ID_BYTES: Final = 255  # str8: never more, whatever a server announces
MAX_NAMESPACE_BYTES: Final = 63
MAX_TTL_SECONDS: Final = 2**31 - 1
MAX_UPSERT_EXPECTED_REVISION: Final = 2**63 - 2  # the new revision must fit an i64
MAX_DELETE_EXPECTED_REVISION: Final = 2**63 - 1
MAX_STR8_BYTES: Final = 255
MAX_AFTER_CONNECTION: Final = 2**64 - 1  # CLIENTS after_connection: a u64
MAX_TIMEOUT_MS: Final = 2**32 - 1  # PAUSE timeout_ms: a u32


def _invalid(message: str, request_id: Optional[int] = None) -> InvalidArgument:
    return InvalidArgument(message, status=Status.INVALID_ARGUMENT, request_id=request_id)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_persistence_id(persistence_id: object, max_id_bytes: int = DEFAULT_MAX_ID_BYTES) -> bytes:
    """Validate a persistence id given as ``str``; return its UTF-8 bytes.

    Raises InvalidArgument if it is not a ``str``, cannot be encoded as UTF-8 (e.g. holds a
    lone surrogate), is empty or longer than ``max_id_bytes`` bytes, or holds a control
    character U+0000-U+001F or U+007F.
    """
    if not isinstance(persistence_id, str):
        raise _invalid("persistence_id must be a str, not %s" % type(persistence_id).__name__)
    try:
        raw = persistence_id.encode("utf-8")
    except UnicodeEncodeError:
        raise _invalid("persistence_id %r is not encodable as UTF-8" % persistence_id) from None
    _check_id_bytes(raw, max_id_bytes, None)
    return raw


def _check_id_bytes(raw: bytes, max_id_bytes: int, request_id: Optional[int]) -> None:
    if not raw:
        raise _invalid("persistence_id must not be empty", request_id)
    limit = min(max_id_bytes, MAX_ID_BYTES)
    if len(raw) > limit:
        raise _invalid("persistence_id is %d bytes, more than %d" % (len(raw), limit), request_id)
    for i, b in enumerate(raw):
        # In UTF-8 the forbidden characters are single bytes < 0x80 that never occur inside a
        # multi-byte sequence, so a byte scan is exact.
        if b < 0x20 or b == 0x7F:
            raise _invalid("persistence_id has a control character at byte %d" % i, request_id)


_NAMESPACE_BYTES: Final = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def check_namespace(namespace: object) -> bytes:
    """Validate a namespace given as ``str``; return its bytes.

    Raises InvalidArgument unless it is a ``str`` of 0 to 63 characters, each an ASCII
    letter, digit, ``.``, ``_`` or ``-`` (the empty name is the shared namespace).
    """
    if not isinstance(namespace, str):
        raise _invalid("namespace must be a str, not %s" % type(namespace).__name__)
    raw = namespace.encode("utf-8", "surrogatepass")  # anything not ASCII fails the byte check
    _check_namespace_bytes(raw, None)
    return raw


def _check_namespace_bytes(raw: bytes, request_id: Optional[int]) -> None:
    if len(raw) > MAX_NAMESPACE_BYTES:
        raise _invalid("namespace is %d bytes, more than %d" % (len(raw), MAX_NAMESPACE_BYTES), request_id)
    for i, b in enumerate(raw):
        if b not in _NAMESPACE_BYTES:
            raise _invalid("namespace has a character other than an ASCII letter, digit, '.', '_' or '-' "
                           "at byte %d" % i, request_id)


def check_upsert_revision(expected_revision: object) -> int:
    """Validate an upsert's expected revision: an ``int`` in 0..2^63-2."""
    if not _is_int(expected_revision):
        raise _invalid("expected_revision must be an int, not %s" % type(expected_revision).__name__)
    assert isinstance(expected_revision, int)
    if not 0 <= expected_revision <= MAX_UPSERT_EXPECTED_REVISION:
        raise _invalid("upsert expected_revision %d is outside 0..2^63-2" % expected_revision)
    return expected_revision


def check_delete_revision(expected_revision: object) -> int:
    """Validate a conditional delete's expected revision: an ``int`` in 0..2^63-1."""
    if not _is_int(expected_revision):
        raise _invalid("expected_revision must be an int, not %s" % type(expected_revision).__name__)
    assert isinstance(expected_revision, int)
    if not 0 <= expected_revision <= MAX_DELETE_EXPECTED_REVISION:
        raise _invalid("delete expected_revision %d is outside 0..2^63-1" % expected_revision)
    return expected_revision


def check_after_connection(after_connection: object) -> int:
    """Validate CLIENTS' ``after_connection``: an ``int`` in 0..2^64-1 (never clamped)."""
    if not _is_int(after_connection):
        raise _invalid("after_connection must be an int, not %s" % type(after_connection).__name__)
    assert isinstance(after_connection, int)
    if not 0 <= after_connection <= MAX_AFTER_CONNECTION:
        raise _invalid("after_connection %d is outside 0..2^64-1" % after_connection)
    return after_connection


def check_timeout_ms(timeout_ms: object) -> int:
    """Validate PAUSE's ``timeout_ms``: an ``int`` in 0..2^32-1 (0: no limit; never clamped)."""
    if not _is_int(timeout_ms):
        raise _invalid("timeout_ms must be an int, not %s" % type(timeout_ms).__name__)
    assert isinstance(timeout_ms, int)
    if not 0 <= timeout_ms <= MAX_TIMEOUT_MS:
        raise _invalid("pause timeout_ms %d is outside 0..2^32-1" % timeout_ms)
    return timeout_ms


def check_ttl(ttl_seconds: object) -> int:
    """Validate a TTL: an ``int`` number of seconds in 1..2^31-1 (never clamped)."""
    if not _is_int(ttl_seconds):
        raise _invalid("ttl must be an int number of seconds, not %s" % type(ttl_seconds).__name__)
    assert isinstance(ttl_seconds, int)
    if not 1 <= ttl_seconds <= MAX_TTL_SECONDS:
        raise _invalid("ttl %d seconds is outside 1..2^31-1" % ttl_seconds)
    return ttl_seconds


def check_state(state: object, max_state_bytes: int = DEFAULT_MAX_STATE_BYTES) -> bytes:
    """Validate a state: ``bytes``, ``bytearray`` or ``memoryview``, at most ``max_state_bytes``."""
    if not isinstance(state, (bytes, bytearray, memoryview)):
        raise _invalid("state must be bytes, not %s" % type(state).__name__)
    data = bytes(state)
    if len(data) > max_state_bytes:
        raise _invalid("state is %d bytes, more than max_state_bytes %d" % (len(data), max_state_bytes))
    return data


def check_client_name(client_name: object) -> bytes:
    """Validate a HELLO client name: a ``str`` of at most 255 UTF-8 bytes; return the bytes.

    A longer name is refused (InvalidArgument), never truncated.
    """
    if not isinstance(client_name, str):
        raise _invalid("client_name must be a str, not %s" % type(client_name).__name__)
    try:
        raw = client_name.encode("utf-8")
    except UnicodeEncodeError:
        raise _invalid("client_name %r is not encodable as UTF-8" % client_name) from None
    if len(raw) > MAX_STR8_BYTES:
        raise _invalid("client_name is %d bytes in UTF-8, more than %d" % (len(raw), MAX_STR8_BYTES))
    return raw
