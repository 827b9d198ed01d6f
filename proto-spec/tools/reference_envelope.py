"""Independent reference decoder of the pgstate envelope v1 (gen_envelope_vectors.py --self-test).

It imports nothing of the generator: the generator builds envelopes with struct and derives subkeys
with the `cryptography` package's HKDF; this decoder reads them with int.from_bytes and derives the
subkeys by hand after RFC 5869 (stdlib hmac).  AES-256-GCM comes from `cryptography` (there is no
other), zstd from zstd_tool.py.  The rules and their order are ENVELOPE.md section 6, typed in here, not
imported.
"""

import hashlib
import hmac
import zlib

import zstd_tool

MAGIC = b"PGSE"
SALT = b"pgstate-envelope-v1"


class EnvelopeFailure(Exception):
    """``error_class`` is one of the classes of ENVELOPE.md section 7."""

    def __init__(self, error_class, why):
        super().__init__("%s: %s" % (error_class, why))
        self.error_class = error_class


def hkdf_sha256(ikm, salt, info, length):
    """RFC 5869, section 2.2 (extract) and 2.3 (expand)."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def _len_prefixed(data, width):
    return len(data).to_bytes(width, "big") + data


def subkey(key, info, namespace, persistence_id):
    hkdf_info = (_len_prefixed(info.encode("utf-8"), 2) + _len_prefixed(namespace.encode("utf-8"), 1)
                 + _len_prefixed(persistence_id.encode("utf-8"), 1))
    return hkdf_sha256(key, SALT, hkdf_info, 32)


def _gunzip(body, length):
    d = zlib.decompressobj(wbits=31)
    try:
        out = d.decompress(body)
    except zlib.error as exc:
        raise EnvelopeFailure("corrupt", "gzip: %s" % exc)
    if not d.eof:
        raise EnvelopeFailure("corrupt", "the gzip member is truncated")
    if d.unused_data:
        raise EnvelopeFailure("corrupt", "%d bytes follow the gzip member" % len(d.unused_data))
    return out


def _unzstd(body, length):
    try:
        out, trailing = zstd_tool.decompress_one_frame(body)
    except ValueError as exc:
        raise EnvelopeFailure("corrupt", "zstd: %s" % exc)
    if trailing:
        raise EnvelopeFailure("corrupt", "%d bytes follow the zstd frame" % len(trailing))
    return out


def decode(data, revision, keys, info, namespace, persistence_id, max_decompressed):
    """The state held by ``data`` (a record's state at ``revision``), or raises EnvelopeFailure.

    ``keys``: {key id (int): 32-byte key}; empty for a reader without a key ring.
    """
    # 1. The prefix: magic and version.
    if len(data) < 5 or data[:4] != MAGIC:
        return data  # not an envelope: as written
    if data[4] != 1:
        raise EnvelopeFailure("unknown_version", "version %d" % data[4])
    # 2. Flags.
    if len(data) < 6:
        raise EnvelopeFailure("corrupt", "no flags byte")
    flags = data[5]
    compression = flags & 0x03
    encrypted = bool(flags & 0x04)
    integrity = bool(flags & 0x08)
    if flags & 0xF0:
        raise EnvelopeFailure("unknown_version", "reserved flag bits 0x%02x" % (flags & 0xF0))
    if compression == 3:
        raise EnvelopeFailure("unknown_version", "compression 3")
    if encrypted and integrity:
        raise EnvelopeFailure("unknown_version", "ENCRYPTED and INTEGRITY together")
    # 3. Sizes.
    header_len = 22 + (12 if encrypted else 0)
    tag_len = 16 if encrypted else 32 if integrity else 0
    if len(data) < header_len + tag_len:
        raise EnvelopeFailure("corrupt", "%d bytes, fewer than header and tag (%d)"
                              % (len(data), header_len + tag_len))
    key_id = int.from_bytes(data[6:10], "big")
    env_revision = int.from_bytes(data[10:18], "big")
    length = int.from_bytes(data[18:22], "big")
    keyed = encrypted or integrity
    if keyed and key_id == 0:
        raise EnvelopeFailure("corrupt", "key id 0 in a keyed envelope")
    if not keyed and key_id != 0:
        raise EnvelopeFailure("corrupt", "key id %d in an unkeyed envelope" % key_id)
    # 4. The revision, in the clear header.
    if env_revision != revision:
        raise EnvelopeFailure("rolled_back", "envelope revision %d, record revision %d" % (env_revision, revision))
    header = data[:header_len]
    body = data[header_len:len(data) - tag_len]
    tag = data[len(data) - tag_len:]
    # 5. The key, 6. authentication.
    if keyed:
        if key_id not in keys:
            raise EnvelopeFailure("wrong_key", "key id %d is not in the ring" % key_id)
        sk = subkey(keys[key_id], info, namespace, persistence_id)
        ad = (header + _len_prefixed(namespace.encode("utf-8"), 1)
              + _len_prefixed(persistence_id.encode("utf-8"), 1))
        if encrypted:
            from cryptography.exceptions import InvalidTag
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
            try:
                body = AESGCM(sk).decrypt(header[22:34], body + tag, ad)
            except InvalidTag:
                raise EnvelopeFailure("tampered", "GCM tag mismatch")
        else:
            want = hmac.new(sk, ad + body, hashlib.sha256).digest()
            if not hmac.compare_digest(want, tag):
                raise EnvelopeFailure("tampered", "HMAC mismatch")
    # 7. The bound, 8. the body.
    if length > max_decompressed:
        raise EnvelopeFailure("too_large", "length %d over the bound %d" % (length, max_decompressed))
    if compression == 0:
        out = body
    elif compression == 1:
        out = _gunzip(body, length)
    else:
        out = _unzstd(body, length)
    if len(out) != length:
        raise EnvelopeFailure("corrupt", "the body holds %d bytes, the header says %d" % (len(out), length))
    return out
