#!/usr/bin/env python3
"""Generate the pgstate envelope v1 test vectors (proto-spec/vectors/envelope.json).

Usage:
    gen_envelope_vectors.py              write proto-spec/vectors/envelope.json
    gen_envelope_vectors.py --check      regenerate in memory; exit 1 if the file on disk differs
    gen_envelope_vectors.py --self-test  decode every vector with the independent reference decoder
                                         (reference_envelope.py) and check the hex examples in ENVELOPE.md

Needs the `cryptography` package (Debian python3-cryptography) for HKDF and AES-256-GCM, zlib for gzip,
and zstd through zstd_tool.py (Debian python3-zstandard, or the zstd command).

Compressor output is not the same in every library version, so a compressed body is made once and kept:
when envelope.json already holds a vector's compressed body (``compressed_hex``) and it decodes to the
intended bytes, the generator takes it from there instead of compressing again.  Everything else -- headers,
subkeys, ciphertexts, tags -- is derived from fixed inputs, so --check compares the whole file exactly: the
deterministic parts are regenerated and the kept compressed parts are verified by decoding them.

The encoder here uses struct and the `cryptography` HKDF; the reference decoder uses neither and imports
nothing of this file.  The output is deterministic (fixed order, 2-space indent, trailing newline, UTF-8).
"""

import argparse
import hashlib
import hmac
import json
import os
import re
import struct
import sys
import zlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import reference_envelope
import zstd_tool

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC_DIR = os.path.dirname(HERE)
VECTOR_FILE = os.path.join(SPEC_DIR, "vectors", "envelope.json")
ENVELOPE_MD = os.path.join(SPEC_DIR, "ENVELOPE.md")

# --------------------------------------------------------------------------
# The format (ENVELOPE.md sections 3 to 5)
# --------------------------------------------------------------------------

MAGIC = b"PGSE"
VERSION = 1
SALT = b"pgstate-envelope-v1"
DEFAULT_MAX_DECOMPRESSED = 64 * 1024 * 1024

NONE, GZIP, ZSTD = 0, 1, 2
COMPRESSION_NAMES = {NONE: "none", GZIP: "gzip", ZSTD: "zstd"}
ENCRYPTED = 0x04
INTEGRITY = 0x08

ERROR_CLASSES = ["unknown_version", "corrupt", "rolled_back", "wrong_key", "tampered", "too_large",
                 "unavailable_mode"]
# unavailable_mode depends on the reader's build, not on the bytes: no vector can show it.
VECTOR_ERROR_CLASSES = ERROR_CLASSES[:-1]


def mode_name(flags):
    return "aes_gcm" if flags & ENCRYPTED else "hmac" if flags & INTEGRITY else "none"


def str8(data):
    return struct.pack(">B", len(data)) + data


def hkdf_info(info, namespace, persistence_id):
    return (struct.pack(">H", len(info.encode())) + info.encode() + str8(namespace.encode())
            + str8(persistence_id.encode()))


def derive_subkey(key, info, namespace, persistence_id):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT,
                info=hkdf_info(info, namespace, persistence_id)).derive(key)


def header(flags, key_id, revision, length, nonce=b""):
    return MAGIC + struct.pack(">BBIQI", VERSION, flags, key_id, revision, length) + nonce


def associated_data(head, namespace, persistence_id):
    return head + str8(namespace.encode()) + str8(persistence_id.encode())


def seal(flags, body, *, length, key_id=0, key=None, nonce=b"", revision, info, namespace, persistence_id):
    """The envelope of an already compressed ``body``; ``length`` is written as given (invalid vectors lie)."""
    head = header(flags, key_id, revision, length, nonce)
    if not flags & (ENCRYPTED | INTEGRITY):
        return head + body
    sk = derive_subkey(key, info, namespace, persistence_id)
    ad = associated_data(head, namespace, persistence_id)
    if flags & ENCRYPTED:
        return head + AESGCM(sk).encrypt(nonce, body, ad)  # ciphertext || 16-byte tag
    return head + body + hmac.new(sk, ad + body, hashlib.sha256).digest()


# --------------------------------------------------------------------------
# Fixed inputs
# --------------------------------------------------------------------------

KEY1 = bytes(range(0x00, 0x20))
KEY2 = bytes(range(0x20, 0x40))
KEY_OTHER = bytes(range(0xa0, 0xc0))  # a different key under id 2
RING = {1: KEY1, 2: KEY2}
INFO = "billing/orders"
NAMESPACE = "billing"
PID = "order-42"
REVISION = 7

SMALL = b'{"status":"open","items":3}'
# 64 KiB of JSON lines: compressible, but not a run of one byte.
BIG = b"".join(b'{"line":%05d,"status":"open","total":"%d.50"}\n' % (i, i * 7 % 1000) for i in range(2000))[:65536]
ZEROS = bytes(1024 * 1024)  # 1 MiB: the bombs' contents
BOMB_BOUND = 65536


def nonce(n):
    return bytes.fromhex("a0a1a2a3a4a5a6a7") + struct.pack(">I", n)


# --------------------------------------------------------------------------
# Compressed bodies: made once, kept
# --------------------------------------------------------------------------


def _decompress(algorithm, body):
    if algorithm == GZIP:
        d = zlib.decompressobj(wbits=31)
        out = d.decompress(body)
        return out if d.eof and not d.unused_data else None
    out, trailing = zstd_tool.decompress_one_frame(body)
    return None if trailing else out


def _compress(algorithm, data, content_size):
    if algorithm == GZIP:
        c = zlib.compressobj(9, zlib.DEFLATED, 31)  # a gzip member; zlib writes mtime 0
        return c.compress(data) + c.flush()
    return zstd_tool.compress(data, 3, content_size)


class Bodies:
    """The honest compressed bodies, by the name of the vector that holds them as ``compressed_hex``."""

    def __init__(self, old_doc):
        self.kept = {}
        for v in (old_doc or {}).get("vectors", []) + (old_doc or {}).get("invalid", []):
            if "compressed_hex" in v:
                self.kept[v["name"]] = bytes.fromhex(v["compressed_hex"])

    def get(self, name, algorithm, data, content_size=True):
        body = self.kept.get(name)
        if body is not None:
            try:
                ok = _decompress(algorithm, body) == data
            except (ValueError, zlib.error):
                ok = False
            if ok and (algorithm != ZSTD or _has_content_size(body) == content_size):
                return body
        body = _compress(algorithm, data, content_size)
        self.kept[name] = body
        return body


def _has_content_size(frame):
    fhd = frame[4]
    return (fhd >> 6) != 0 or bool(fhd & 0x20)


# --------------------------------------------------------------------------
# Vectors
# --------------------------------------------------------------------------


def _keys_json(ring):
    return {str(k): ring[k].hex() for k in sorted(ring)}


def passthrough(name, description, state):
    return {
        "name": name,
        "description": description,
        "info": INFO,
        "namespace": NAMESPACE,
        "persistence_id": PID,
        "revision": REVISION,
        "keys": _keys_json(RING),
        "active_key_id": 2,
        "max_decompressed": DEFAULT_MAX_DECOMPRESSED,
        "passthrough": True,
        "plaintext_hex": state.hex(),
        "envelope_hex": state.hex(),
        "encode_exact": False,
    }


def valid(bodies, name, description, plaintext, *, compression=NONE, mode=0, key_id=None, ring=None,
          active=None, nonce_n=None, namespace=NAMESPACE, persistence_id=PID, revision=REVISION,
          content_size=True):
    keyed = bool(mode)
    ring = ring if ring is not None else (RING if keyed else {})
    key_id = key_id if key_id is not None else (2 if keyed else 0)
    active = active if active is not None else (key_id if keyed else None)
    flags = compression | mode
    body = plaintext if compression == NONE else bodies.get(name, compression, plaintext, content_size)
    n = nonce(nonce_n) if mode & ENCRYPTED else b""
    envelope = seal(flags, body, length=len(plaintext), key_id=key_id, key=ring.get(key_id), nonce=n,
                    revision=revision, info=INFO, namespace=namespace, persistence_id=persistence_id)
    v = {
        "name": name,
        "description": description,
        "info": INFO,
        "namespace": namespace,
        "persistence_id": persistence_id,
        "revision": revision,
        "keys": _keys_json(ring),
        "active_key_id": active,
        "max_decompressed": DEFAULT_MAX_DECOMPRESSED,
        "flags": flags,
        "compression": COMPRESSION_NAMES[compression],
        "mode": mode_name(flags),
        "key_id": key_id,
    }
    if mode & ENCRYPTED:
        v["nonce_hex"] = n.hex()
    if keyed:
        sk = derive_subkey(ring[key_id], INFO, namespace, persistence_id)
        v["hkdf_info_hex"] = hkdf_info(INFO, namespace, persistence_id).hex()
        v["subkey_hex"] = sk.hex()
        head_len = 34 if mode & ENCRYPTED else 22
        v["associated_data_hex"] = associated_data(envelope[:head_len], namespace, persistence_id).hex()
    v["plaintext_hex"] = plaintext.hex()
    if compression != NONE:
        v["compressed_hex"] = body.hex()
    v["envelope_hex"] = envelope.hex()
    v["encode_exact"] = compression == NONE
    return v


def invalid(name, description, envelope, error, *, revision=REVISION, ring=None, namespace=NAMESPACE,
            persistence_id=PID, info=INFO, max_decompressed=DEFAULT_MAX_DECOMPRESSED, compressed=None):
    assert error in VECTOR_ERROR_CLASSES, error
    v = {
        "name": name,
        "description": description,
        "info": info,
        "namespace": namespace,
        "persistence_id": persistence_id,
        "revision": revision,
        "keys": _keys_json(RING if ring is None else ring),
        "max_decompressed": max_decompressed,
        "envelope_hex": bytes(envelope).hex(),
        "error": error,
    }
    if compressed is not None:
        v["compressed_hex"] = compressed.hex()
    return v


def flip(data, offset, bit=0x01):
    b = bytearray(data)
    b[offset] ^= bit
    return bytes(b)


def set_byte(data, offset, value):
    b = bytearray(data)
    b[offset] = value
    return bytes(b)


def valid_vectors(bodies):
    def V(*args, **kwargs):
        return valid(bodies, *args, **kwargs)

    return [
        passthrough("passthrough_plain_state", "A state without the prefix \"PGSE\" 01 is not an envelope: it is "
                    "returned as written (plain records coexist with enveloped ones).", SMALL),
        passthrough("passthrough_empty_state", "An empty state is not an envelope: returned as written.", b""),
        passthrough("passthrough_magic_without_version", "Exactly the 4 bytes \"PGSE\": no version byte "
                    "follows, so it is not an envelope and is returned as written.", MAGIC),
        V("unkeyed_uncompressed", "Flags 0: an envelope without compression or key (what a writer may always "
          "write); key id 0; the body is the state.", SMALL),
        V("unkeyed_uncompressed_empty", "Flags 0 around an empty state: the 22-byte header alone.", b""),
        V("unkeyed_uncompressed_magic_state", "Flags 0 around a plain state that itself begins with \"PGSE\" 02: "
          "wrapped, it reads back as written (unwrapped, it would read as an unknown version).",
          MAGIC + b"\x02 not an envelope"),
        V("gzip", "gzip (flags 0x01), no key: the body is one gzip member of the state.", SMALL, compression=GZIP),
        V("zstd", "zstd (flags 0x02), no key: the body is one zstd frame of the state.", SMALL, compression=ZSTD),
        V("zstd_without_content_size", "zstd whose frame does not declare its content size (as a streaming "
          "writer makes it): readers bound the output by `length` all the same.", SMALL, compression=ZSTD,
          content_size=False),
        V("gzip_64k", "gzip of a compressible 64 KiB state.", BIG, compression=GZIP),
        V("aes_gcm", "AES-256-GCM (flags 0x04) under the active key 2: nonce, ciphertext, 16-byte tag; the "
          "associated data binds namespace \"billing\", id \"order-42\" and revision 7.", SMALL,
          mode=ENCRYPTED, nonce_n=1),
        V("aes_gcm_empty", "AES-256-GCM of an empty state: header, nonce and tag only.", b"",
          mode=ENCRYPTED, nonce_n=2),
        V("aes_gcm_gzip", "gzip, then AES-256-GCM (flags 0x05): compressed before encrypting.", SMALL,
          compression=GZIP, mode=ENCRYPTED, nonce_n=3),
        V("aes_gcm_zstd", "zstd, then AES-256-GCM (flags 0x06).", SMALL, compression=ZSTD, mode=ENCRYPTED,
          nonce_n=4),
        V("aes_gcm_zstd_64k", "zstd, then AES-256-GCM, of the compressible 64 KiB state.", BIG,
          compression=ZSTD, mode=ENCRYPTED, nonce_n=5),
        V("aes_gcm_retired_key", "Written under key 1, read with the ring {1, 2} whose active key is 2: a "
          "retired key still reads (rotation, ENVELOPE.md section 8).", SMALL, mode=ENCRYPTED, key_id=1,
          active=2, nonce_n=6),
        V("aes_gcm_shared_namespace", "AES-256-GCM in the shared namespace \"\" (a server without IDENTITY, or "
          "namespace=\"\" named): the namespace field of the associated data and the subkey info is 00.",
          SMALL, mode=ENCRYPTED, namespace="", nonce_n=7),
        V("aes_gcm_utf8_id", "A persistence id of non-ASCII characters is bound by its UTF-8 bytes (its length "
          "byte counts bytes, not characters).", SMALL, mode=ENCRYPTED, persistence_id="заказ-42", nonce_n=8),
        V("aes_gcm_edge_values", "The largest key id (2^32-1) and the largest revision (2^63-1).", SMALL,
          mode=ENCRYPTED, key_id=0xFFFFFFFF, ring={0xFFFFFFFF: KEY2}, revision=2**63 - 1, nonce_n=9),
        V("hmac", "HMAC-SHA256 (flags 0x08): the body in the clear, a 32-byte tag over the associated data and "
          "the body.", SMALL, mode=INTEGRITY),
        V("hmac_empty", "HMAC-SHA256 of an empty state: header and tag only.", b"", mode=INTEGRITY),
        V("hmac_gzip", "gzip, then HMAC-SHA256 over the compressed body (flags 0x09).", SMALL,
          compression=GZIP, mode=INTEGRITY),
        V("hmac_zstd", "zstd, then HMAC-SHA256 over the compressed body (flags 0x0a).", SMALL,
          compression=ZSTD, mode=INTEGRITY),
    ]


def invalid_vectors(bodies, by_name):
    def env(name):
        return bytes.fromhex(by_name[name]["envelope_hex"])

    plain = env("unkeyed_uncompressed")
    gcm = env("aes_gcm")
    gcm_empty = env("aes_gcm_empty")
    mac = env("hmac")
    mac_empty = env("hmac_empty")
    gz_small = bodies.get("gzip", GZIP, SMALL)
    zs_small = bodies.get("zstd", ZSTD, SMALL)
    gz_zeros = bodies.get("too_large_gzip_bomb", GZIP, ZEROS)
    zs_zeros = bodies.get("too_large_zstd_bomb", ZSTD, ZEROS)
    zs_zeros_streamed = bodies.get("zstd_without_content_size_expands_past_length", ZSTD, ZEROS,
                                   content_size=False)

    def sealed(flags, body, length, key_id=0, nonce_n=None, revision=REVISION):
        key = {1: KEY1, 2: KEY2}.get(key_id)
        return seal(flags, body, length=length, key_id=key_id, key=key,
                    nonce=nonce(nonce_n) if nonce_n is not None else b"", revision=revision, info=INFO,
                    namespace=NAMESPACE, persistence_id=PID)

    vs = [
        # -- unknown_version: the prefix and the flags -------------------------------------------------
        invalid("version_2", "\"PGSE\" followed by version 2: a newer format this reader does not know.",
                set_byte(plain, 4, 2), "unknown_version"),
        invalid("version_0", "\"PGSE\" followed by 00: not version 1.", set_byte(plain, 4, 0), "unknown_version"),
        invalid("version_2_alone", "\"PGSE\" 02 and nothing more: the version is checked before any length.",
                MAGIC + b"\x02", "unknown_version"),
        invalid("reserved_flag_bit_4", "Flag bit 4 (0x10) is reserved.", set_byte(plain, 5, 0x10),
                "unknown_version"),
        invalid("reserved_flag_bit_7", "Flag bit 7 (0x80) is reserved, here beside ENCRYPTED.",
                set_byte(gcm, 5, 0x84), "unknown_version"),
        invalid("compression_3", "Compression value 3 is reserved.", set_byte(plain, 5, 0x03), "unknown_version"),
        invalid("encrypted_and_integrity", "ENCRYPTED and INTEGRITY together (flags 0x0c) are not a mode.",
                set_byte(gcm, 5, 0x0C), "unknown_version"),
        # -- corrupt: lengths and key ids ---------------------------------------------------------------
        invalid("magic_and_version_only", "\"PGSE\" 01 without a flags byte.", MAGIC + b"\x01", "corrupt"),
        invalid("truncated_header", "An unkeyed envelope cut to 21 bytes: the header needs 22.", plain[:21],
                "corrupt"),
        invalid("truncated_nonce", "An encrypted envelope cut inside its nonce (27 of the 34 header bytes).",
                gcm[:27], "corrupt"),
        invalid("truncated_tag_gcm", "An encrypted envelope of an empty state with one byte of its tag cut: "
                "fewer bytes than header and tag.", gcm_empty[:-1], "corrupt"),
        invalid("truncated_tag_hmac", "An HMAC envelope of an empty state cut inside its tag.", mac_empty[:-5],
                "corrupt"),
        invalid("unkeyed_with_key_id", "An unkeyed envelope naming key id 1: unkeyed envelopes carry key id 0.",
                plain[:6] + struct.pack(">I", 1) + plain[10:], "corrupt"),
        invalid("keyed_with_key_id_0", "An encrypted envelope naming key id 0, which no ring holds.",
                gcm[:6] + struct.pack(">I", 0) + gcm[10:], "corrupt"),
        # -- rolled_back: the revision, before any key work -------------------------------------------------
        invalid("rolled_back_gcm", "An envelope bound to revision 7 in a record at revision 8: an older "
                "ciphertext written back (rolled back or replayed).", gcm, "rolled_back", revision=8),
        invalid("rolled_back_to_earlier_revision", "An envelope bound to revision 7 in a record at revision 3.",
                gcm, "rolled_back", revision=3),
        invalid("rolled_back_unkeyed", "The revision check applies to unkeyed envelopes too (there it catches "
                "mistakes, not attacks).", plain, "rolled_back", revision=8),
        invalid("rolled_back_before_key", "Revision mismatch and an unknown key id: the revision is checked "
                "first.", gcm, "rolled_back", revision=8, ring={1: KEY1}),
        # -- wrong_key -------------------------------------------------------------------------------------
        invalid("wrong_key_id", "Written under key 2, read with a ring holding only key 1.", gcm, "wrong_key",
                ring={1: KEY1}),
        invalid("wrong_key_no_ring", "An encrypted envelope read by a reader without a key ring.", gcm,
                "wrong_key", ring={}),
        invalid("wrong_key_hmac", "An HMAC envelope under key 2, read with a ring holding only key 1.", mac,
                "wrong_key", ring={1: KEY1}),
        # -- tampered --------------------------------------------------------------------------------------
        invalid("other_key_same_id", "Key id 2 in the reader's ring holds a different key.", gcm, "tampered",
                ring={2: KEY_OTHER}),
        invalid("flipped_body_bit_gcm", "One bit of the ciphertext flipped.", flip(gcm, 34), "tampered"),
        invalid("flipped_tag_bit_gcm", "One bit of the GCM tag flipped.", flip(gcm, len(gcm) - 1), "tampered"),
        invalid("flipped_header_bit_gcm", "One bit of the header's length field flipped (the header is "
                "associated data).", flip(gcm, 21), "tampered"),
        invalid("flipped_nonce_bit_gcm", "One bit of the nonce flipped.", flip(gcm, 22), "tampered"),
        invalid("truncated_by_one_gcm", "The last byte cut: body and tag shift, the tag fails.", gcm[:-1],
                "tampered"),
        invalid("other_persistence_id_gcm", "The envelope of \"order-42\" read as the state of \"order-43\" "
                "(copied to another id).", gcm, "tampered", persistence_id="order-43"),
        invalid("other_namespace_gcm", "The envelope of namespace \"billing\" read in namespace \"shipping\".",
                gcm, "tampered", namespace="shipping"),
        invalid("shared_namespace_gcm", "The envelope of namespace \"billing\" read in the shared namespace \"\".",
                gcm, "tampered", namespace=""),
        invalid("other_info_gcm", "Read with another application info (\"billing/invoices\"): another subkey.",
                gcm, "tampered", info="billing/invoices"),
        invalid("flipped_body_bit_hmac", "One bit of an HMAC envelope's clear body flipped.", flip(mac, 22),
                "tampered"),
        invalid("flipped_header_bit_hmac", "One bit of an HMAC envelope's length field flipped.", flip(mac, 21),
                "tampered"),
        invalid("other_persistence_id_hmac", "An HMAC envelope read as another id's state.", mac, "tampered",
                persistence_id="order-43"),
        invalid("too_large_after_authentication", "A length over the bound in a tampered envelope: "
                "authentication comes first.",
                flip(sealed(GZIP | ENCRYPTED, gz_zeros, len(ZEROS), key_id=2, nonce_n=10), 40), "tampered",
                max_decompressed=BOMB_BOUND),
        # -- too_large: the reader's decompression bound ------------------------------------------------------
        invalid("too_large_uncompressed", "An unkeyed uncompressed envelope whose length (27) exceeds the "
                "reader's bound (16).", plain, "too_large", max_decompressed=16),
        invalid("too_large_gzip_bomb", "1 MiB of zeros in about 1 KiB of gzip, read with a bound of 64 KiB: "
                "refused from the header's length, before decompressing.",
                sealed(GZIP, gz_zeros, len(ZEROS)), "too_large", max_decompressed=BOMB_BOUND,
                compressed=gz_zeros),
        invalid("too_large_zstd_bomb", "1 MiB of zeros in a few bytes of zstd, read with a bound of 64 KiB.",
                sealed(ZSTD, zs_zeros, len(ZEROS)), "too_large", max_decompressed=BOMB_BOUND,
                compressed=zs_zeros),
        invalid("too_large_aes_gcm_gzip", "An authentic encrypted gzip envelope of 1 MiB read with a bound of "
                "64 KiB.", sealed(GZIP | ENCRYPTED, gz_zeros, len(ZEROS), key_id=2, nonce_n=11), "too_large",
                max_decompressed=BOMB_BOUND),
        # -- corrupt: bodies ------------------------------------------------------------------------------
        invalid("uncompressed_length_mismatch", "Flags 0 with a length one more than the body.",
                sealed(NONE, SMALL, len(SMALL) + 1), "corrupt"),
        invalid("gzip_expands_past_length", "A gzip body of 1 MiB of zeros under a length of 16: decompressing "
                "stops after 17 bytes.", sealed(GZIP, gz_zeros, 16), "corrupt", compressed=gz_zeros),
        invalid("zstd_expands_past_length", "A zstd frame of 1 MiB of zeros (its content size says so) under a "
                "length of 16.", sealed(ZSTD, zs_zeros, 16), "corrupt", compressed=zs_zeros),
        invalid("zstd_without_content_size_expands_past_length", "A zstd frame that does not declare its size, "
                "of 1 MiB of zeros, under a length of 16.", sealed(ZSTD, zs_zeros_streamed, 16), "corrupt",
                compressed=zs_zeros_streamed),
        invalid("gzip_shorter_than_length", "A gzip body that yields one byte less than its length.",
                sealed(GZIP, gz_small, len(SMALL) + 1), "corrupt", compressed=gz_small),
        invalid("zstd_shorter_than_length", "A zstd body that yields one byte less than its length.",
                sealed(ZSTD, zs_small, len(SMALL) + 1), "corrupt", compressed=zs_small),
        invalid("gzip_truncated_member", "A gzip member without its last 4 bytes (part of the trailer).",
                sealed(GZIP, gz_small[:-4], len(SMALL)), "corrupt", compressed=gz_small[:-4]),
        invalid("gzip_two_members", "Two gzip members: the body is exactly one.",
                sealed(GZIP, gz_small + gz_small, len(SMALL)), "corrupt", compressed=gz_small + gz_small),
        invalid("zstd_trailing_bytes", "A zstd frame followed by 3 bytes: the body is exactly one frame.",
                sealed(ZSTD, zs_small + b"xyz", len(SMALL)), "corrupt", compressed=zs_small + b"xyz"),
        invalid("gzip_not_gzip", "The gzip flag over a body that is not gzip.",
                sealed(GZIP, b"not gzip at all", 15), "corrupt"),
        invalid("aes_gcm_gzip_body_not_gzip", "An authentic AES-256-GCM envelope whose decrypted body is not "
                "gzip: corrupt, checked after authentication.",
                sealed(GZIP | ENCRYPTED, b"not gzip at all", 15, key_id=2, nonce_n=12), "corrupt"),
    ]
    return vs


def subkey_vectors():
    rows = [
        ("subkey_billing_order_42", KEY2, INFO, NAMESPACE, PID),
        ("subkey_shared_namespace", KEY2, INFO, "", PID),
        ("subkey_other_info", KEY2, "billing/invoices", NAMESPACE, PID),
        ("subkey_key_1", KEY1, INFO, NAMESPACE, PID),
    ]
    return [{"name": name, "key_hex": key.hex(), "info": info, "namespace": ns, "persistence_id": pid,
             "hkdf_info_hex": hkdf_info(info, ns, pid).hex(), "subkey_hex": derive_subkey(key, info, ns, pid).hex()}
            for name, key, info, ns, pid in rows]


def build(old_doc):
    bodies = Bodies(old_doc)
    vectors = valid_vectors(bodies)
    by_name = {v["name"]: v for v in vectors}
    doc = {
        "description": "pgstate envelope v1 (ENVELOPE.md): valid envelopes (decode to plaintext_hex; encode to "
                       "envelope_hex exactly where encode_exact), invalid envelopes (the error class a reader "
                       "raises) and HKDF subkeys.",
        "format": {
            "magic_hex": MAGIC.hex(),
            "version": VERSION,
            "salt": SALT.decode(),
            "default_max_decompressed": DEFAULT_MAX_DECOMPRESSED,
            "error_classes": ERROR_CLASSES,
        },
        "subkeys": subkey_vectors(),
        "vectors": vectors,
        "invalid": invalid_vectors(bodies, by_name),
    }
    seen = set()
    for v in doc["subkeys"] + doc["vectors"] + doc["invalid"]:
        if not re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", v["name"]) or v["name"] in seen:
            raise SystemExit("vector name not unique or not snake_case: " + v["name"])
        seen.add(v["name"])
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------
# Self-test
# --------------------------------------------------------------------------


def _ring(v):
    return {int(k): bytes.fromhex(h) for k, h in v["keys"].items()}


def self_test(text):
    doc = json.loads(text)
    failures = []

    def decode(v):
        return reference_envelope.decode(bytes.fromhex(v["envelope_hex"]), v["revision"], _ring(v), v["info"],
                                         v["namespace"], v["persistence_id"], v["max_decompressed"])

    for s in doc["subkeys"]:
        got = reference_envelope.subkey(bytes.fromhex(s["key_hex"]), s["info"], s["namespace"], s["persistence_id"])
        if got.hex() != s["subkey_hex"]:
            failures.append("%s: the reference HKDF gives %s" % (s["name"], got.hex()))
    modes = set()
    for v in doc["vectors"]:
        name = v["name"]
        try:
            got = decode(v)
        except reference_envelope.EnvelopeFailure as exc:
            failures.append("%s: the reference decoder fails: %s" % (name, exc))
            continue
        if got.hex() != v["plaintext_hex"]:
            failures.append("%s: the reference decoder gives other bytes" % name)
        data = bytes.fromhex(v["envelope_hex"])
        if v.get("passthrough"):
            if data != got:
                failures.append(name + ": a passthrough vector must hold its plaintext")
            continue
        modes.add((v["compression"], v["mode"]))
        if data[5] != v["flags"] or int.from_bytes(data[6:10], "big") != v["key_id"] \
                or int.from_bytes(data[10:18], "big") != v["revision"] \
                or int.from_bytes(data[18:22], "big") != len(got):
            failures.append(name + ": the header does not say what the vector says")
        if v["encode_exact"] != (v["compression"] == "none"):
            failures.append(name + ": encode_exact must be true exactly without compression")
        if "subkey_hex" in v:
            sk = reference_envelope.subkey(_ring(v)[v["key_id"]], v["info"], v["namespace"], v["persistence_id"])
            if sk.hex() != v["subkey_hex"]:
                failures.append(name + ": subkey_hex differs from the reference HKDF")
    errors = set()
    for v in doc["invalid"]:
        errors.add(v["error"])
        try:
            decode(v)
            failures.append("%s: the reference decoder accepts it (expected %s)" % (v["name"], v["error"]))
        except reference_envelope.EnvelopeFailure as exc:
            if exc.error_class != v["error"]:
                failures.append("%s: expected %s, the reference decoder says %s" % (v["name"], v["error"], exc))
    want_modes = {("none", "none"), ("gzip", "none"), ("zstd", "none"), ("none", "aes_gcm"), ("gzip", "aes_gcm"),
                  ("zstd", "aes_gcm"), ("none", "hmac"), ("gzip", "hmac")}
    if not want_modes <= modes:
        failures.append("no vector for the modes %s" % sorted(want_modes - modes))
    if set(VECTOR_ERROR_CLASSES) - errors:
        failures.append("no vector for the error classes %s" % sorted(set(VECTOR_ERROR_CLASSES) - errors))
    # Hex examples quoted in ENVELOPE.md are exact copies of vectors.
    examples = 0
    everything = {v["name"]: v for v in doc["vectors"] + doc["invalid"]}
    if os.path.exists(ENVELOPE_MD):
        with open(ENVELOPE_MD, encoding="utf-8") as f:
            md = f.read()
        for m in re.finditer(r"Example \(vector `([a-z0-9_]+)`[^\n]*\n+```\n([0-9a-f]+)\n", md):
            examples += 1
            vname, hx = m.group(1), m.group(2)
            if vname not in everything:
                failures.append("ENVELOPE.md cites unknown vector " + vname)
            elif everything[vname]["envelope_hex"] != hx:
                failures.append("ENVELOPE.md example for %s differs from the vector" % vname)
    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    print("self-test: %d subkeys, %d valid and %d invalid envelopes, %d ENVELOPE.md examples (zstd: %s), "
          "%d failures" % (len(doc["subkeys"]), len(doc["vectors"]), len(doc["invalid"]), examples,
                           zstd_tool.backend(), len(failures)))
    return not failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if envelope.json differs from what this makes")
    ap.add_argument("--self-test", action="store_true", help="decode every vector with the reference decoder")
    args = ap.parse_args()
    try:
        with open(VECTOR_FILE, encoding="utf-8") as f:
            on_disk = f.read()
        old_doc = json.loads(on_disk)
    except OSError:
        on_disk, old_doc = None, None
    try:
        text = build(old_doc)
    except zstd_tool.ZstdUnavailable as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1
    if args.self_test:
        if not self_test(text):
            return 1
        if not args.check:
            return 0
    if args.check:
        if on_disk != text:
            print("envelope vectors out of date: vectors/envelope.json (run %s)" % sys.argv[0], file=sys.stderr)
            return 1
        print("envelope vectors up to date (%d valid, %d invalid, %d subkeys)"
              % (len(old_doc["vectors"]), len(old_doc["invalid"]), len(old_doc["subkeys"])))
        return 0
    with open(VECTOR_FILE, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    doc = json.loads(text)
    print("wrote vectors/envelope.json (%d valid, %d invalid, %d subkeys)"
          % (len(doc["vectors"]), len(doc["invalid"]), len(doc["subkeys"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
