"""The envelope's keyed primitives: HKDF-SHA256 subkeys, HMAC-SHA256 and AES-256-GCM (ENVELOPE.md section 5).

HKDF and HMAC are the standard library's (so the INTEGRITY mode needs no extra); AES-GCM is the
``cryptography`` package's, imported when first needed, so the package stays importable without it.
"""

from __future__ import annotations

import hmac
from typing import Any, Final

from ._errors import EnvelopeModeUnavailable

__all__ = ["SALT", "subkey", "hmac_tag", "tags_equal", "require_aes_gcm", "gcm_seal", "gcm_open",
           "AuthenticationFailed", "CRYPTO_INSTALL"]

SALT: Final = b"pgstate-envelope-v1"
CRYPTO_INSTALL: Final = "pip install 'pgstate[crypto]' (Debian: apt install python3-cryptography)"


class AuthenticationFailed(Exception):
    """The GCM tag did not verify."""


def _hkdf_sha256(ikm: bytes, info: bytes, length: int = 32) -> bytes:
    """RFC 5869 with the envelope's salt: extract, then expand (one or two HMAC blocks for 32 bytes)."""
    prk = hmac.digest(SALT, ikm, "sha256")  # the one-shot form: several times faster than hmac.new
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.digest(prk, block + info + bytes((counter,)), "sha256")
        okm += block
        counter += 1
    return okm[:length]


def subkey(key: bytes, info: bytes, namespace: bytes, persistence_id: bytes) -> bytes:
    """The per-id subkey of ENVELOPE.md section 5.2; ``info`` is the application info, UTF-8."""
    hkdf_info = (len(info).to_bytes(2, "big") + info + bytes((len(namespace),)) + namespace
                 + bytes((len(persistence_id),)) + persistence_id)
    return _hkdf_sha256(key, hkdf_info)


def hmac_tag(key: bytes, data: bytes) -> bytes:
    return hmac.digest(key, data, "sha256")


def tags_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def _aesgcm() -> Any:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        raise EnvelopeModeUnavailable("AES-256-GCM needs the cryptography package, which is not installed: "
                                      + CRYPTO_INSTALL, mode="aes_gcm", install=CRYPTO_INSTALL) from None
    return AESGCM


def require_aes_gcm() -> None:
    """Raise EnvelopeModeUnavailable unless AES-256-GCM can be used."""
    _aesgcm()


def gcm_seal(key: bytes, nonce: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """Ciphertext followed by the 16-byte tag."""
    out: bytes = _aesgcm()(key).encrypt(nonce, plaintext, associated_data)
    return out


def gcm_open(key: bytes, nonce: bytes, sealed: bytes, associated_data: bytes) -> bytes:
    """The plaintext of ciphertext || tag; raises AuthenticationFailed when the tag does not verify."""
    aesgcm = _aesgcm()
    from cryptography.exceptions import InvalidTag
    try:
        out: bytes = aesgcm(key).decrypt(nonce, sealed, associated_data)
    except InvalidTag:
        raise AuthenticationFailed() from None
    return out
