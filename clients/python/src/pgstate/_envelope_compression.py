"""The envelope's compression: gzip (stdlib zlib) and zstd (the ``zstandard`` package, imported when first
needed), each decompressed with a bound (ENVELOPE.md section 6.3).

Decompression never produces more than the header's ``length`` + 1 bytes, whatever the body claims:
a small body that would expand to gigabytes costs that much memory and no more, then fails.
"""

from __future__ import annotations

import zlib
from typing import Any, Final

from ._errors import EnvelopeModeUnavailable

__all__ = ["NONE", "GZIP", "ZSTD", "NAMES", "BodyError", "compress", "decompress", "require_zstd", "ZSTD_INSTALL"]

NONE: Final = 0
GZIP: Final = 1
ZSTD: Final = 2
NAMES: Final = {NONE: "none", GZIP: "gzip", ZSTD: "zstd"}

GZIP_LEVEL: Final = 6
ZSTD_LEVEL: Final = 3
ZSTD_INSTALL: Final = "pip install 'pgstate[zstd]' (Debian: apt install python3-zstandard)"

_ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
_ZSTD_UNKNOWN_SIZE: Final = 2**64 - 1


class BodyError(ValueError):
    """The body does not yield exactly ``length`` bytes (the caller raises CorruptEnvelope)."""


def _zstandard() -> Any:
    try:
        import zstandard
    except ImportError:
        raise EnvelopeModeUnavailable("zstd needs the zstandard package, which is not installed: " + ZSTD_INSTALL,
                                      mode="zstd", install=ZSTD_INSTALL) from None
    return zstandard


def require_zstd() -> None:
    """Raise EnvelopeModeUnavailable unless zstd can be used."""
    _zstandard()


def compress(algorithm: int, data: bytes) -> bytes:
    if algorithm == GZIP:
        c = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # one gzip member, mtime 0
        return c.compress(data) + c.flush()
    if algorithm == ZSTD:
        out: bytes = _zstandard().ZstdCompressor(level=ZSTD_LEVEL, write_content_size=True).compress(data)
        return out
    return data


def decompress(algorithm: int, body: bytes, length: int) -> bytes:
    """Exactly ``length`` bytes from ``body``, or BodyError; never more than ``length`` + 1 bytes of output."""
    if algorithm == GZIP:
        return _gunzip(body, length)
    if algorithm == ZSTD:
        return _unzstd(body, length)
    if len(body) != length:
        raise BodyError("the body has %d bytes, the header says %d" % (len(body), length))
    return body


def _gunzip(body: bytes, length: int) -> bytes:
    d = zlib.decompressobj(wbits=31)
    try:
        out = d.decompress(body, length + 1)  # max_length: the output stops one byte past the length
    except zlib.error as exc:
        raise BodyError("the gzip body does not decompress: %s" % exc) from None
    if len(out) > length:
        raise BodyError("the gzip body expands past the length %d" % length)
    if not d.eof:
        raise BodyError("the gzip member is truncated")
    if d.unused_data:
        raise BodyError("%d bytes follow the gzip member" % len(d.unused_data))
    if len(out) != length:
        raise BodyError("the gzip body yields %d bytes, the header says %d" % (len(out), length))
    return out


def _zstd_frame_size(body: bytes) -> int:
    """The size of the zstd frame at the start of ``body`` (RFC 8878 section 3.1.1), read from its block
    headers without decompressing; BodyError when it is not a complete frame."""
    if body[:4] != _ZSTD_MAGIC or len(body) < 5:
        raise BodyError("the zstd body does not begin with a zstd frame")
    fhd = body[4]
    if fhd & 0x08:
        raise BodyError("the zstd frame header sets its reserved bit")
    single_segment = bool(fhd & 0x20)
    fcs_bytes = (1 if single_segment else 0, 2, 4, 8)[fhd >> 6]
    pos = 5 + (0 if single_segment else 1) + (0, 1, 2, 4)[fhd & 0x03] + fcs_bytes
    while True:
        if pos + 3 > len(body):
            raise BodyError("the zstd frame is truncated")
        block = int.from_bytes(body[pos:pos + 3], "little")
        pos += 3
        kind, size = (block >> 1) & 0x03, block >> 3
        if kind == 3:
            raise BodyError("the zstd frame has a reserved block type")
        pos += 1 if kind == 1 else size  # an RLE block holds one byte
        if block & 0x01:  # the last block
            break
    pos += 4 if fhd & 0x04 else 0  # the content checksum
    if pos > len(body):
        raise BodyError("the zstd frame is truncated")
    return pos


def _unzstd(body: bytes, length: int) -> bytes:
    zstandard = _zstandard()
    frame_size = _zstd_frame_size(body)
    if frame_size != len(body):
        raise BodyError("%d bytes follow the zstd frame" % (len(body) - frame_size))
    try:
        params = zstandard.get_frame_parameters(body)
    except zstandard.ZstdError as exc:
        raise BodyError("the zstd frame header is invalid: %s" % exc) from None
    if params.dict_id:
        raise BodyError("the zstd frame needs dictionary %d" % params.dict_id)
    if params.content_size != _ZSTD_UNKNOWN_SIZE and params.content_size != length:
        # decompress() would allocate what the frame declares: refuse before it does.
        raise BodyError("the zstd frame declares %d bytes, the header says %d" % (params.content_size, length))
    try:
        # Without a declared size the output buffer is max_output_size and decompression fails when the frame
        # needs more; 0 would mean "no limit", hence at least 1.
        out: bytes = zstandard.ZstdDecompressor().decompress(body, max_output_size=max(length, 1))
    except zstandard.ZstdError as exc:
        raise BodyError("the zstd body does not decompress within the length %d: %s" % (length, exc)) from None
    if len(out) != length:
        raise BodyError("the zstd body yields %d bytes, the header says %d" % (len(out), length))
    return out
