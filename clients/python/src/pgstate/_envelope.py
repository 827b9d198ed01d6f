"""The envelope v1 (proto-spec/ENVELOPE.md): compression, encryption or integrity, bound to a record.

Pure: bytes in, bytes out, no I/O. :func:`encode_envelope` and :func:`decode_envelope` are the format;
:class:`Envelope` is the codec a client is given (its configuration, checked once, and a fresh nonce for
every write). The clients only choose the codec, the namespace and the revision (:mod:`pgstate._codec_calls`).
"""

from __future__ import annotations

import os
import struct
from typing import Final, Optional

from . import _envelope_compression as z
from . import _envelope_crypto as crypto
from ._errors import (CorruptEnvelope, EnvelopeModeUnavailable, EnvelopeTooLarge, InvalidArgument, RolledBack,
                      Tampered, UnknownEnvelopeVersion, WrongKey)
from ._keyring import KeyRing

__all__ = ["Envelope", "EnvelopeHeader", "encode_envelope", "decode_envelope", "parse_header", "MAGIC", "VERSION",
           "DEFAULT_MAX_DECOMPRESSED", "FLAG_ENCRYPTED", "FLAG_INTEGRITY"]

MAGIC: Final = b"PGSE"
VERSION: Final = 1
DEFAULT_MAX_DECOMPRESSED: Final = 64 * 1024 * 1024
FLAG_ENCRYPTED: Final = 0x04
FLAG_INTEGRITY: Final = 0x08
_COMPRESSION_MASK: Final = 0x03
_RESERVED_FLAGS: Final = 0xF0
_HEADER: Final = struct.Struct(">4sBBIQI")  # magic, version, flags, key_id, revision, length
HEADER_BYTES: Final = _HEADER.size  # 22
NONCE_BYTES: Final = 12
GCM_TAG_BYTES: Final = 16
HMAC_TAG_BYTES: Final = 32
MAX_REVISION: Final = 2**63 - 1
MAX_LENGTH: Final = 2**32 - 1
MAX_INFO_BYTES: Final = 65535

_COMPRESSIONS: Final = {None: z.NONE, "gzip": z.GZIP, "zstd": z.ZSTD}


class EnvelopeHeader:
    """The fields of an envelope's header (checks 1 to 6 of ENVELOPE.md section 6.2 passed)."""

    __slots__ = ("flags", "key_id", "revision", "length", "nonce")

    def __init__(self, flags: int, key_id: int, revision: int, length: int, nonce: bytes) -> None:
        self.flags = flags
        self.key_id = key_id
        self.revision = revision
        self.length = length
        self.nonce = nonce

    @property
    def compression(self) -> int:
        return self.flags & _COMPRESSION_MASK

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & FLAG_ENCRYPTED)

    @property
    def keyed(self) -> bool:
        return bool(self.flags & (FLAG_ENCRYPTED | FLAG_INTEGRITY))

    @property
    def size(self) -> int:
        return HEADER_BYTES + len(self.nonce)

    @property
    def tag_size(self) -> int:
        return GCM_TAG_BYTES if self.encrypted else HMAC_TAG_BYTES if self.keyed else 0


def mode_name(flags: int) -> str:
    """"gzip+aes_gcm", "hmac", "none", ...: for messages."""
    mode = "aes_gcm" if flags & FLAG_ENCRYPTED else "hmac" if flags & FLAG_INTEGRITY else ""
    comp = z.NAMES.get(flags & _COMPRESSION_MASK, "compression 3")
    if comp == "none":
        return mode or "none"
    return comp + ("+" + mode if mode else "")


def _str8(data: bytes) -> bytes:
    return bytes((len(data),)) + data


def _associated_data(header: bytes, namespace: bytes, persistence_id: bytes) -> bytes:
    return header + _str8(namespace) + _str8(persistence_id)


def parse_header(data: bytes, persistence_id: Optional[str] = None) -> Optional[EnvelopeHeader]:
    """The header of an envelope, None for a state that is not one (returned as written), or the error of
    checks 2 to 6 of ENVELOPE.md section 6.2 (UnknownEnvelopeVersion, CorruptEnvelope)."""
    if len(data) < 5 or data[:4] != MAGIC:
        return None
    pid = persistence_id
    if data[4] != VERSION:
        raise UnknownEnvelopeVersion("the state of %r is an envelope of version %d; this client reads version 1"
                                     % (pid, data[4]), persistence_id=pid, version=data[4])
    if len(data) < 6:
        raise CorruptEnvelope("the envelope of %r ends before its flags" % (pid,), persistence_id=pid)
    flags = data[5]
    if flags & _RESERVED_FLAGS or flags & _COMPRESSION_MASK == 3 \
            or flags & (FLAG_ENCRYPTED | FLAG_INTEGRITY) == FLAG_ENCRYPTED | FLAG_INTEGRITY:
        raise UnknownEnvelopeVersion("the envelope of %r has flags 0x%02x, which version 1 does not define "
                                     "(written by a newer client?)" % (pid, flags), persistence_id=pid, flags=flags)
    encrypted = bool(flags & FLAG_ENCRYPTED)
    keyed = bool(flags & (FLAG_ENCRYPTED | FLAG_INTEGRITY))
    header_size = HEADER_BYTES + (NONCE_BYTES if encrypted else 0)
    tag_size = GCM_TAG_BYTES if encrypted else HMAC_TAG_BYTES if keyed else 0
    if len(data) < header_size + tag_size:
        raise CorruptEnvelope("the envelope of %r (%s) has %d bytes, fewer than its header and tag (%d)"
                              % (pid, mode_name(flags), len(data), header_size + tag_size), persistence_id=pid)
    _, _, _, key_id, revision, length = _HEADER.unpack_from(data)
    if keyed and key_id == 0:
        raise CorruptEnvelope("the keyed envelope of %r names key id 0" % (pid,), persistence_id=pid)
    if not keyed and key_id != 0:
        raise CorruptEnvelope("the unkeyed envelope of %r names key id %d" % (pid, key_id), persistence_id=pid)
    return EnvelopeHeader(flags, key_id, revision, length, bytes(data[HEADER_BYTES:header_size]))


def encode_envelope(state: bytes, *, flags: int, key_id: int = 0, key: Optional[bytes] = None,
                    info: bytes = b"", namespace: str, persistence_id: str, revision: int,
                    nonce: bytes = b"") -> bytes:
    """The envelope of ``state`` (ENVELOPE.md section 6.1), bound to ``namespace``, ``persistence_id`` and
    ``revision`` (the revision being written); ``key`` is the ring key ``key_id``, ``nonce`` 12 bytes when
    ENCRYPTED. The arguments are trusted (the codec checked them)."""
    state = bytes(state)
    body = z.compress(flags & _COMPRESSION_MASK, state)
    header = _HEADER.pack(MAGIC, VERSION, flags, key_id, revision, len(state)) + nonce
    if not flags & (FLAG_ENCRYPTED | FLAG_INTEGRITY):
        return header + body
    assert key is not None
    ns, pid = namespace.encode("utf-8"), persistence_id.encode("utf-8")
    sk = crypto.subkey(key, info, ns, pid)
    ad = _associated_data(header, ns, pid)
    if flags & FLAG_ENCRYPTED:
        return header + crypto.gcm_seal(sk, nonce, body, ad)
    return header + body + crypto.hmac_tag(sk, ad + body)


def decode_envelope(data: bytes, *, keys: Optional[KeyRing], info: bytes, namespace: str, persistence_id: str,
                    revision: int, max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
                    allow_unkeyed: bool = True) -> bytes:
    """The state held by ``data``, the state of ``persistence_id`` at ``revision`` in ``namespace``: the checks
    of ENVELOPE.md section 6.2 in their order, each failure its own EnvelopeError. A state that is not an
    envelope is returned as written (unless ``allow_unkeyed`` is false: then it, and any unkeyed envelope,
    is Tampered)."""
    data = bytes(data)
    pid = persistence_id
    h = parse_header(data, pid)
    if h is None or not h.keyed:
        if not allow_unkeyed:
            raise Tampered("the state of %r is %s, and this codec accepts only keyed envelopes"
                           % (pid, "not an envelope" if h is None else "an unkeyed envelope"), persistence_id=pid)
        if h is None:
            return data
    if h.revision != revision:
        raise RolledBack("the envelope of %r was written for revision %d, the record is at revision %d "
                         "(rolled back or replayed)" % (pid, h.revision, revision), persistence_id=pid,
                         envelope_revision=h.revision, record_revision=revision)
    body = data[h.size:len(data) - h.tag_size]
    key = None
    if h.keyed:
        key = keys.key(h.key_id) if keys is not None else None
        if key is None:
            held = "holds keys %s" % list(keys.ids) if keys is not None else "has no key ring"
            raise WrongKey("the envelope of %r was written under key %d; this codec %s" % (pid, h.key_id, held),
                           persistence_id=pid, key_id=h.key_id)
    try:
        if h.encrypted:
            crypto.require_aes_gcm()
        if h.compression == z.ZSTD:
            z.require_zstd()
    except EnvelopeModeUnavailable as exc:
        exc.persistence_id = pid
        raise
    if key is not None:
        ns, pidb = namespace.encode("utf-8"), pid.encode("utf-8")
        sk = crypto.subkey(key, info, ns, pidb)
        ad = _associated_data(data[:h.size], ns, pidb)
        if h.encrypted:
            try:
                body = crypto.gcm_open(sk, h.nonce, data[h.size:], ad)
            except crypto.AuthenticationFailed:
                raise _tampered(pid, h, namespace) from None
        elif not crypto.tags_equal(crypto.hmac_tag(sk, ad + body), data[len(data) - h.tag_size:]):
            raise _tampered(pid, h, namespace)
    if h.length > max_decompressed:
        raise EnvelopeTooLarge("the envelope of %r holds %d bytes, over this codec's max_decompressed %d"
                               % (pid, h.length, max_decompressed), persistence_id=pid, length=h.length,
                               bound=max_decompressed)
    try:
        return z.decompress(h.compression, body, h.length)
    except z.BodyError as exc:
        raise CorruptEnvelope("the envelope of %r (%s): %s" % (pid, mode_name(h.flags), exc),
                              persistence_id=pid) from None


def _tampered(pid: str, h: EnvelopeHeader, namespace: str) -> Tampered:
    return Tampered("the envelope of %r (%s, key %d) does not verify in namespace %r: changed, copied from "
                    "another id or namespace, or written with another key or info"
                    % (pid, mode_name(h.flags), h.key_id, namespace), persistence_id=pid)


class Envelope:
    """A codec: how a client wraps the states it writes and unwraps those it reads (ENVELOPE.md).

    ``compression``: None, ``"gzip"`` or ``"zstd"`` (the ``zstandard`` package: ``pgstate[zstd]``).
    ``keys``: a :class:`KeyRing` to encrypt with AES-256-GCM (the ``cryptography`` package:
    ``pgstate[crypto]``), or with ``integrity_only=True`` to authenticate with HMAC-SHA256 and leave the
    state in the clear (standard library only); None for neither. ``info``: the application's security
    domain (e.g. ``"billing/orders"``), mandatory with keys, no default: readers must give the writer's.
    ``max_decompressed``: the largest state this codec reads or writes (default 64 MiB), checked before
    decompressing. ``allow_unkeyed``: with keys, whether states that are not keyed envelopes (plain
    records, unkeyed envelopes) are returned as written (the default, so a store can migrate) or refused
    as :class:`~pgstate.Tampered`.

    Writing always wraps (flags 0 without compression and keys); reading decodes every mode this
    installation supports, whatever the codec writes, and returns a state without the envelope's prefix
    as written. Raises InvalidArgument for a bad configuration and EnvelopeModeUnavailable, when made,
    if its own mode needs a package that is missing. Immutable and thread-safe; its repr shows no key.
    """

    __slots__ = ("_compression", "_flags", "_keys", "_info", "_info_text", "_max", "_allow_unkeyed")

    def __init__(self, compression: Optional[str] = None, *, keys: Optional[KeyRing] = None,
                 integrity_only: bool = False, info: Optional[str] = None,
                 max_decompressed: int = DEFAULT_MAX_DECOMPRESSED, allow_unkeyed: bool = True) -> None:
        if compression not in _COMPRESSIONS:
            raise InvalidArgument("compression is None, 'gzip' or 'zstd', not %r" % (compression,))
        if keys is not None and not isinstance(keys, KeyRing):
            raise InvalidArgument("keys is a pgstate.KeyRing or None, not %s" % type(keys).__name__)
        if integrity_only and keys is None:
            raise InvalidArgument("integrity_only needs keys (a KeyRing) to authenticate with")
        if isinstance(max_decompressed, bool) or not isinstance(max_decompressed, int) \
                or not 0 <= max_decompressed <= MAX_LENGTH:
            raise InvalidArgument("max_decompressed is an int in 0..2^32-1 (bytes), not %r" % (max_decompressed,))
        info_bytes = b""
        if keys is not None:
            if not isinstance(info, str) or not info:
                raise InvalidArgument("a codec with keys needs info: the application's security domain, e.g. "
                                      "info='billing/orders' (no default: readers must name the writer's)")
            try:
                info_bytes = info.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidArgument("info %r is not encodable as UTF-8" % (info,)) from None
            if len(info_bytes) > MAX_INFO_BYTES:
                raise InvalidArgument("info has %d UTF-8 bytes, more than 65535" % len(info_bytes))
        elif info is not None and not isinstance(info, str):
            raise InvalidArgument("info is a str, not %s" % type(info).__name__)
        if not allow_unkeyed and keys is None:
            raise InvalidArgument("allow_unkeyed=False needs keys: a codec without keys reads unkeyed envelopes")
        self._compression = _COMPRESSIONS[compression]
        mode = 0 if keys is None else FLAG_INTEGRITY if integrity_only else FLAG_ENCRYPTED
        self._flags = self._compression | mode
        self._keys = keys
        self._info = info_bytes
        self._info_text = info
        self._max = max_decompressed
        self._allow_unkeyed = bool(allow_unkeyed)
        # Where possible, a missing package is said when the codec is made, not at the first write.
        if self._compression == z.ZSTD:
            z.require_zstd()
        if mode == FLAG_ENCRYPTED:
            crypto.require_aes_gcm()

    @property
    def compression(self) -> Optional[str]:
        return None if self._compression == z.NONE else z.NAMES[self._compression]

    @property
    def keys(self) -> Optional[KeyRing]:
        return self._keys

    @property
    def integrity_only(self) -> bool:
        return bool(self._flags & FLAG_INTEGRITY)

    @property
    def info(self) -> Optional[str]:
        return self._info_text

    @property
    def max_decompressed(self) -> int:
        return self._max

    @property
    def allow_unkeyed(self) -> bool:
        return self._allow_unkeyed

    @property
    def flags(self) -> int:
        """The flags byte of the envelopes this codec writes."""
        return self._flags

    @property
    def mode(self) -> str:
        """"none", "gzip", "zstd+aes_gcm", "hmac", ...: what this codec writes."""
        return mode_name(self._flags)

    def __repr__(self) -> str:
        keys = "" if self._keys is None else ", keys=%r, info=%r" % (self._keys, self._info_text)
        return "Envelope(%s%s)" % (self.mode, keys)

    def encode(self, state: bytes, *, persistence_id: str, revision: int, namespace: str = "") -> bytes:
        """The envelope of ``state`` as the state of ``persistence_id`` at ``revision`` (the revision being
        written: an upsert's ``expected_revision`` + 1) in ``namespace`` (the effective one)."""
        if not isinstance(state, (bytes, bytearray, memoryview)):
            raise InvalidArgument("state must be bytes-like, not %s" % type(state).__name__)
        if isinstance(revision, bool) or not isinstance(revision, int) or not 1 <= revision <= MAX_REVISION:
            raise InvalidArgument("an envelope's revision is an int in 1..2^63-1, not %r" % (revision,))
        ns, pid = namespace.encode("utf-8"), persistence_id.encode("utf-8")
        if len(ns) > 255 or not pid or len(pid) > 255:
            raise InvalidArgument("the namespace (0..255 bytes) or id (1..255 bytes) is too long to bind")
        size = len(memoryview(state))
        if size > self._max:
            raise EnvelopeTooLarge("the state of %r has %d bytes, over this codec's max_decompressed %d (it could "
                                   "not be read back)" % (persistence_id, size, self._max),
                                   persistence_id=persistence_id, length=size, bound=self._max)
        if self._keys is None:
            return encode_envelope(state, flags=self._flags, namespace=namespace, persistence_id=persistence_id,
                                   revision=revision)
        active = self._keys.active
        nonce = os.urandom(NONCE_BYTES) if self._flags & FLAG_ENCRYPTED else b""
        return encode_envelope(state, flags=self._flags, key_id=active, key=self._keys.key(active), info=self._info,
                               namespace=namespace, persistence_id=persistence_id, revision=revision, nonce=nonce)

    def decode(self, data: bytes, *, persistence_id: str, revision: int, namespace: str = "") -> bytes:
        """The state in ``data``, the stored state of ``persistence_id`` at ``revision`` (the record's) in
        ``namespace`` (the effective one); raises the EnvelopeError of the first check that fails."""
        return decode_envelope(data, keys=self._keys, info=self._info, namespace=namespace,
                               persistence_id=persistence_id, revision=revision, max_decompressed=self._max,
                               allow_unkeyed=self._allow_unkeyed)

    def is_current(self, data: bytes) -> bool:
        """Whether ``data`` is an envelope as this codec writes it now (its flags, under the active key). Reads the
        header only: nothing is verified."""
        try:
            h = parse_header(data)
        except (UnknownEnvelopeVersion, CorruptEnvelope):
            return False
        if h is None or h.flags != self._flags:
            return False
        return h.key_id == (self._keys.active if self._keys is not None else 0)

