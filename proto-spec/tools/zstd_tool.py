"""Zstandard for the envelope tools: the `zstandard` module when it is importable, else the `zstd` command.

The Debian package python3-zstandard serves the system Python; an interpreter that cannot import it (a
Python of its own, a virtual environment) falls back to the command-line tool of the Debian package zstd.
Both are the reference libzstd, so either decodes every frame the other writes.  Used by
gen_envelope_vectors.py (compressing a new vector's body, once) and by reference_envelope.py (decoding).
"""

import os
import shutil
import subprocess
import tempfile

try:
    import zstandard as _zstandard
except ImportError:  # pragma: no cover - depends on the machine
    _zstandard = None


class ZstdUnavailable(Exception):
    pass


def backend():
    """"zstandard <version>", "zstd command", or None when neither is there."""
    if _zstandard is not None:
        return "zstandard " + _zstandard.__version__
    if shutil.which("zstd"):
        return "zstd command"
    return None


def _command(args, data):
    if not shutil.which("zstd"):
        raise ZstdUnavailable("neither the Python module zstandard (Debian python3-zstandard) nor the zstd "
                              "command (Debian zstd) is available")
    done = subprocess.run(["zstd", "-q", "-c"] + args, input=data, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=False)
    if done.returncode != 0:
        raise ValueError("zstd %s failed: %s" % (" ".join(args), done.stderr.decode(errors="replace").strip()))
    return done.stdout


def compress(data, level=3, content_size=True):
    """One zstd frame holding ``data``, without a checksum; with its content size in the frame header unless
    ``content_size`` is false (as a streaming writer that does not know the size in advance writes it)."""
    if _zstandard is not None:
        return _zstandard.ZstdCompressor(level=level, write_content_size=content_size).compress(data)
    args = ["-%d" % level, "--no-check"]
    if not content_size:
        return _command(args, data)  # from a pipe the command does not know the size: no content size
    with tempfile.NamedTemporaryFile(prefix="pgstate-zstd-") as f:
        f.write(data)
        f.flush()
        return _command(args + [os.path.abspath(f.name)], b"")


def decompress_one_frame(frame):
    """(output, trailing bytes after the first frame). Raises ValueError when the frame is not valid zstd.

    Not bounded: the tools decode their own vectors only.
    """
    if _zstandard is not None:
        d = _zstandard.ZstdDecompressor().decompressobj()
        try:
            out = d.decompress(frame)
        except _zstandard.ZstdError as exc:
            raise ValueError(str(exc)) from None
        if not d.eof:
            raise ValueError("the zstd frame is truncated")
        return out, d.unused_data
    # The command decodes every frame of its input and refuses bytes that are no frame: it reports
    # trailing bytes as a failure rather than returning them.
    return _command(["-d"], frame), b""
