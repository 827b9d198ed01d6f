"""Every shared test vector of proto-spec/vectors/ through the Python codec.

Valid vectors must encode byte-exactly from their "message" and decode back to it (fed
all at once and one byte at a time); invalid vectors must fail with the named status and
request id; incomplete vectors must yield no frame and consume nothing. Per-vector
"limits" override the defaults.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import pathlib
import unittest
from typing import Any, Dict, List, Optional, Tuple

import server_codec as sc
from pgstate import ClientRow, Delete, Error, InvalidArgument, ProtocolError, StatsEntry, Status, Upsert
from pgstate import _multikey as mk
from pgstate import _protocol as p
from pgstate._record import datetime_from_us

VECTOR_DIR = pathlib.Path(__file__).resolve().parents[3] / "proto-spec" / "vectors"


def load_vectors() -> List[Tuple[str, Dict[str, Any]]]:
    vectors = []
    for path in sorted(VECTOR_DIR.glob("*.json")):
        if path.name == "envelope.json":
            continue  # states, not frames: test_envelope.py
        with path.open(encoding="utf-8") as f:
            for v in json.load(f)["vectors"]:
                vectors.append((path.name, v))
    return vectors


def vector_limits(v: Dict[str, Any]) -> p.Limits:
    limits = v.get("limits", {})
    return p.Limits(
        max_frame_bytes=limits.get("max_frame_bytes", p.DEFAULT_MAX_FRAME_BYTES),
        max_id_bytes=limits.get("max_id_bytes", p.DEFAULT_MAX_ID_BYTES),
        max_state_bytes=limits.get("max_state_bytes", p.DEFAULT_MAX_STATE_BYTES),
        max_in_flight=limits.get("max_in_flight", p.DEFAULT_MAX_IN_FLIGHT),
        max_batch_items=limits.get("max_batch_items", p.DEFAULT_MAX_BATCH_ITEMS),
        max_batch_bytes=limits.get("max_batch_bytes", p.DEFAULT_MAX_BATCH_BYTES),
    )


def item_message(i: sc.Item) -> Dict[str, Any]:
    """A decoded BULK_WRITE / TRANSACT item in the vectors' notation."""
    if i.kind == "delete":
        return {"kind": "delete", "persistence_id": i.persistence_id, "expected_revision": i.expected_revision}
    d: Dict[str, Any] = {"kind": "upsert", "persistence_id": i.persistence_id, "expected_revision": i.expected_revision}
    if i.ttl_seconds is not None:
        d["ttl_seconds"] = i.ttl_seconds
    d["state_hex"] = i.state.hex()
    return d


def message_item(d: Dict[str, Any]) -> Any:
    """A vector's item as the package's item (which checks it, as the call would)."""
    if d["kind"] == "delete":
        return Delete(d["persistence_id"], d["expected_revision"])
    return Upsert(d["persistence_id"], d["expected_revision"], bytes.fromhex(d["state_hex"]), d.get("ttl_seconds"))


def sc_item(d: Dict[str, Any]) -> sc.Item:
    """A vector's item as the server half's item (no rule checked)."""
    return sc.Item(d["kind"], d["persistence_id"], d["expected_revision"], bytes.fromhex(d.get("state_hex", "")),
                   d.get("ttl_seconds"))


def to_message(m: Any) -> Dict[str, Any]:
    """A decoded message dataclass in the vectors' "message" notation."""
    d: Dict[str, Any] = {"type": m.TYPE.name, "request_id": m.request_id, "flags": m.flags}
    if isinstance(m, (sc.Load, sc.Upsert, sc.Delete, sc.BulkLoad, sc.BulkWrite, sc.Transact, sc.ListIds)) \
            and m.namespace is not None:
        d.update(namespace=m.namespace)  # the key only with the NAMESPACE flag
    if isinstance(m, sc.Hello):
        d.update(versions=list(m.versions), client_name=m.client_name)
    elif isinstance(m, sc.Load):
        d.update(persistence_id=m.persistence_id)
    elif isinstance(m, sc.Upsert):
        d.update(persistence_id=m.persistence_id, expected_revision=m.expected_revision)
        if m.ttl_seconds is not None:
            d.update(ttl_seconds=m.ttl_seconds)
        d.update(state_hex=m.state.hex())
    elif isinstance(m, sc.Delete):
        d.update(persistence_id=m.persistence_id, expected_revision=m.expected_revision)
    elif isinstance(m, p.HelloOk):
        d.update(version=m.version, server_version=m.server_version, max_frame_bytes=m.max_frame_bytes,
                 max_id_bytes=m.max_id_bytes, max_state_bytes=m.max_state_bytes,
                 max_in_flight=m.max_in_flight, capabilities=m.capabilities)
        if m.max_batch_items is not None:
            d.update(max_batch_items=m.max_batch_items, max_batch_bytes=m.max_batch_bytes)
    elif isinstance(m, p.RecordResponse):
        d.update(revision=m.revision, updated_at_us=m.updated_at_us, state_hex=m.state.hex())
    elif isinstance(m, p.Conflict):
        d.update(expected_revision=m.expected_revision, actual_revision=m.actual_revision)
    elif isinstance(m, p.ErrorResponse):
        d.update(status=m.status, message=m.message)
    elif isinstance(m, p.WhoAmIOk):
        d.update(uid=m.uid, gid=m.gid, pid=m.pid, user=m.user, namespace=m.namespace, permissions=m.permissions,
                 rule=m.rule)
    elif isinstance(m, sc.Clients):
        d.update(after_connection=m.after_connection)
    elif isinstance(m, sc.Pause):
        d.update(timeout_ms=m.timeout_ms)
    elif isinstance(m, p.HealthOk):
        d.update(state=m.state, pool_up=m.pool_up, pool_size=m.pool_size, clients=m.clients, uptime_ms=m.uptime_ms)
    elif isinstance(m, p.StatsOk):
        d.update(entries=[{"name": e.name, "labels": e.labels, "value": e.value} for e in m.entries])
    elif isinstance(m, p.ClientsOk):
        d.update(more=m.more, rows=[dataclasses.asdict(r) for r in m.rows])
    elif isinstance(m, sc.BulkLoad):
        d.update(ids=list(m.ids))
    elif isinstance(m, (sc.BulkWrite, sc.Transact)):
        d.update(items=[item_message(i) for i in m.items])
    elif isinstance(m, sc.ListIds):
        d.update(prefix=m.prefix)
        if m.after is not None:
            d.update(after=m.after)
        d.update(limit=m.limit)
    elif isinstance(m, mk.RecordsResponse):
        d.update(entries=[{"presence": e.presence} if e.presence != mk.FOUND else
                          {"presence": e.presence, "revision": e.revision, "updated_at_us": e.updated_at_us,
                           "state_hex": e.state.hex()} for e in m.entries])
    elif isinstance(m, mk.OutcomesResponse):
        d.update(outcomes=[outcome_message(r) for r in m.outcomes])
    elif isinstance(m, mk.TransactConflict):
        d.update(conflicts=[dataclasses.asdict(c) for c in m.conflicts])
    elif isinstance(m, mk.ListOk):
        d.update(more=m.more, entries=[dataclasses.asdict(e) for e in m.entries])
    return d


def outcome_message(r: mk.ItemResult) -> Dict[str, Any]:
    if r.result == mk.WRITTEN:
        return {"result": r.result, "revision": r.revision, "updated_at_us": r.updated_at_us}
    if r.result == mk.CONFLICT:
        return {"result": r.result, "expected_revision": r.expected_revision, "actual_revision": r.actual_revision}
    if r.result == mk.FAILED:
        return {"result": r.result, "status": r.status, "message": r.message}
    return {"result": r.result}


def item_result(d: Dict[str, Any]) -> mk.ItemResult:
    return mk.ItemResult(**d)


def encode_message(m: Dict[str, Any], limits: p.Limits) -> bytes:
    """Encode a vector's "message": requests with the package's encoder (the one encode API),
    responses with the tests' server half of the codec."""
    t, rid = m["type"], m["request_id"]
    namespace = m.get("namespace")  # LOAD, UPSERT, DELETE: present iff the NAMESPACE flag is set
    if t == "HELLO":
        return p.encode_hello(rid, m["versions"], m["client_name"])
    if t == "PING":
        return p.encode_ping(rid)
    if t == "WHOAMI":
        return p.encode_whoami(rid)
    if t == "HEALTH":
        return p.encode_health(rid)
    if t == "STATS":
        return p.encode_stats(rid)
    if t == "CLIENTS":
        return p.encode_clients(rid, m["after_connection"])
    if t == "PAUSE":
        return p.encode_pause(rid, m["timeout_ms"])
    if t == "RESUME":
        return p.encode_resume(rid)
    if t == "LOAD":
        return p.encode_load(rid, m["persistence_id"], limits, namespace=namespace)
    if t == "UPSERT":
        return p.encode_upsert(rid, m["persistence_id"], m["expected_revision"],
                               bytes.fromhex(m["state_hex"]), limits, namespace=namespace,
                               ttl_seconds=m.get("ttl_seconds"))
    if t == "BULK_LOAD":
        return mk.encode_bulk_load(rid, m["ids"], limits, namespace=namespace)
    if t == "TRANSACT":
        return mk.encode_transact(rid, [message_item(i) for i in m["items"]], limits, namespace=namespace)
    if t == "BULK_WRITE":
        if any(bad_item(i, limits) for i in m["items"]):
            # The package refuses to send it (12.5; BulkWriteRuleTest checks that); a server must still
            # answer it (6.25), so the tests' server half writes the frame.
            return sc.encode_items_unchecked(p.MessageType.BULK_WRITE, rid, [sc_item(i) for i in m["items"]],
                                             namespace)
        return mk.encode_bulk_write(rid, [message_item(i) for i in m["items"]], limits, namespace=namespace)
    if t == "LIST":
        return mk.encode_list(rid, m["prefix"], m.get("after"), m["limit"], limits, namespace=namespace)
    if t == "DELETE":
        return p.encode_delete(rid, m["persistence_id"], m["expected_revision"], limits, namespace=namespace)
    if t == "HELLO_OK":
        return sc.encode_hello_ok(rid, m["version"], m["server_version"], m["max_frame_bytes"],
                                 m["max_id_bytes"], m["max_state_bytes"], m["max_in_flight"],
                                 m["capabilities"], m.get("max_batch_items"), m.get("max_batch_bytes"))
    if t == "OK":
        return sc.encode_ok(rid)
    if t == "RECORD":
        return sc.encode_record(rid, m["revision"], m["updated_at_us"], bytes.fromhex(m["state_hex"]))
    if t == "NOT_FOUND":
        return sc.encode_not_found(rid)
    if t == "CONFLICT":
        return sc.encode_conflict(rid, m["expected_revision"], m["actual_revision"])
    if t == "ERROR":
        return sc.encode_error(rid, m["status"], m["message"])
    if t == "WHOAMI_OK":
        return sc.encode_whoami_ok(rid, m["uid"], m["gid"], m["pid"], m["user"], m["namespace"], m["permissions"],
                                   m["rule"])
    if t == "HEALTH_OK":
        return sc.encode_health_ok(rid, m["state"], m["pool_up"], m["pool_size"], m["clients"], m["uptime_ms"])
    if t == "STATS_OK":
        return sc.encode_stats_ok(rid, [StatsEntry(**e) for e in m["entries"]])
    if t == "CLIENTS_OK":
        return sc.encode_clients_ok(rid, m["more"], [ClientRow(**r) for r in m["rows"]])
    if t == "RECORDS":
        return sc.encode_records(rid, [mk.RecordsEntry(e["presence"], e.get("revision", 0), e.get("updated_at_us", 0),
                                                       bytes.fromhex(e.get("state_hex", ""))) for e in m["entries"]])
    if t == "OUTCOMES":
        return sc.encode_outcomes(rid, [item_result(o) for o in m["outcomes"]])
    if t == "TRANSACT_CONFLICT":
        return sc.encode_transact_conflict(rid, [mk.ConflictEntry(**c) for c in m["conflicts"]])
    if t == "LIST_OK":
        return sc.encode_list_ok(rid, m["more"], [mk.ListOkEntry(**e) for e in m["entries"]])
    raise AssertionError("unknown message type " + t)


def bad_item(d: Dict[str, Any], limits: p.Limits) -> bool:
    """Whether an item breaks an argument rule, judged by the server half (not by the package)."""
    item = sc_item(d)
    return sc.broken_rule(item, item.persistence_id.encode("utf-8", "surrogateescape"), limits) is not None


def decode(data: bytes, direction: str, limits: p.Limits) -> Optional[Any]:
    """Feed ``data`` to a FrameReader and decode one frame; None if it is incomplete."""
    reader = p.FrameReader(limits.max_frame_bytes)
    reader.feed(data)
    frame = reader.next_frame()
    if frame is None:
        return None
    if direction == "request":
        return sc.decode_request(frame, limits)
    return p.decode_response(frame)


VECTORS = load_vectors()


class VectorFilesTest(unittest.TestCase):
    def test_vector_files_are_found(self) -> None:
        names = sorted(path.name for path in VECTOR_DIR.glob("*.json"))
        self.assertIn("requests.json", names)
        self.assertIn("responses.json", names)
        self.assertGreater(len(VECTORS), 50)

    def test_names_are_unique(self) -> None:
        names = [v["name"] for _, v in VECTORS]
        self.assertEqual(len(names), len(set(names)))

    def test_every_message_type_and_flag_has_valid_vectors(self) -> None:
        valid = [v["message"] for _, v in VECTORS if "message" in v]
        self.assertEqual({m["type"] for m in valid}, {t.name for t in p.MessageType})
        flags = {(m["type"], m["flags"]) for m in valid}
        for want in [("DELETE", 0x01), ("LOAD", 0x02), ("UPSERT", 0x02), ("DELETE", 0x02), ("DELETE", 0x03),
                     ("UPSERT", 0x04), ("UPSERT", 0x06), ("LIST", 0x01), ("LIST", 0x03), ("BULK_LOAD", 0x02),
                     ("BULK_WRITE", 0x02), ("TRANSACT", 0x02)]:
            self.assertIn(want, flags)
        hello_oks = [m for m in valid if m["type"] == "HELLO_OK"]
        self.assertTrue(any("max_batch_items" in m for m in hello_oks))  # with MULTI_KEY
        self.assertTrue(any("max_batch_items" not in m for m in hello_oks))  # and without
        self.assertIn("", {m["namespace"] for m in valid if m["type"] == "LOAD" and "namespace" in m})

    def test_every_vector_is_valid_invalid_or_incomplete(self) -> None:
        for fname, v in VECTORS:
            kinds = ["message" in v, "error" in v, bool(v.get("incomplete"))]
            self.assertEqual(sum(kinds), 1, "%s/%s" % (fname, v["name"]))


class ValidVectorsTest(unittest.TestCase):
    def valid(self) -> List[Tuple[str, Dict[str, Any]]]:
        return [(f, v) for f, v in VECTORS if "message" in v]

    def test_encode_is_byte_exact(self) -> None:
        for fname, v in self.valid():
            with self.subTest(vector=v["name"], file=fname):
                encoded = encode_message(v["message"], vector_limits(v))
                self.assertEqual(encoded.hex(), v["hex"])

    def test_decode_gives_the_message(self) -> None:
        for fname, v in self.valid():
            with self.subTest(vector=v["name"], file=fname):
                msg = decode(bytes.fromhex(v["hex"]), v["direction"], vector_limits(v))
                self.assertIsNotNone(msg)
                self.assertEqual(to_message(msg), v["message"])
                self.assertEqual(msg.TYPE.is_request, v["direction"] == "request")

    def test_decode_one_byte_at_a_time(self) -> None:
        for fname, v in self.valid():
            with self.subTest(vector=v["name"], file=fname):
                data = bytes.fromhex(v["hex"])
                limits = vector_limits(v)
                reader = p.FrameReader(limits.max_frame_bytes)
                for i, b in enumerate(data[:-1]):
                    reader.feed(bytes([b]))
                    self.assertIsNone(reader.next_frame())
                    self.assertEqual(reader.buffered, i + 1)
                reader.feed(data[-1:])
                frame = reader.next_frame()
                self.assertIsNotNone(frame)
                self.assertEqual(reader.buffered, 0)
                self.assertEqual(frame.length, len(data) - 4)
                if v["direction"] == "request":
                    msg = sc.decode_request(frame, limits)
                else:
                    msg = p.decode_response(frame)
                self.assertEqual(to_message(msg), v["message"])

    def test_two_frames_back_to_back(self) -> None:
        for fname, v in self.valid():
            with self.subTest(vector=v["name"], file=fname):
                data = bytes.fromhex(v["hex"])
                reader = p.FrameReader(vector_limits(v).max_frame_bytes)
                reader.feed(data + data + data[:5])
                frames = list(reader)
                self.assertEqual(len(frames), 2)
                self.assertEqual(frames[0], frames[1])
                self.assertEqual(reader.buffered, 5)

    def test_record_vectors_give_utc_datetimes(self) -> None:
        self.assertEqual(datetime_from_us(1773480413589793),
                         datetime.datetime(2026, 3, 14, 9, 26, 53, 589793, tzinfo=datetime.timezone.utc))
        self.assertEqual(datetime_from_us(-14182940000000),
                         datetime.datetime(1969, 7, 20, 20, 17, 40, tzinfo=datetime.timezone.utc))
        for _, v in self.valid():
            if v["message"]["type"] == "RECORD":
                dt = datetime_from_us(v["message"]["updated_at_us"])
                self.assertIs(dt.tzinfo, datetime.timezone.utc)


class InvalidVectorsTest(unittest.TestCase):
    def test_invalid_vectors_give_status_and_request_id(self) -> None:
        for fname, v in VECTORS:
            if "error" not in v:
                continue
            with self.subTest(vector=v["name"], file=fname):
                status = v["error"]["status"]
                self.assertEqual(Status(status).name, v["error"]["name"])
                with self.assertRaises(Error) as cm:
                    decode(bytes.fromhex(v["hex"]), v["direction"], vector_limits(v))
                exc = cm.exception
                self.assertEqual(exc.status, status)
                self.assertEqual(exc.request_id, v["request_id"])
                if status == Status.INVALID_ARGUMENT:
                    self.assertIsInstance(exc, InvalidArgument)
                    self.assertIsInstance(exc, ValueError)
                else:
                    self.assertIsInstance(exc, ProtocolError)

    def test_frame_too_large_needs_only_the_length_bytes(self) -> None:
        for fname, v in VECTORS:
            if v.get("error", {}).get("status") != Status.FRAME_TOO_LARGE:
                continue
            with self.subTest(vector=v["name"], file=fname):
                reader = p.FrameReader(vector_limits(v).max_frame_bytes)
                reader.feed(bytes.fromhex(v["hex"])[:4])
                with self.assertRaises(ProtocolError) as cm:
                    reader.next_frame()
                self.assertEqual(cm.exception.status, Status.FRAME_TOO_LARGE)
                self.assertEqual(cm.exception.request_id, 0)
                with self.assertRaises(ProtocolError):  # the reader stays failed
                    reader.next_frame()

    def test_incomplete_vectors_consume_nothing(self) -> None:
        for fname, v in VECTORS:
            if not v.get("incomplete"):
                continue
            with self.subTest(vector=v["name"], file=fname):
                data = bytes.fromhex(v["hex"])
                limits = vector_limits(v)
                reader = p.FrameReader(limits.max_frame_bytes)
                reader.feed(data)
                self.assertIsNone(reader.next_frame())
                self.assertEqual(reader.buffered, len(data))
                self.assertIsNone(decode(data, v["direction"], limits))


class BulkWriteRuleTest(unittest.TestCase):
    """A BULK_WRITE whose item breaks a rule decodes on the server (6.25), but the client refuses the
    whole call before sending (12.5)."""

    def test_the_vector_with_a_broken_item(self) -> None:
        broken = [(f, v) for f, v in VECTORS if "message" in v and v["message"]["type"] == "BULK_WRITE"
                  and any(bad_item(i, vector_limits(v)) for i in v["message"]["items"])]
        self.assertEqual([v["name"] for _, v in broken], ["bulk_write_item_breaking_a_rule"])
        for _, v in broken:
            m = v["message"]
            with self.assertRaises(InvalidArgument):
                mk.encode_bulk_write(m["request_id"], [message_item(i) for i in m["items"]], vector_limits(v))
            decoded = decode(bytes.fromhex(v["hex"]), "request", vector_limits(v))
            self.assertIsInstance(decoded, sc.BulkWrite)
            self.assertEqual([i.broken is not None for i in decoded.items], [False, True])


class EncoderArgumentRulesTest(unittest.TestCase):
    """The encoders refuse what the invalid vectors show a server refusing (section 8)."""

    def assertInvalid(self, fn: Any, *args: Any) -> None:
        with self.assertRaises(InvalidArgument) as cm:
            fn(*args)
        self.assertEqual(cm.exception.status, Status.INVALID_ARGUMENT)

    def test_bad_ids(self) -> None:
        for bad in ["", "a\x00b", "a\x1fb", "a\x7fb", "order\n1", "\ud800", "x" * 256, "订" * 86,
                    b"order-1", None, 42]:
            with self.subTest(id=repr(bad)[:40]):
                self.assertInvalid(p.encode_load, 1, bad)
                self.assertInvalid(p.encode_upsert, 1, bad, 0, b"")
                self.assertInvalid(p.encode_delete, 1, bad)

    def test_good_ids(self) -> None:
        for good in ["a", "x" * 255, "订" * 85, "cart-\U0001f6d2-7", "order 1", "\x80\u00ff"]:
            with self.subTest(id=good[:20]):
                p.encode_load(1, good)

    def test_announced_max_id_bytes(self) -> None:
        limits = p.Limits(max_id_bytes=128)
        p.encode_load(1, "x" * 128, limits)
        self.assertInvalid(p.encode_load, 1, "x" * 129, limits)

    def test_namespaces(self) -> None:
        for good in ["", "billing", "Tenant_0.9-x", "n" * 63]:
            with self.subTest(namespace=good):
                frame = p.encode_load(1, "a", namespace=good)
                self.assertEqual(frame[5], p.FLAG_NAMESPACE)
                self.assertEqual(frame[10:11 + len(good)], bytes([len(good)]) + good.encode())
        self.assertEqual(p.encode_load(1, "a")[5], 0)  # without a namespace: no flag, no field
        for bad in ["n" * 64, "bill/ing", "bill ing", "büro", "\u0661", "a\x00", "\udcff", b"billing", 7]:
            with self.subTest(namespace=repr(bad)):
                self.assertInvalid(lambda ns: p.encode_load(1, "a", namespace=ns), bad)
                self.assertInvalid(lambda ns: p.encode_upsert(1, "a", 0, b"", namespace=ns), bad)
                self.assertInvalid(lambda ns: p.encode_delete(1, "a", 3, namespace=ns), bad)

    def test_upsert_revisions(self) -> None:
        p.encode_upsert(1, "a", 2**63 - 2, b"")
        for bad in [-1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, True, 1.0, "1", None]:
            with self.subTest(revision=bad):
                self.assertInvalid(p.encode_upsert, 1, "a", bad, b"")

    def test_delete_revisions(self) -> None:
        p.encode_delete(1, "a", 2**63 - 1)
        p.encode_delete(1, "a", 0)
        for bad in [-1, 2**63, 2**64 - 1, False, 2.0, "3"]:
            with self.subTest(revision=bad):
                self.assertInvalid(p.encode_delete, 1, "a", bad)

    def test_states(self) -> None:
        limits = p.Limits(max_frame_bytes=4112, max_state_bytes=16)
        p.encode_upsert(1, "s", 0, b"x" * 16, limits)
        p.encode_upsert(1, "s", 0, bytearray(b"x"), limits)
        p.encode_upsert(1, "s", 0, memoryview(b"x"), limits)
        self.assertInvalid(p.encode_upsert, 1, "s", 0, b"x" * 17, limits)
        for bad in ["text", None, 5, [1, 2]]:
            with self.subTest(state=bad):
                self.assertInvalid(p.encode_upsert, 1, "s", 0, bad)

    def test_str8_fields_over_255_bytes_are_refused_not_truncated(self) -> None:
        self.assertInvalid(p.encode_hello, 1, (1,), "n" * 256)
        self.assertInvalid(p.encode_hello, 1, (1,), "订" * 86)
        self.assertInvalid(p.encode_load, 1, "x" * 256, p.Limits(max_id_bytes=300))
        self.assertEqual(len(p.encode_hello(1, (1,), "n" * 255)), 4 + 6 + 1 + 2 + 1 + 255)

    def test_operator_arguments(self) -> None:
        self.assertEqual(p.encode_clients(1, 2**64 - 1)[10:], b"\xff" * 8)
        self.assertEqual(p.encode_pause(1, 2**32 - 1)[10:], b"\xff" * 4)
        self.assertEqual(p.encode_pause(1, 0)[10:], bytes(4))
        for bad in [-1, 2**64, True, 1.0, "5", None]:
            with self.subTest(after_connection=bad):
                self.assertInvalid(p.encode_clients, 1, bad)
        for bad in [-1, 2**32, False, 30.0, "30000", None]:
            with self.subTest(timeout_ms=bad):
                self.assertInvalid(p.encode_pause, 1, bad)

    def test_request_id_zero_is_refused(self) -> None:
        with self.assertRaises(ValueError):
            p.encode_ping(0)
        with self.assertRaises(ValueError):
            p.encode_ping(2**32)


if __name__ == "__main__":
    unittest.main()
