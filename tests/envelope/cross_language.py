"""Envelopes across clients, through a live pgstated: what the Python client writes the C client reads, and the
reverse, byte for byte, in every mode of ENVELOPE.md; a record tampered with through a plain client is
``tampered`` for both, a replayed one ``rolled_back``, one under a key the reader lacks ``wrong_key``; a
rotation rewrapped by one client reads in the other under the new key alone.

The C side is ``clients/c/build/examples/envelope_tool`` (built here with ``make -C clients/c examples
ENVELOPE=1`` when missing; ``$PGSTATE_ENVELOPE_TOOL`` names another), the Python side ``pgstate.Envelope``
from ``clients/python/src``. Needs ``$PGSTATE_SOCKET`` (a live daemon), else every test is skipped; the zstd
modes need the ``zstandard`` module (Debian: python3-zstandard) and AES-GCM the ``cryptography`` package,
else those modes are skipped and said so.

    PGSTATE_SOCKET=/run/pgstated/pgstated.sock python3 tests/envelope/cross_language.py -v
"""

from __future__ import annotations

import os
import subprocess
import sys
import unittest
import uuid
from typing import Dict, List, Optional, Tuple

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.normpath(os.path.join(_HERE, "..", ".."))
sys.path.insert(0, os.path.join(_ROOT, "clients", "python", "src"))

import pgstate  # noqa: E402  (path set up above)

SOCKET = os.environ.get("PGSTATE_SOCKET", "")
TOOL = os.environ.get("PGSTATE_ENVELOPE_TOOL") or os.path.join(_ROOT, "clients", "c", "build", "examples",
                                                               "envelope_tool")
INFO = "tests/cross-language"
RUN = uuid.uuid4().hex[:12]  # ids of this run: reruns never meet old records

# (tool MODE, Python compression, keyed, integrity_only, flags byte written)
MODES: List[Tuple[str, Optional[str], bool, bool, int]] = [
    ("none", None, False, False, 0x00),
    ("gzip", "gzip", False, False, 0x01),
    ("zstd", "zstd", False, False, 0x02),
    ("aes_gcm", None, True, False, 0x04),
    ("gzip+aes_gcm", "gzip", True, False, 0x05),
    ("zstd+aes_gcm", "zstd", True, False, 0x06),
    ("hmac", None, True, True, 0x08),
    ("gzip+hmac", "gzip", True, True, 0x09),
    ("zstd+hmac", "zstd", True, True, 0x0A),
]

KEY1 = os.urandom(32)
KEY2 = os.urandom(32)


def states() -> Dict[str, bytes]:
    line = b'{"line":%05d,"status":"open","items":%d}\n'
    json64k = b"".join(line % (i, i % 7) for i in range(2000))[:65536]
    return {
        "200B": (b"".join(line % (i, i % 7) for i in range(10)))[:200],
        "64KiB": json64k,
        "empty": b"",
        "binary": os.urandom(1024),
        "magic": b"PGSE\x01 a plain state that looks like an envelope",
    }


def available(compression: Optional[str], keyed: bool, integrity_only: bool) -> Optional[str]:
    """None when Python can use the mode, else why not."""
    try:
        ring = pgstate.KeyRing({1: KEY1}, active=1) if keyed else None
        pgstate.Envelope(compression, keys=ring, integrity_only=integrity_only, info=INFO if keyed else None)
    except pgstate.EnvelopeModeUnavailable as exc:
        return str(exc)
    return None


def ring_env(keys: Dict[int, bytes], active: int) -> Dict[str, str]:
    return {"PGSTATE_ENVELOPE_KEYS": ",".join("%d:%s" % (k, v.hex()) for k, v in sorted(keys.items())),
            "PGSTATE_ENVELOPE_ACTIVE": str(active), "PGSTATE_ENVELOPE_INFO": INFO}


class Tool:
    """The C client's envelope_tool, with a key ring in its environment."""

    def __init__(self, keys: Optional[Dict[int, bytes]] = None, active: int = 2,
                 namespace: Optional[str] = None) -> None:
        self.env = dict(os.environ)
        for name in ("PGSTATE_ENVELOPE_KEYS", "PGSTATE_ENVELOPE_KEYS_FILE", "PGSTATE_ENVELOPE_ACTIVE",
                     "PGSTATE_NAMESPACE"):
            self.env.pop(name, None)
        self.env["PGSTATE_ENVELOPE_INFO"] = INFO
        if keys:
            self.env.update(ring_env(keys, active))
        if namespace is not None:
            self.env["PGSTATE_NAMESPACE"] = namespace

    def run(self, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
        return subprocess.run([TOOL, *args], input=stdin, capture_output=True, env=self.env, timeout=60)

    def write(self, pid: str, expected: int, mode: str, state: bytes) -> int:
        done = self.run("write", pid, str(expected), mode, stdin=state)
        if done.returncode != 0:
            raise AssertionError("envelope_tool write %s: exit %d: %s" % (pid, done.returncode,
                                                                          done.stderr.decode(errors="replace")))
        return int(done.stdout)

    def read(self, pid: str) -> bytes:
        done = self.run("read", pid)
        if done.returncode != 0:
            raise AssertionError("envelope_tool read %s: exit %d: %s" % (pid, done.returncode,
                                                                         done.stderr.decode(errors="replace")))
        return done.stdout

    def read_error(self, pid: str) -> str:
        """The error class the tool reports (exit status 3), or fails."""
        done = self.run("read", pid)
        err = done.stderr.decode(errors="replace")
        if done.returncode != 3:
            raise AssertionError("envelope_tool read %s: exit %d, not an envelope error: %s"
                                 % (pid, done.returncode, err))
        return err.split(":", 1)[0]


def codec(compression: Optional[str], keyed: bool, integrity_only: bool,
          keys: Optional[Dict[int, bytes]] = None, active: int = 2) -> pgstate.Envelope:
    ring = pgstate.KeyRing(keys or {1: KEY1, 2: KEY2}, active=active) if keyed else None
    return pgstate.Envelope(compression, keys=ring, integrity_only=integrity_only, info=INFO if keyed else None)


def reader(keys: Optional[Dict[int, bytes]] = None, active: int = 2) -> pgstate.Envelope:
    """A Python codec that reads everything its ring can open."""
    keys = keys if keys is not None else {1: KEY1, 2: KEY2}
    return pgstate.Envelope(None, keys=pgstate.KeyRing(keys, active=active), info=INFO)


ERROR_CLASSES = {
    pgstate.Tampered: "tampered",
    pgstate.RolledBack: "rolled_back",
    pgstate.WrongKey: "wrong_key",
    pgstate.CorruptEnvelope: "corrupt",
    pgstate.UnknownEnvelopeVersion: "unknown_version",
    pgstate.EnvelopeTooLarge: "too_large",
    pgstate.EnvelopeModeUnavailable: "unavailable_mode",
}


def python_error(client: pgstate.Client, pid: str, use: pgstate.Envelope) -> str:
    try:
        client.load(pid, codec=use)
    except pgstate.EnvelopeError as exc:
        for cls, name in ERROR_CLASSES.items():
            if isinstance(exc, cls):
                return name
        raise
    raise AssertionError("%s opened in Python" % pid)


@unittest.skipUnless(SOCKET, "set PGSTATE_SOCKET to a live pgstated to run the cross-language envelope tests")
class CrossLanguage(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        if not os.environ.get("PGSTATE_ENVELOPE_TOOL") and not os.access(TOOL, os.X_OK):
            subprocess.run(["make", "-s", "-C", os.path.join(_ROOT, "clients", "c"), "examples", "ENVELOPE=1"],
                           check=True)
        cls.plain = pgstate.Client(SOCKET)
        cls.skipped: List[str] = []

    @classmethod
    def tearDownClass(cls) -> None:
        cls.plain.close()
        for why in sorted(set(cls.skipped)):
            print("\n  skipped: %s" % why, file=sys.stderr)

    def modes(self):
        for mode, compression, keyed, integrity_only, flags in MODES:
            why = available(compression, keyed, integrity_only)
            if why is not None:
                self.skipped.append("%s: %s" % (mode, why))
                continue
            yield mode, compression, keyed, integrity_only, flags

    def check_stored(self, pid: str, flags: int, revision: int, key_id: int) -> None:
        raw = self.plain.load(pid, codec=None)
        self.assertIsNotNone(raw)
        assert raw is not None
        self.assertEqual(raw.revision, revision)
        self.assertEqual(raw.state[:5], b"PGSE\x01", pid)
        self.assertEqual(raw.state[5], flags, "%s: flags" % pid)
        self.assertEqual(int.from_bytes(raw.state[6:10], "big"), key_id, "%s: key id" % pid)
        self.assertEqual(int.from_bytes(raw.state[10:18], "big"), revision, "%s: bound revision" % pid)

    def test_python_writes_c_reads(self) -> None:
        tool = Tool({1: KEY1, 2: KEY2}, active=2)
        n = 0
        for mode, compression, keyed, integrity_only, flags in self.modes():
            with pgstate.Client(SOCKET, codec=codec(compression, keyed, integrity_only)) as client:
                for name, state in states().items():
                    with self.subTest(mode=mode, state=name):
                        pid = "xl-%s-py-%s-%s" % (RUN, mode, name)
                        client.upsert(pid, 0, b"first " + state)
                        client.upsert(pid, 1, state)  # bound to revision 2
                        self.check_stored(pid, flags, 2, 2 if keyed else 0)
                        self.assertEqual(tool.read(pid), state)
                        n += 1
        self.assertGreaterEqual(n, 3 * len(states()))

    def test_c_writes_python_reads(self) -> None:
        tool = Tool({1: KEY1, 2: KEY2}, active=2)
        n = 0
        for mode, compression, keyed, integrity_only, flags in self.modes():
            for name, state in states().items():
                with self.subTest(mode=mode, state=name):
                    pid = "xl-%s-c-%s-%s" % (RUN, mode, name)
                    self.assertEqual(tool.write(pid, 0, mode, b"first " + state), 1)
                    self.assertEqual(tool.write(pid, 1, mode, state), 2)
                    self.check_stored(pid, flags, 2, 2 if keyed else 0)
                    record = self.plain.load(pid, codec=reader())
                    assert record is not None
                    self.assertEqual(record.state, state)
                    self.assertEqual(record.revision, 2)
                    n += 1
        self.assertGreaterEqual(n, 3 * len(states()))

    def test_tampered_rolled_back_wrong_key(self) -> None:
        tool = Tool({1: KEY1, 2: KEY2}, active=2)
        for mode, compression, keyed, integrity_only, flags in self.modes():
            if not keyed:
                continue
            for writer in ("py", "c"):
                with self.subTest(mode=mode, writer=writer):
                    pid = "xl-%s-tamper-%s-%s" % (RUN, writer, mode)
                    state = states()["200B"]
                    if writer == "py":
                        self.plain.upsert(pid, 0, state, codec=codec(compression, keyed, integrity_only))
                    else:
                        tool.write(pid, 0, mode, state)
                    raw = self.plain.load(pid, codec=None)
                    assert raw is not None
                    # Through a plain client: the header made to name the next revision (else it reads as
                    # rolled back), the last byte (the tag's) flipped.
                    forged = bytearray(raw.state)
                    forged[10:18] = (raw.revision + 1).to_bytes(8, "big")
                    forged[-1] ^= 0x01
                    self.plain.upsert(pid, raw.revision, bytes(forged), codec=None)
                    self.assertEqual(python_error(self.plain, pid, reader()), "tampered")
                    self.assertEqual(tool.read_error(pid), "tampered")
                    # An old envelope written back as a later revision.
                    self.plain.upsert(pid, raw.revision + 1, raw.state, codec=None)
                    self.assertEqual(python_error(self.plain, pid, reader()), "rolled_back")
                    self.assertEqual(tool.read_error(pid), "rolled_back")
                    # A good one again, under key 2; readers holding only key 1.
                    self.plain.upsert(pid, raw.revision + 2, state, codec=codec(compression, keyed, integrity_only))
                    self.assertEqual(python_error(self.plain, pid, reader({1: KEY1}, active=1)), "wrong_key")
                    self.assertEqual(Tool({1: KEY1}, active=1).read_error(pid), "wrong_key")
                    # Another key under the same id.
                    self.assertEqual(python_error(self.plain, pid, reader({2: KEY1}, active=2)), "tampered")
                    self.assertEqual(Tool({2: KEY1}, active=2).read_error(pid), "tampered")
                    self.assertEqual(tool.read(pid), state)

    def test_keyed_only_refuses_substitutes(self) -> None:
        """A reader taking keyed envelopes only (Python allow_unkeyed=False, C PGSTATE_ENVELOPE_KEYED_ONLY=1)
        refuses a plain state and an unkeyed envelope as tampered; by default both read."""
        strict_tool = Tool({1: KEY1, 2: KEY2})
        strict_tool.env["PGSTATE_ENVELOPE_KEYED_ONLY"] = "1"
        strict = pgstate.Envelope(None, keys=pgstate.KeyRing({1: KEY1, 2: KEY2}, active=2), info=INFO,
                                  allow_unkeyed=False)
        plain_id, unkeyed_id, keyed_id = ("xl-%s-strict-%s" % (RUN, k) for k in ("plain", "unkeyed", "keyed"))
        self.plain.upsert(plain_id, 0, b"substitute", codec=None)
        Tool().write(unkeyed_id, 0, "gzip", b"substitute")
        strict_tool.write(keyed_id, 0, "aes_gcm", b"genuine")
        for pid in (plain_id, unkeyed_id):
            with self.subTest(pid=pid):
                self.assertEqual(python_error(self.plain, pid, strict), "tampered")
                self.assertEqual(strict_tool.read_error(pid), "tampered")
                self.assertEqual(Tool({1: KEY1, 2: KEY2}).read(pid), b"substitute")
        record = self.plain.load(keyed_id, codec=strict)
        assert record is not None
        self.assertEqual(record.state, b"genuine")
        self.assertEqual(strict_tool.read(keyed_id), b"genuine")

    def test_rotation_across_clients(self) -> None:
        old_ring = {1: KEY1}
        new_ring = {1: KEY1, 2: KEY2}
        only_new = {2: KEY2}
        ids_py = ["xl-%s-rot-py-%d" % (RUN, i) for i in range(3)]
        ids_c = ["xl-%s-rot-c-%d" % (RUN, i) for i in range(3)]
        with pgstate.Client(SOCKET, codec=codec("gzip", True, False, old_ring, active=1)) as client:
            for pid in ids_py:
                client.upsert(pid, 0, pid.encode())
        old_tool = Tool(old_ring, active=1)
        for pid in ids_c:
            old_tool.write(pid, 0, "gzip+aes_gcm", pid.encode())
        self.plain.upsert(ids_py[0] + "-plain", 0, b"plain before the rotation", codec=None)
        # C rewraps what Python wrote (and a plain record); Python rewraps what C wrote.
        done = Tool(new_ring, active=2).run("rewrap", "zstd+aes_gcm" if available("zstd", True, False) is None
                                            else "gzip+aes_gcm", *ids_py, ids_py[0] + "-plain",
                                            "xl-%s-rot-missing" % RUN)
        self.assertEqual(done.returncode, 0, done.stderr.decode(errors="replace"))
        self.assertEqual(done.stdout.decode().strip(), "rewritten 4, conflicts 0, missing 1, current 0")
        result = pgstate.rewrap(self.plain, ids_c, codec=codec("gzip", True, False, new_ring, active=2))
        self.assertEqual((result.rewritten, result.conflicts, result.missing), (3, 0, 0))
        # Key 1 retired and dropped: everything reads with key 2 alone, in both clients.
        new_only_tool = Tool(only_new, active=2)
        for pid in ids_py + ids_c:
            with self.subTest(pid=pid):
                record = self.plain.load(pid, codec=reader(only_new, active=2))
                assert record is not None
                self.assertEqual(record.state, pid.encode())
                self.assertEqual(new_only_tool.read(pid), pid.encode())
        self.assertEqual(new_only_tool.read(ids_py[0] + "-plain"), b"plain before the rotation")
        # A second pass finds them current.
        again = Tool(new_ring, active=2).run("rewrap", "gzip+aes_gcm", *ids_c)
        self.assertEqual(again.stdout.decode().strip(), "rewritten 0, conflicts 0, missing 0, current 3")

    def test_connection_namespace_bound(self) -> None:
        """Both clients bind the connection's own namespace (WHOAMI) when the call names none."""
        if not self.plain_identity():
            self.skipTest("the server does not announce IDENTITY: the namespace is \"\" for both")
        own = self.plain.whoami().namespace
        pid = "xl-%s-own-ns" % RUN
        Tool({1: KEY1, 2: KEY2}).write(pid, 0, "hmac", b"bound to the connection's namespace")
        raw = self.plain.load(pid, codec=None)
        assert raw is not None
        self.assertEqual(reader().decode(raw.state, persistence_id=pid, revision=raw.revision, namespace=own),
                         b"bound to the connection's namespace")
        with self.assertRaises(pgstate.Tampered):
            reader().decode(raw.state, persistence_id=pid, revision=raw.revision, namespace=own + "-other")
        self.plain.upsert(pid, 1, b"and back", codec=codec(None, True, True))
        self.assertEqual(Tool({1: KEY1, 2: KEY2}).read(pid), b"and back")

    def test_named_namespace(self) -> None:
        who = self.plain.whoami() if self.plain_identity() else None
        if who is None or not who.permissions & 0x8:
            self.skipTest("this connection may not name another namespace (ANY_NAMESPACE)")
        ns = "xl-" + RUN
        pid = "xl-%s-ns" % RUN
        use = codec("gzip", True, False)
        self.plain.upsert(pid, 0, b"in a named namespace", namespace=ns, codec=use)
        self.assertEqual(Tool({1: KEY1, 2: KEY2}, namespace=ns).read(pid), b"in a named namespace")
        Tool({1: KEY1, 2: KEY2}, namespace=ns).write(pid, 1, "hmac", b"from C")
        record = self.plain.load(pid, namespace=ns, codec=reader())
        assert record is not None
        self.assertEqual(record.state, b"from C")
        # The same envelope read as if it were the connection's own namespace does not verify.
        if who.namespace != ns:
            raw = self.plain.load(pid, namespace=ns, codec=None)
            assert raw is not None
            with self.assertRaises(pgstate.Tampered):
                reader().decode(raw.state, persistence_id=pid, revision=raw.revision, namespace=who.namespace)

    def plain_identity(self) -> bool:
        try:
            self.plain.whoami()
        except pgstate.InvalidArgument:
            return False
        return True


if __name__ == "__main__":
    unittest.main()
