#!/usr/bin/env python3
"""Generate the pgstate wire protocol v1 test vectors.

Usage:
    gen_vectors.py              write proto-spec/vectors/*.json
    gen_vectors.py --check      regenerate in memory; exit 1 if any file on disk differs
    gen_vectors.py --self-test  re-decode every vector with an independent reference
                                decoder, check every outcome vector with an independent
                                reference classifier, and check the hex examples in
                                PROTOCOL.md

Python 3 standard library only.  The codec vectors are listed here and the behaviour
vectors (outcomes.json) in outcome_vectors.py; both build their frames with encoder.py
(struct.pack).  reference_decoder.py and reference_classifier.py check them and import
nothing of either; nothing is shared with any client or server implementation.
The output is deterministic (fixed insertion order, 2-space indent, trailing
newline, UTF-8 without escaping non-ASCII characters).
"""

import argparse
import json
import os
import re
import sys

import outcome_vectors
import reference_classifier
from encoder import (BATCH_LIMITS, CAP_CONDITIONAL_DELETE, CAP_IDENTITY, CAP_MULTI_KEY, CAP_OPERATOR, CAP_TTL,
                     CLIENT_HANDSHAKE, CLIENT_READY, DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_BATCH_ITEMS,
                     DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_ID_BYTES, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_STATE_BYTES,
                     FLAG_AFTER, FLAG_EXPECTED_REVISION, FLAG_NAMESPACE, FLAG_TTL, HEALTH_DRAINING, HEALTH_PAUSED,
                     HEALTH_POOL_UP, I64_MAX, ITEM_FLAG_EXPECTED_REVISION, ITEM_FLAG_TTL, PERM_ADMIN,
                     PERM_ANY_NAMESPACE, PERM_READ, PERM_WRITE, PRESENCE_ABSENT, PRESENCE_FOUND, PRESENCE_OMITTED,
                     RESULT_CONFLICT, RESULT_DELETED, RESULT_FAILED, RESULT_WRITTEN, SMALL_LIMITS, STATUS, TYPES,
                     U64_MAX, bytes32, client_row, conflict_entry, delete_item, encode_message, f64be, frame, i64be,
                     item, list_entry, msg, outcome_entry, records_entry, stats_entry, str8, str16, u8, u16be, u32be,
                     u64be, upsert_item, us)
from reference_decoder import REQ_NAMES, Incomplete, ProtoError, ref_decode

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC_DIR = os.path.dirname(HERE)
VECTOR_DIR = os.path.join(SPEC_DIR, "vectors")
PROTOCOL_MD = os.path.join(SPEC_DIR, "PROTOCOL.md")

# --------------------------------------------------------------------------
# Vector constructors
# --------------------------------------------------------------------------


def _direction(type_name):
    return "request" if TYPES[type_name] < 0x80 else "response"


def valid(name, description, message, limits=None):
    v = {
        "name": name,
        "description": description,
        "direction": _direction(message["type"]),
        "hex": encode_message(message).hex(),
        "message": message,
    }
    if limits is not None:
        v["limits"] = dict(limits)
    return v


def invalid(name, description, data, status, request_id, direction="request", limits=None):
    v = {
        "name": name,
        "description": description,
        "direction": direction,
        "hex": bytes(data).hex(),
        "error": {"status": status, "name": STATUS[status]},
        "request_id": request_id,
    }
    if limits is not None:
        v["limits"] = dict(limits)
    return v


def incomplete(name, description, data):
    return {
        "name": name,
        "description": description,
        "direction": "request",
        "hex": bytes(data).hex(),
        "incomplete": True,
    }


# --------------------------------------------------------------------------
# The vectors
# --------------------------------------------------------------------------

ID_255_ASCII = "".join(chr(ord("a") + i % 26) for i in range(255))
ID_255_CJK = "订" * 85  # 85 characters, 3 bytes each: exactly 255 bytes
STATE_JSON_OPEN = b'{"status":"open"}'
STATE_JSON_PAID = b'{"status":"paid"}'
STATE_BINARY = bytes([0x00, 0xFF, 0x00, 0x00, 0x7F, 0x80, 0xFE, 0xFF, 0x00])
STATE_4K = bytes(i % 256 for i in range(4096))
NAMESPACE_63 = "Tenant_0.9-" + "abcdefghijklmnopqrstuvwxyz" * 2  # 11 + 52 = 63 bytes


def handshake_vectors():
    return [
        valid("hello_v1",
              "HELLO offering version 1 only, as the first frame of a connection.",
              msg("HELLO", 1, versions=[1], client_name="pgstate-c/0.1.0")),
        valid("hello_versions_1_2",
              "HELLO offering versions 1 and 2; a v1 server picks 1 (the highest common version).",
              msg("HELLO", 1, versions=[1, 2], client_name="pgstate-py/0.1.0")),
        valid("hello_empty_client_name",
              "HELLO with an empty client_name (allowed).",
              msg("HELLO", 1, versions=[1], client_name="")),
        valid("hello_utf8_client_name",
              "HELLO with a multi-byte UTF-8 client_name.",
              msg("HELLO", 3, versions=[1], client_name="客户端-ü")),
        valid("hello_version_2_only",
              "Well-formed HELLO offering only version 2; a v1 server answers ERROR 104 UNSUPPORTED_VERSION and closes.",
              msg("HELLO", 1, versions=[2], client_name="future-client")),
        valid("hello_ok_default_limits",
              "HELLO_OK choosing version 1 and announcing the default limits and CONDITIONAL_DELETE.",
              msg("HELLO_OK", 1, version=1, server_version="pgstated 0.1.0",
                  max_frame_bytes=DEFAULT_MAX_FRAME_BYTES, max_id_bytes=DEFAULT_MAX_ID_BYTES,
                  max_state_bytes=DEFAULT_MAX_STATE_BYTES, max_in_flight=DEFAULT_MAX_IN_FLIGHT,
                  capabilities=CAP_CONDITIONAL_DELETE)),
        valid("hello_ok_custom_limits",
              "HELLO_OK with smaller configured limits (1 MiB state, 1 MiB + 4 KiB frame, 128-byte ids, 64 in flight) and no capabilities.",
              msg("HELLO_OK", 3, version=1, server_version="pgstated 0.1.0",
                  max_frame_bytes=1024 * 1024 + 4096, max_id_bytes=128,
                  max_state_bytes=1024 * 1024, max_in_flight=64, capabilities=0)),
        valid("hello_ok_reserved_capability_bits",
              "HELLO_OK with a reserved capability bit (bit 31) set next to CONDITIONAL_DELETE; clients ignore unknown bits.",
              msg("HELLO_OK", 1, version=1, server_version="pgstated 9.9.9",
                  max_frame_bytes=DEFAULT_MAX_FRAME_BYTES, max_id_bytes=DEFAULT_MAX_ID_BYTES,
                  max_state_bytes=DEFAULT_MAX_STATE_BYTES, max_in_flight=DEFAULT_MAX_IN_FLIGHT,
                  capabilities=0x80000001)),
        valid("hello_ok_identity",
              "HELLO_OK announcing the default limits, CONDITIONAL_DELETE and IDENTITY (WHOAMI and the NAMESPACE flag are served).",
              msg("HELLO_OK", 1, version=1, server_version="pgstated 0.2.0",
                  max_frame_bytes=DEFAULT_MAX_FRAME_BYTES, max_id_bytes=DEFAULT_MAX_ID_BYTES,
                  max_state_bytes=DEFAULT_MAX_STATE_BYTES, max_in_flight=DEFAULT_MAX_IN_FLIGHT,
                  capabilities=CAP_CONDITIONAL_DELETE | CAP_IDENTITY)),
        valid("hello_ok_operator",
              "HELLO_OK announcing the default limits and capabilities 0x7: CONDITIONAL_DELETE, IDENTITY and OPERATOR (HEALTH, STATS, CLIENTS, PAUSE and RESUME are served).",
              msg("HELLO_OK", 1, version=1, server_version="pgstated 0.3.0",
                  max_frame_bytes=DEFAULT_MAX_FRAME_BYTES, max_id_bytes=DEFAULT_MAX_ID_BYTES,
                  max_state_bytes=DEFAULT_MAX_STATE_BYTES, max_in_flight=DEFAULT_MAX_IN_FLIGHT,
                  capabilities=CAP_CONDITIONAL_DELETE | CAP_IDENTITY | CAP_OPERATOR)),
        valid("hello_ok_multi_key_ttl",
              "HELLO_OK announcing the default limits and capabilities 0x1f: CONDITIONAL_DELETE, IDENTITY, OPERATOR, MULTI_KEY and TTL; MULTI_KEY adds max_batch_items and max_batch_bytes (defaults 1000 and 4194304).",
              msg("HELLO_OK", 1, version=1, server_version="pgstated 0.4.0",
                  max_frame_bytes=DEFAULT_MAX_FRAME_BYTES, max_id_bytes=DEFAULT_MAX_ID_BYTES,
                  max_state_bytes=DEFAULT_MAX_STATE_BYTES, max_in_flight=DEFAULT_MAX_IN_FLIGHT,
                  capabilities=CAP_CONDITIONAL_DELETE | CAP_IDENTITY | CAP_OPERATOR | CAP_MULTI_KEY | CAP_TTL,
                  max_batch_items=DEFAULT_MAX_BATCH_ITEMS, max_batch_bytes=DEFAULT_MAX_BATCH_BYTES)),
        valid("hello_ok_multi_key_without_ttl",
              "HELLO_OK announcing MULTI_KEY without TTL (capabilities 0x9) and configured batch limits: 100 items, 65536 state bytes per request.",
              msg("HELLO_OK", 2, version=1, server_version="pgstated 0.4.0",
                  max_frame_bytes=DEFAULT_MAX_FRAME_BYTES, max_id_bytes=DEFAULT_MAX_ID_BYTES,
                  max_state_bytes=DEFAULT_MAX_STATE_BYTES, max_in_flight=DEFAULT_MAX_IN_FLIGHT,
                  capabilities=CAP_CONDITIONAL_DELETE | CAP_MULTI_KEY, max_batch_items=100,
                  max_batch_bytes=65536)),
        valid("error_handshake_unsupported_version",
              "Handshake failure: ERROR 104 UNSUPPORTED_VERSION naming the versions the server speaks; the server then closes.",
              msg("ERROR", 1, status=104, message="no common protocol version; server speaks: 1")),
        valid("error_handshake_not_allowed",
              "ERROR 105 NOT_ALLOWED answering a LOAD sent before HELLO; the server then closes.",
              msg("ERROR", 5, status=105, message="first frame must be HELLO")),
        valid("error_handshake_permission_denied",
              "ERROR 106 PERMISSION_DENIED answering HELLO: the access rules grant the peer nothing; the server then closes.",
              msg("ERROR", 1, status=106, message="uid 1002 (guest) is granted nothing by the access rules")),
        invalid("hello_zero_versions",
                "HELLO with versions_count 0.",
                frame(0x01, 0, 1, u8(0) + str8("c")), 100, 1),
        invalid("hello_invalid_utf8_client_name",
                "HELLO whose client_name is not valid UTF-8 (ff fe).",
                frame(0x01, 0, 1, u8(1) + u16be(1) + str8(b"\xff\xfe")), 100, 1),
        invalid("hello_versions_truncated",
                "HELLO with versions_count 3 but only 5 payload bytes after the count: the versions run past the end of the body.",
                frame(0x01, 0, 1, u8(3) + u16be(1) + u16be(2) + u8(0)), 100, 1),
        invalid("hello_missing_client_name",
                "HELLO without the client_name length byte.",
                frame(0x01, 0, 1, u8(1) + u16be(1)), 100, 1),
        invalid("hello_trailing_bytes",
                "HELLO followed by two extra bytes after client_name.",
                frame(0x01, 0, 1, u8(1) + u16be(1) + str8("c") + b"\x00\x00"), 100, 1),
        invalid("hello_undefined_flag",
                "HELLO with flags 0x01 (no flag is defined for HELLO).",
                frame(0x01, 0x01, 1, u8(1) + u16be(1) + str8("c")), 100, 1),
        invalid("hello_request_id_zero",
                "HELLO with the reserved request id 0; the error echoes 0.",
                frame(0x01, 0, 0, u8(1) + u16be(1) + str8("c")), 100, 0),
    ]


def request_vectors():
    return [
        valid("ping",
              "PING; answered by OK.",
              msg("PING", 2)),
        valid("load_ascii_id",
              "LOAD of an ASCII persistence id.",
              msg("LOAD", 7, persistence_id="order-1")),
        valid("load_one_byte_id",
              "LOAD of a 1-byte persistence id (the minimum).",
              msg("LOAD", 8, persistence_id="a")),
        valid("load_max_length_id",
              "LOAD of a 255-byte ASCII persistence id (the maximum with the default max_id_bytes).",
              msg("LOAD", 9, persistence_id=ID_255_ASCII)),
        valid("load_max_length_id_multibyte",
              "LOAD of a persistence id of 85 three-byte characters: 85 characters, 255 bytes (limits count bytes).",
              msg("LOAD", 10, persistence_id=ID_255_CJK)),
        valid("load_utf8_id_cjk",
              "LOAD of a persistence id with multi-byte UTF-8 (\"订单-42\", 9 bytes).",
              msg("LOAD", 11, persistence_id="订单-42")),
        valid("load_utf8_id_emoji",
              "LOAD of a persistence id containing a 4-byte UTF-8 character (U+1F6D2).",
              msg("LOAD", 12, persistence_id="cart-🛒-7")),
        valid("upsert_create",
              "UPSERT with expected_revision 0: create; answered by RECORD revision 1 or CONFLICT.",
              msg("UPSERT", 13, persistence_id="order-1", expected_revision=0,
                  state_hex=STATE_JSON_OPEN.hex())),
        valid("upsert_update",
              "UPSERT with expected_revision 1: update revision 1 to revision 2.",
              msg("UPSERT", 14, persistence_id="order-1", expected_revision=1,
                  state_hex=STATE_JSON_PAID.hex())),
        valid("upsert_empty_state",
              "UPSERT with a 0-byte state (allowed).",
              msg("UPSERT", 15, persistence_id="order-2", expected_revision=3, state_hex="")),
        valid("upsert_binary_state",
              "UPSERT with an opaque binary state containing NUL and 0xff bytes.",
              msg("UPSERT", 16, persistence_id="order-3", expected_revision=2,
                  state_hex=STATE_BINARY.hex())),
        valid("upsert_max_expected_revision",
              "UPSERT with expected_revision 2^63-2, the largest allowed (new revision 2^63-1).",
              msg("UPSERT", 17, persistence_id="order-4", expected_revision=I64_MAX - 1,
                  state_hex="01")),
        valid("upsert_max_request_id",
              "UPSERT with request id 0xffffffff (the largest).",
              msg("UPSERT", 0xFFFFFFFF, persistence_id="order-5", expected_revision=0,
                  state_hex="00")),
        valid("upsert_state_4kib",
              "UPSERT with a 4096-byte state whose byte i is i mod 256.",
              msg("UPSERT", 18, persistence_id="blob-1", expected_revision=5,
                  state_hex=STATE_4K.hex())),
        valid("upsert_state_at_vector_limit",
              "UPSERT whose state is exactly max_state_bytes (16 under this vector's limits): accepted.",
              msg("UPSERT", 19, persistence_id="s", expected_revision=0,
                  state_hex=bytes(range(16)).hex()),
              limits=SMALL_LIMITS),
        valid("delete_unconditional",
              "DELETE without EXPECTED_REVISION: idempotent, always answered by OK.",
              msg("DELETE", 20, persistence_id="order-1", expected_revision=None)),
        valid("delete_conditional",
              "Conditional DELETE (flag 0x01) of revision 3.",
              msg("DELETE", 21, flags=FLAG_EXPECTED_REVISION, persistence_id="order-1",
                  expected_revision=3)),
        valid("delete_conditional_expected_zero",
              "Conditional DELETE with expected_revision 0: \"delete only if absent\" (OK if absent, CONFLICT(0, actual) if present).",
              msg("DELETE", 22, flags=FLAG_EXPECTED_REVISION, persistence_id="order-1",
                  expected_revision=0)),
        valid("delete_conditional_max_expected_revision",
              "Conditional DELETE with expected_revision 2^63-1, the largest allowed for DELETE.",
              msg("DELETE", 23, flags=FLAG_EXPECTED_REVISION, persistence_id="order-1",
                  expected_revision=I64_MAX)),
        valid("whoami",
              "WHOAMI: empty payload; answered by WHOAMI_OK (needs the IDENTITY capability).",
              msg("WHOAMI", 48)),
        valid("load_namespaced",
              "LOAD with flag 0x02 NAMESPACE: the namespace \"billing\" comes before the persistence id.",
              msg("LOAD", 49, flags=FLAG_NAMESPACE, namespace="billing", persistence_id="order-1")),
        valid("load_namespaced_shared",
              "LOAD with flag 0x02 NAMESPACE and an empty namespace: the shared namespace.",
              msg("LOAD", 50, flags=FLAG_NAMESPACE, namespace="", persistence_id="order-1")),
        valid("load_namespace_63_bytes",
              "LOAD naming a namespace of 63 bytes (the longest) drawn from every allowed character kind.",
              msg("LOAD", 51, flags=FLAG_NAMESPACE, namespace=NAMESPACE_63, persistence_id="a")),
        valid("upsert_namespaced",
              "UPSERT with flag 0x02 NAMESPACE into namespace \"billing\": create.",
              msg("UPSERT", 52, flags=FLAG_NAMESPACE, namespace="billing", persistence_id="order-1",
                  expected_revision=0, state_hex=STATE_JSON_OPEN.hex())),
        valid("delete_namespaced",
              "Unconditional DELETE with flag 0x02 NAMESPACE in namespace \"billing\".",
              msg("DELETE", 53, flags=FLAG_NAMESPACE, namespace="billing", persistence_id="order-1",
                  expected_revision=None)),
        valid("delete_namespaced_conditional",
              "Conditional DELETE with flags 0x03 (EXPECTED_REVISION and NAMESPACE) of revision 3 in namespace \"billing\".",
              msg("DELETE", 54, flags=FLAG_EXPECTED_REVISION | FLAG_NAMESPACE, namespace="billing",
                  persistence_id="order-1", expected_revision=3)),
        # ---- the operators' requests (capability OPERATOR) ----
        valid("health",
              "HEALTH: empty payload; answered by HEALTH_OK (needs no permission).",
              msg("HEALTH", 90)),
        valid("stats",
              "STATS: empty payload; answered by STATS_OK (needs ADMIN).",
              msg("STATS", 91)),
        valid("clients_first_page",
              "CLIENTS with after_connection 0: the first page of connections (needs ADMIN).",
              msg("CLIENTS", 92, after_connection=0)),
        valid("clients_after_large",
              "CLIENTS with after_connection 0x0102030405060708: every byte of the u64 distinct, to show the byte order.",
              msg("CLIENTS", 93, after_connection=0x0102030405060708)),
        valid("clients_after_max",
              "CLIENTS with after_connection 2^63-1, the largest integer of the vectors' notation.",
              msg("CLIENTS", 94, after_connection=I64_MAX)),
        valid("pause_timeout_30000",
              "PAUSE with timeout_ms 30000: requests waiting longer than 30 s are answered ERROR 200 (needs ADMIN).",
              msg("PAUSE", 95, timeout_ms=30000)),
        valid("pause_no_limit",
              "PAUSE with timeout_ms 0: no limit, requests wait until RESUME.",
              msg("PAUSE", 96, timeout_ms=0)),
        valid("pause_timeout_max",
              "PAUSE with timeout_ms 2^32-1, the largest.",
              msg("PAUSE", 97, timeout_ms=2**32 - 1)),
        valid("resume",
              "RESUME: empty payload; answered by OK (needs ADMIN).",
              msg("RESUME", 98)),
    ] + multi_key_request_vectors()


def response_vectors():
    t2026 = us(2026, 3, 14, 9, 26, 53, 589793)
    t1969 = us(1969, 7, 20, 20, 17, 40)
    return [
        valid("ok_ping",
              "OK answering PING request 2.",
              msg("OK", 2)),
        valid("ok_delete",
              "OK answering DELETE request 20.",
              msg("OK", 20)),
        valid("record_created",
              "RECORD revision 1, committed at 2026-03-14T09:26:53.589793Z.",
              msg("RECORD", 13, revision=1, updated_at_us=t2026,
                  state_hex=STATE_JSON_OPEN.hex())),
        valid("record_empty_state",
              "RECORD with a 0-byte state.",
              msg("RECORD", 15, revision=4, updated_at_us=t2026 + 1, state_hex="")),
        valid("record_binary_state",
              "RECORD with an opaque binary state containing NUL and 0xff bytes.",
              msg("RECORD", 16, revision=3, updated_at_us=t2026 + 2,
                  state_hex=STATE_BINARY.hex())),
        valid("record_updated_at_before_1970",
              "RECORD with a negative updated_at (1969-07-20T20:17:40Z).",
              msg("RECORD", 7, revision=2, updated_at_us=t1969, state_hex="00")),
        valid("record_max_revision",
              "RECORD with revision 2^63-1, the largest revision.",
              msg("RECORD", 17, revision=I64_MAX, updated_at_us=t2026, state_hex="01")),
        valid("not_found",
              "NOT_FOUND answering LOAD request 7.",
              msg("NOT_FOUND", 7)),
        valid("conflict_expected_3_actual_5",
              "CONFLICT: the request expected revision 3, the committed revision is 5.",
              msg("CONFLICT", 21, expected_revision=3, actual_revision=5)),
        valid("conflict_expected_2_absent",
              "CONFLICT: the request expected revision 2, no state exists (actual 0).",
              msg("CONFLICT", 14, expected_revision=2, actual_revision=0)),
        valid("conflict_create_exists",
              "CONFLICT: UPSERT with expected 0 (create) but revision 4 exists.",
              msg("CONFLICT", 13, expected_revision=0, actual_revision=4)),
        valid("error_malformed_frame",
              "ERROR 100 MALFORMED_FRAME echoing the request id of the offending frame.",
              msg("ERROR", 24, status=100, message="trailing bytes after LOAD payload")),
        valid("error_malformed_frame_no_request",
              "ERROR 100 MALFORMED_FRAME with request id 0 (frame length shorter than the header).",
              msg("ERROR", 0, status=100, message="frame length 5 is shorter than the 6-byte header")),
        valid("error_unknown_message_type",
              "ERROR 101 UNKNOWN_MESSAGE_TYPE; the connection stays open.",
              msg("ERROR", 25, status=101, message="unknown message type 0x7f")),
        valid("error_invalid_argument",
              "ERROR 102 INVALID_ARGUMENT; the connection stays open.",
              msg("ERROR", 26, status=102, message="persistence_id must not be empty")),
        valid("error_frame_too_large",
              "ERROR 103 FRAME_TOO_LARGE; always request id 0.",
              msg("ERROR", 0, status=103, message="frame length 8392705 exceeds max_frame_bytes 8392704")),
        valid("error_unsupported_version",
              "ERROR 104 UNSUPPORTED_VERSION.",
              msg("ERROR", 1, status=104, message="versions 2, 3 not supported; server speaks: 1")),
        valid("error_not_allowed",
              "ERROR 105 NOT_ALLOWED answering a second HELLO.",
              msg("ERROR", 27, status=105, message="HELLO already received")),
        valid("error_unavailable",
              "ERROR 200 UNAVAILABLE: the database is unreachable; the request was not executed.",
              msg("ERROR", 28, status=200, message="database unreachable")),
        valid("error_overloaded",
              "ERROR 201 OVERLOADED answering a request (global queue full); the connection stays open.",
              msg("ERROR", 29, status=201, message="request queue full")),
        valid("error_overloaded_connection_limit",
              "ERROR 201 OVERLOADED with request id 0: connection limit reached; the server then closes.",
              msg("ERROR", 0, status=201, message="too many connections")),
        valid("error_shutting_down",
              "ERROR 202 SHUTTING_DOWN.",
              msg("ERROR", 30, status=202, message="server is shutting down")),
        valid("error_outcome_unknown",
              "ERROR 300 OUTCOME_UNKNOWN: the request may or may not have been applied.",
              msg("ERROR", 31, status=300, message="database connection lost after the write was sent")),
        valid("error_internal_error",
              "ERROR 500 INTERNAL_ERROR.",
              msg("ERROR", 32, status=500, message="internal error")),
        valid("error_empty_message",
              "ERROR with an empty message.",
              msg("ERROR", 33, status=200, message="")),
        valid("error_utf8_message",
              "ERROR with a multi-byte UTF-8 message.",
              msg("ERROR", 34, status=102, message="persistence_id 无效: 含控制字符 ✗")),
        valid("error_unassigned_status",
              "ERROR with the unassigned status 299; clients treat it by its class (2xx: not executed, retryable).",
              msg("ERROR", 35, status=299, message="future condition")),
        valid("error_permission_denied",
              "ERROR 106 PERMISSION_DENIED answering an UPSERT of a connection without WRITE; nothing was executed, the connection stays open.",
              msg("ERROR", 36, status=106, message="uid 1001 (billing) may not write: permissions READ")),
        valid("whoami_ok_billing",
              "WHOAMI_OK: uid 1001 (billing), pid 4242, namespace \"billing\", permissions READ|WRITE, granted by line 2 of the access rules.",
              msg("WHOAMI_OK", 48, uid=1001, gid=1001, pid=4242, user="billing", namespace="billing",
                  permissions=PERM_READ | PERM_WRITE, rule="/etc/pgstated/access.conf:2")),
        valid("whoami_ok_shared",
              "WHOAMI_OK: root in the shared namespace (empty) with every permission, a server without access rules (empty rule).",
              msg("WHOAMI_OK", 48, uid=0, gid=0, pid=1, user="root", namespace="",
                  permissions=PERM_READ | PERM_WRITE | PERM_ADMIN | PERM_ANY_NAMESPACE, rule="")),
        valid("whoami_ok_reserved_permission_bits",
              "WHOAMI_OK with reserved permission bits (0xf0) set next to READ; clients ignore unknown bits. The peer has no user name and an unknown pid.",
              msg("WHOAMI_OK", 48, uid=4294967294, gid=4294967294, pid=0, user="", namespace="tenant-7",
                  permissions=0xF0 | PERM_READ, rule="/etc/pgstated/access.conf:9")),
        valid("whoami_ok_utf8_user",
              "WHOAMI_OK whose user name holds multi-byte UTF-8.",
              msg("WHOAMI_OK", 48, uid=1500, gid=100, pid=77, user="jürgen", namespace="team-7",
                  permissions=PERM_READ, rule="access.conf:12")),
        # ---- answers to the operators' requests ----
        valid("health_ok_ready",
              "HEALTH_OK: POOL_UP, not paused, not draining (READY); 8 of 8 database connections up, 3 clients, up for 1 day 2 h 3 min 4.567 s.",
              msg("HEALTH_OK", 90, state=HEALTH_POOL_UP, pool_up=8, pool_size=8, clients=3,
                  uptime_ms=93784567)),
        valid("health_ok_paused_pool_down",
              "HEALTH_OK: PAUSED with the pool down (0 of 8 connections up): alive but not ready; the asking client is the only one.",
              msg("HEALTH_OK", 90, state=HEALTH_PAUSED, pool_up=0, pool_size=8, clients=1, uptime_ms=1500)),
        valid("health_ok_draining",
              "HEALTH_OK: POOL_UP and DRAINING (shutting down): not ready; uptime 2^63-1 ms.",
              msg("HEALTH_OK", 90, state=HEALTH_POOL_UP | HEALTH_DRAINING, pool_up=65535, pool_size=65535,
                  clients=4294967295, uptime_ms=I64_MAX)),
        valid("health_ok_reserved_state_bits",
              "HEALTH_OK with reserved state bits (0xf8) set next to POOL_UP; clients ignore unknown bits (READY).",
              msg("HEALTH_OK", 90, state=0xF8 | HEALTH_POOL_UP, pool_up=2, pool_size=4, clients=2, uptime_ms=0)),
        valid("stats_ok_entries",
              "STATS_OK with 9 entries sorted by (name, labels): a label set with a version, empty label sets, a zero, a histogram as _count, _sum and quantiles 0.5 and 0.99, a counter at 2^53 with three labels.",
              msg("STATS_OK", 91, entries=STATS_ENTRIES)),
        valid("stats_ok_quantile_and_gauge",
              "STATS_OK with 2 entries: the 0.99 quantile of the LOAD duration histogram (labels op and quantile; the upper bound of its bucket, 512 microseconds) and pgstate_up with an empty label set.",
              msg("STATS_OK", 91, entries=[
                  {"name": "pgstate_request_duration_seconds", "labels": 'op="load",quantile="0.99"',
                   "value": 0.000512},
                  {"name": "pgstate_up", "labels": "", "value": 1.0}])),
        valid("stats_ok_empty",
              "STATS_OK with zero entries.",
              msg("STATS_OK", 91, entries=[])),
        valid("clients_ok_two_rows_more",
              "CLIENTS_OK answering CLIENTS after 0: two rows (7 READY, a pgstate-py client; 9 still in the handshake, with no user name, unknown pid and no client name yet) and more 1: ask again after 9.",
              msg("CLIENTS_OK", 92, more=1, rows=[CLIENT_ROW_7, CLIENT_ROW_9])),
        valid("clients_ok_empty",
              "CLIENTS_OK with zero rows and more 0: no connection after the one asked for.",
              msg("CLIENTS_OK", 93, more=0, rows=[])),
        valid("clients_ok_last_page_unknown_state",
              "CLIENTS_OK with one row in a state this protocol version does not define (7: shown as unknown), UTF-8 user and client names, and more 0 (the last page).",
              msg("CLIENTS_OK", 93, more=0, rows=[CLIENT_ROW_UNKNOWN_STATE])),
    ] + multi_key_response_vectors()


WHOAMI_OK_IDS = u32be(1001) + u32be(1001) + u32be(4242)  # uid, gid, pid

STATS_ENTRIES = [
    {"name": "pgstate_build_info", "labels": 'version="0.3.0"', "value": 1.0},
    {"name": "pgstate_paused", "labels": "", "value": 0.0},
    {"name": "pgstate_queue_wait_seconds", "labels": 'quantile="0.5"', "value": 0.000064},
    {"name": "pgstate_queue_wait_seconds", "labels": 'quantile="0.99"', "value": 0.000512},
    {"name": "pgstate_queue_wait_seconds_count", "labels": "", "value": 1234.0},
    {"name": "pgstate_queue_wait_seconds_sum", "labels": "", "value": 0.25},
    {"name": "pgstate_requests_total", "labels": 'namespace="billing",op="load",outcome="ok"',
     "value": float(2**53)},
    {"name": "pgstate_up", "labels": "", "value": 1.0},
    {"name": "process_start_time_seconds", "labels": "", "value": 1773480413.59},
]
assert STATS_ENTRIES == sorted(STATS_ENTRIES, key=lambda e: (e["name"].encode(), e["labels"].encode()))

CLIENT_ROW_7 = {"connection_id": 7, "uid": 1001, "pid": 4242, "user": "billing", "namespace": "billing",
                "client_name": "pgstate-py/0.3.0", "state": CLIENT_READY, "connected_ms": 1773480413589,
                "requests": 1200, "in_flight": 2}
CLIENT_ROW_9 = {"connection_id": 9, "uid": 0, "pid": 0, "user": "", "namespace": "", "client_name": "",
                "state": CLIENT_HANDSHAKE, "connected_ms": 1773480420000, "requests": 0, "in_flight": 0}
CLIENT_ROW_UNKNOWN_STATE = {"connection_id": I64_MAX, "uid": 4294967294, "pid": 77, "user": "jürgen",
                            "namespace": "team-7", "client_name": "客户端", "state": 7,
                            "connected_ms": 1773480413589, "requests": I64_MAX, "in_flight": 4294967295}


# --------------------------------------------------------------------------
# Multi-key requests and TTL (PROTOCOL.md 6.22 to 6.30)
# --------------------------------------------------------------------------

T2026 = us(2026, 3, 14, 9, 26, 53, 589793)
STATE_16 = bytes(range(16))

MIXED_ITEMS = [
    upsert_item("order-1", 0, STATE_JSON_OPEN.hex()),
    delete_item("order-2"),
    delete_item("order-3", 3),
    upsert_item("order-4", 2, STATE_JSON_PAID.hex(), ttl_seconds=3600),
]


def multi_key_request_vectors():
    return [
        valid("bulk_load_three_ids",
              "BULK_LOAD of three ids (one of multi-byte UTF-8); answered by RECORDS with one entry per id, in request order.",
              msg("BULK_LOAD", 120, ids=["order-1", "order-2", "订单-42"])),
        valid("bulk_load_namespaced",
              "BULK_LOAD with flag 0x02 NAMESPACE: the namespace \"billing\" comes before the count and applies to every id.",
              msg("BULK_LOAD", 121, flags=FLAG_NAMESPACE, namespace="billing", ids=["order-1", "order-2"])),
        valid("bulk_load_repeated_id",
              "BULK_LOAD naming order-1 twice: allowed; RECORDS answers each occurrence.",
              msg("BULK_LOAD", 122, ids=["order-1", "order-2", "order-1"])),
        valid("bulk_load_at_vector_limit",
              "BULK_LOAD of 4 ids, exactly max_batch_items under this vector's limits: accepted.",
              msg("BULK_LOAD", 123, ids=["a", "b", "c", "d"]), limits=BATCH_LIMITS),
        valid("bulk_write_mixed_items",
              "BULK_WRITE of four independent items: a create, an unconditional delete, a conditional delete of revision 3, and an update of revision 2 with TTL 3600 s (item flag 0x04).",
              msg("BULK_WRITE", 124, items=MIXED_ITEMS)),
        valid("bulk_write_namespaced",
              "BULK_WRITE with flag 0x02 NAMESPACE in namespace \"billing\": one update item.",
              msg("BULK_WRITE", 125, flags=FLAG_NAMESPACE, namespace="billing",
                  items=[upsert_item("order-1", 1, STATE_JSON_PAID.hex())])),
        valid("bulk_write_same_id_twice",
              "BULK_WRITE creating order-1 and then deleting its revision 1: allowed in BULK_WRITE; two items for one id apply in item order.",
              msg("BULK_WRITE", 126, items=[upsert_item("order-1", 0, STATE_JSON_OPEN.hex()),
                                            delete_item("order-1", 1)])),
        valid("bulk_write_item_breaking_a_rule",
              "BULK_WRITE whose second item carries ttl_seconds 0 (outside 1..2^31-1): the frame is well formed and decodes; the server answers that item FAILED 102 in OUTCOMES and applies the first (6.25).",
              msg("BULK_WRITE", 127, items=[upsert_item("order-1", 0, STATE_JSON_OPEN.hex()),
                                            upsert_item("order-2", 0, "00", ttl_seconds=0)])),
        valid("transact_mixed_items",
              "TRANSACT of the same four items as bulk_write_mixed_items: all apply or none.",
              msg("TRANSACT", 128, items=MIXED_ITEMS)),
        valid("transact_namespaced",
              "TRANSACT with flag 0x02 NAMESPACE in namespace \"billing\": a transfer, two updates that apply together or not at all.",
              msg("TRANSACT", 129, flags=FLAG_NAMESPACE, namespace="billing",
                  items=[upsert_item("account-a", 4, b'{"balance":70}'.hex()),
                         upsert_item("account-b", 9, b'{"balance":130}'.hex())])),
        valid("transact_states_at_vector_limit",
              "TRANSACT of two 16-byte states: 32 state bytes, exactly max_batch_bytes under this vector's limits: accepted.",
              msg("TRANSACT", 130, items=[upsert_item("s1", 0, STATE_16.hex()),
                                          upsert_item("s2", 0, STATE_16.hex())]), limits=BATCH_LIMITS),
        valid("transact_delete_expected_zero",
              "TRANSACT guarded by a conditional delete item expecting 0 (\"only if lock-1 is absent\", it removes nothing) and a create.",
              msg("TRANSACT", 131, items=[delete_item("lock-1", 0), upsert_item("job-1", 0, "01")])),
        valid("list_first_page",
              "LIST of the ids starting with \"order-\", at most 100, from the first (flags 0: no cursor).",
              msg("LIST", 132, prefix="order-", limit=100)),
        valid("list_after",
              "LIST with flag 0x01 AFTER: the ids starting with \"order-\" greater than \"order-42\", at most 100.",
              msg("LIST", 133, flags=FLAG_AFTER, prefix="order-", after="order-42", limit=100)),
        valid("list_namespaced",
              "LIST with flag 0x02 NAMESPACE in namespace \"billing\", empty prefix, at most 50.",
              msg("LIST", 134, flags=FLAG_NAMESPACE, namespace="billing", prefix="", limit=50)),
        valid("list_namespaced_after",
              "LIST with flags 0x03 (AFTER and NAMESPACE): the namespace, the prefix, then the cursor.",
              msg("LIST", 135, flags=FLAG_AFTER | FLAG_NAMESPACE, namespace="billing", prefix="inv-",
                  after="inv-2026-03", limit=10)),
        valid("list_empty_prefix",
              "LIST with an empty prefix (every id) and limit 1000, the default max_batch_items.",
              msg("LIST", 136, prefix="", limit=DEFAULT_MAX_BATCH_ITEMS)),
        valid("list_limit_at_vector_limit",
              "LIST with limit 4, exactly max_batch_items under this vector's limits: accepted.",
              msg("LIST", 137, prefix="a", limit=4), limits=BATCH_LIMITS),
        valid("upsert_ttl",
              "UPSERT with flag 0x04 TTL: create, expiring 3600 s after its commit; ttl_seconds comes after expected_revision, before the state.",
              msg("UPSERT", 138, flags=FLAG_TTL, persistence_id="order-1", expected_revision=0, ttl_seconds=3600,
                  state_hex=STATE_JSON_OPEN.hex())),
        valid("upsert_ttl_namespaced",
              "UPSERT with flags 0x06 (NAMESPACE and TTL) in namespace \"billing\": update revision 1 with TTL 60 s.",
              msg("UPSERT", 139, flags=FLAG_NAMESPACE | FLAG_TTL, namespace="billing", persistence_id="order-1",
                  expected_revision=1, ttl_seconds=60, state_hex=STATE_JSON_PAID.hex())),
        valid("upsert_ttl_max",
              "UPSERT with ttl_seconds 2^31-1, the largest.",
              msg("UPSERT", 140, flags=FLAG_TTL, persistence_id="session-9", expected_revision=0,
                  ttl_seconds=2**31 - 1, state_hex="")),
    ]


def multi_key_response_vectors():
    return [
        valid("records_found_absent_omitted",
              "RECORDS answering bulk_load_three_ids: order-1 FOUND (revision 1), order-2 ABSENT, the third OMITTED (it did not fit the frame; the client loads it again).",
              msg("RECORDS", 120, entries=[
                  {"presence": PRESENCE_FOUND, "revision": 1, "updated_at_us": T2026,
                   "state_hex": STATE_JSON_OPEN.hex()},
                  {"presence": PRESENCE_ABSENT},
                  {"presence": PRESENCE_OMITTED}])),
        valid("records_all_absent",
              "RECORDS answering bulk_load_namespaced: both ids ABSENT.",
              msg("RECORDS", 121, entries=[{"presence": PRESENCE_ABSENT}, {"presence": PRESENCE_ABSENT}])),
        valid("records_repeated_id",
              "RECORDS answering bulk_load_repeated_id: order-1 FOUND in both of its places, order-2 FOUND with an empty state.",
              msg("RECORDS", 122, entries=[
                  {"presence": PRESENCE_FOUND, "revision": 2, "updated_at_us": T2026,
                   "state_hex": STATE_JSON_PAID.hex()},
                  {"presence": PRESENCE_FOUND, "revision": 7, "updated_at_us": T2026 - 1, "state_hex": ""},
                  {"presence": PRESENCE_FOUND, "revision": 2, "updated_at_us": T2026,
                   "state_hex": STATE_JSON_PAID.hex()}])),
        valid("outcomes_all_four_results",
              "OUTCOMES answering bulk_write_mixed_items, one per item: WRITTEN revision 1, DELETED, CONFLICT(expected 3, actual 5), FAILED 300 (that item's outcome is unknown).",
              msg("OUTCOMES", 124, outcomes=[
                  {"result": RESULT_WRITTEN, "revision": 1, "updated_at_us": T2026},
                  {"result": RESULT_DELETED},
                  {"result": RESULT_CONFLICT, "expected_revision": 3, "actual_revision": 5},
                  {"result": RESULT_FAILED, "status": 300, "message": "database connection lost"}])),
        valid("outcomes_item_failed_invalid_argument",
              "OUTCOMES answering bulk_write_item_breaking_a_rule: the first item WRITTEN, the second FAILED 102 (its ttl_seconds 0).",
              msg("OUTCOMES", 127, outcomes=[
                  {"result": RESULT_WRITTEN, "revision": 1, "updated_at_us": T2026},
                  {"result": RESULT_FAILED, "status": 102, "message": "item 1: ttl_seconds must be 1..2147483647"}])),
        valid("outcomes_transact_committed",
              "OUTCOMES answering transact_mixed_items: the transaction applied; every outcome WRITTEN or DELETED, at one commit time.",
              msg("OUTCOMES", 128, outcomes=[
                  {"result": RESULT_WRITTEN, "revision": 1, "updated_at_us": T2026},
                  {"result": RESULT_DELETED},
                  {"result": RESULT_DELETED},
                  {"result": RESULT_WRITTEN, "revision": 3, "updated_at_us": T2026}])),
        valid("transact_conflict_two_items",
              "TRANSACT_CONFLICT answering transact_mixed_items: nothing applied; item 0 expected 0 but revision 4 exists, item 2 expected 3 but order-3 is absent (actual 0).",
              msg("TRANSACT_CONFLICT", 128, conflicts=[
                  {"index": 0, "expected_revision": 0, "actual_revision": 4},
                  {"index": 2, "expected_revision": 3, "actual_revision": 0}])),
        valid("list_ok_more",
              "LIST_OK answering list_after with two ids and more 1: ask again with AFTER \"order-6\".",
              msg("LIST_OK", 133, more=1, entries=[
                  {"persistence_id": "order-5", "revision": 3, "updated_at_us": T2026},
                  {"persistence_id": "order-6", "revision": 1, "updated_at_us": T2026 + 1}])),
        valid("list_ok_last_page",
              "LIST_OK with one id and more 0: the last page.",
              msg("LIST_OK", 132, more=0, entries=[
                  {"persistence_id": "order-7", "revision": I64_MAX, "updated_at_us": T2026}])),
        valid("list_ok_empty",
              "LIST_OK with no id and more 0: nothing (more) matches.",
              msg("LIST_OK", 136, more=0, entries=[])),
        valid("list_ok_byte_order",
              "LIST_OK whose ids ascend in byte order of their UTF-8 (\"order-Z\" 0x5a < \"order-a\" 0x61 < \"order-é\" 0xc3 0xa9), not in any collation.",
              msg("LIST_OK", 132, more=0, entries=[
                  {"persistence_id": "order-Z", "revision": 1, "updated_at_us": T2026},
                  {"persistence_id": "order-a", "revision": 2, "updated_at_us": T2026},
                  {"persistence_id": "order-é", "revision": 3, "updated_at_us": T2026}])),
    ]


def _items(*encoded):
    """A BULK_WRITE / TRANSACT payload without namespace: the count, then the item bytes."""
    return u16be(len(encoded)) + b"".join(encoded)


def _ids(*ids):
    return u16be(len(ids)) + b"".join(str8(i) for i in ids)


def multi_key_invalid_vectors():
    L = BATCH_LIMITS
    up = item("upsert", "order-1", 0, "78")
    dl = item("delete", "order-2")
    st16 = STATE_16.hex()
    hello_ok_fields = (u16be(1) + str8("pgstated 0.4.0") + u32be(DEFAULT_MAX_FRAME_BYTES) + u16be(255)
                       + u32be(DEFAULT_MAX_STATE_BYTES) + u32be(DEFAULT_MAX_IN_FLIGHT))
    return [
        # ---- payload structure (MALFORMED_FRAME) ----
        invalid("bulk_write_unknown_item_kind",
                "BULK_WRITE whose item has kind 0x03 (only 0x01 UPSERT and 0x02 DELETE are defined).",
                frame(0x0D, 0, 180, _items(u8(3) + u8(0) + str8("order-1") + u64be(0) + bytes32(b"x"))), 100, 180),
        invalid("transact_item_kind_zero",
                "TRANSACT whose second item has kind 0x00.",
                frame(0x0E, 0, 181, _items(up, u8(0) + u8(0) + str8("order-2"))), 100, 181),
        invalid("bulk_write_undefined_item_flag",
                "BULK_WRITE whose upsert item has item flags 0x08 (undefined).",
                frame(0x0D, 0, 182, _items(item("upsert", "order-1", 0, "78", item_flags=0x08))), 100, 182),
        invalid("bulk_write_upsert_item_expected_revision_flag",
                "BULK_WRITE whose upsert item has item flag 0x01 EXPECTED_REVISION (defined for delete items only).",
                frame(0x0D, 0, 183, _items(item("upsert", "order-1", 0, "78", item_flags=ITEM_FLAG_EXPECTED_REVISION))),
                100, 183),
        invalid("transact_delete_item_ttl_flag",
                "TRANSACT whose delete item has item flag 0x04 TTL (defined for upsert items only), followed by 4 bytes that would be a ttl.",
                frame(0x0E, 0, 184, _items(item("delete", "order-2", item_flags=ITEM_FLAG_TTL) + u32be(60))),
                100, 184),
        invalid("bulk_write_truncated_item",
                "BULK_WRITE with count 2 and one item.",
                frame(0x0D, 0, 185, u16be(2) + up), 100, 185),
        invalid("transact_item_truncated_state",
                "TRANSACT whose upsert item's state length (10) is larger than the rest of the body (3).",
                frame(0x0E, 0, 186, u16be(1) + u8(1) + u8(0) + str8("order-1") + u64be(0) + u32be(10) + b"abc"),
                100, 186),
        invalid("bulk_write_delete_item_missing_revision",
                "BULK_WRITE whose delete item has item flag 0x01 but no expected_revision (the frame ends).",
                frame(0x0D, 0, 187, _items(u8(2) + u8(ITEM_FLAG_EXPECTED_REVISION) + str8("order-2"))), 100, 187),
        invalid("bulk_write_trailing_bytes",
                "BULK_WRITE with one byte after its last item.",
                frame(0x0D, 0, 188, _items(up, dl) + b"\x00"), 100, 188),
        invalid("transact_trailing_bytes",
                "TRANSACT with 8 bytes after its unconditional delete item (the item flag 0x01 is clear: no expected_revision).",
                frame(0x0E, 0, 189, _items(dl) + u64be(3)), 100, 189),
        invalid("bulk_load_trailing_bytes",
                "BULK_LOAD with one byte after its last id.",
                frame(0x0C, 0, 190, _ids("order-1") + b"\x00"), 100, 190),
        invalid("bulk_load_count_over_ids",
                "BULK_LOAD with count 3 and two ids.",
                frame(0x0C, 0, 191, u16be(3) + str8("order-1") + str8("order-2")), 100, 191),
        invalid("bulk_load_missing_count",
                "BULK_LOAD with an empty payload (no count).",
                frame(0x0C, 0, 192), 100, 192),
        invalid("bulk_load_count_0_trailing_bytes",
                "BULK_LOAD with count 0 followed by an id: trailing bytes. The payload structure is checked before the argument rules (count 0 alone is 102).",
                frame(0x0C, 0, 193, u16be(0) + str8("order-1")), 100, 193),
        invalid("list_undefined_flag_0x04",
                "LIST with flags 0x04 (TTL is defined for UPSERT only).",
                frame(0x0F, 0x04, 194, str8("order-") + u16be(10)), 100, 194),
        invalid("list_after_flag_without_after",
                "LIST with flag 0x01 AFTER but no cursor: the limit's first byte is read as an empty cursor, and the limit runs past the end of the body.",
                frame(0x0F, FLAG_AFTER, 195, str8("order-") + u16be(10)), 100, 195),
        invalid("list_trailing_bytes",
                "LIST without AFTER followed by a cursor: trailing bytes.",
                frame(0x0F, 0, 196, str8("order-") + u16be(10) + str8("order-1")), 100, 196),
        invalid("list_missing_limit",
                "LIST ending after its prefix (no limit).",
                frame(0x0F, 0, 197, str8("order-")), 100, 197),
        invalid("upsert_ttl_flag_missing_state",
                "UPSERT with flag 0x04 TTL ending after ttl_seconds (no state length).",
                frame(0x04, FLAG_TTL, 198, str8("order-1") + u64be(0) + u32be(60)), 100, 198),
        invalid("upsert_ttl_truncated",
                "UPSERT with flag 0x04 TTL ending 2 bytes into ttl_seconds.",
                frame(0x04, FLAG_TTL, 199, str8("order-1") + u64be(0) + b"\x00\x00"), 100, 199),
        invalid("bulk_load_flag_0x01",
                "BULK_LOAD with flags 0x01 (defined for DELETE and LIST only).",
                frame(0x0C, 0x01, 200, _ids("order-1")), 100, 200),
        invalid("bulk_write_flag_ttl",
                "BULK_WRITE with flags 0x04: TTL is an item flag there, not a frame flag.",
                frame(0x0D, FLAG_TTL, 201, _items(up)), 100, 201),
        # ---- argument rules (INVALID_ARGUMENT) ----
        invalid("bulk_load_count_0",
                "BULK_LOAD with count 0 (1..max_batch_items).",
                frame(0x0C, 0, 210, u16be(0)), 102, 210),
        invalid("bulk_load_over_vector_max_batch_items",
                "BULK_LOAD of 5 ids, max_batch_items being 4 under this vector's limits.",
                frame(0x0C, 0, 211, _ids("a", "b", "c", "d", "e")), 102, 211, limits=L),
        invalid("bulk_load_empty_id",
                "BULK_LOAD whose second id is empty: the whole request is refused.",
                frame(0x0C, 0, 212, _ids("order-1", "")), 102, 212),
        invalid("bulk_load_id_control_character",
                "BULK_LOAD whose second id contains U+001F.",
                frame(0x0C, 0, 213, _ids("order-1", b"a\x1fb")), 102, 213),
        invalid("bulk_load_invalid_utf8_id",
                "BULK_LOAD whose id is not valid UTF-8 (c3 28).",
                frame(0x0C, 0, 214, _ids(b"\xc3\x28")), 102, 214),
        invalid("bulk_load_namespace_bad_character",
                "BULK_LOAD naming the namespace \"bill/ing\".",
                frame(0x0C, FLAG_NAMESPACE, 215, str8("bill/ing") + _ids("order-1")), 102, 215),
        invalid("bulk_write_count_0",
                "BULK_WRITE with count 0.",
                frame(0x0D, 0, 216, u16be(0)), 102, 216),
        invalid("bulk_write_over_vector_max_batch_items",
                "BULK_WRITE of 5 delete items, max_batch_items being 4 under this vector's limits: a request-wide rule, ERROR 102 for the whole request.",
                frame(0x0D, 0, 217, _items(*[item("delete", "d%d" % i) for i in range(5)])), 102, 217, limits=L),
        invalid("bulk_write_states_over_vector_max_batch_bytes",
                "BULK_WRITE of three 16-byte states: 48 state bytes, max_batch_bytes being 32 under this vector's limits (each state is within max_state_bytes 16).",
                frame(0x0D, 0, 218, _items(*[item("upsert", "s%d" % i, 0, st16) for i in range(3)])),
                102, 218, limits=L),
        invalid("transact_count_0",
                "TRANSACT with count 0.",
                frame(0x0E, 0, 219, u16be(0)), 102, 219),
        invalid("transact_over_vector_max_batch_items",
                "TRANSACT of 5 delete items, max_batch_items being 4 under this vector's limits.",
                frame(0x0E, 0, 220, _items(*[item("delete", "d%d" % i) for i in range(5)])), 102, 220, limits=L),
        invalid("transact_states_over_vector_max_batch_bytes",
                "TRANSACT of three 16-byte states: 48 state bytes, max_batch_bytes being 32 under this vector's limits.",
                frame(0x0E, 0, 221, _items(*[item("upsert", "s%d" % i, 0, st16) for i in range(3)])),
                102, 221, limits=L),
        invalid("transact_duplicate_id",
                "TRANSACT naming order-1 twice (an upsert and a delete): an id appears at most once per transaction.",
                frame(0x0E, 0, 222, _items(up, item("delete", "order-1"))), 102, 222),
        invalid("transact_item_empty_id",
                "TRANSACT whose second item has an empty id: the whole transaction is refused.",
                frame(0x0E, 0, 223, _items(up, item("delete", ""))), 102, 223),
        invalid("transact_item_invalid_utf8_id",
                "TRANSACT whose item id is not valid UTF-8 (ed a0 80, a lone surrogate).",
                frame(0x0E, 0, 224, _items(item("delete", b"\xed\xa0\x80"))), 102, 224),
        invalid("transact_item_ttl_0",
                "TRANSACT whose upsert item carries ttl_seconds 0 (1..2^31-1).",
                frame(0x0E, 0, 225, _items(item("upsert", "order-1", 0, "78", ttl_seconds=0))), 102, 225),
        invalid("transact_item_ttl_2_31",
                "TRANSACT whose upsert item carries ttl_seconds 2^31.",
                frame(0x0E, 0, 226, _items(item("upsert", "order-1", 0, "78", ttl_seconds=2**31))), 102, 226),
        invalid("transact_item_state_over_vector_limit",
                "TRANSACT whose upsert item has a 17-byte state, max_state_bytes being 16 under this vector's limits.",
                frame(0x0E, 0, 227, _items(item("upsert", "s", 0, bytes(range(17)).hex()))), 102, 227,
                limits=SMALL_LIMITS),
        invalid("transact_item_expected_revision_2_63_minus_1",
                "TRANSACT whose upsert item expects 2^63-1: the new revision would not fit.",
                frame(0x0E, 0, 228, _items(item("upsert", "order-1", I64_MAX, "78"))), 102, 228),
        invalid("transact_delete_item_expected_revision_2_63",
                "TRANSACT whose conditional delete item expects 2^63.",
                frame(0x0E, 0, 229, _items(item("delete", "order-2", 2**63))), 102, 229),
        invalid("upsert_ttl_0",
                "UPSERT with flag 0x04 TTL and ttl_seconds 0 (1..2^31-1).",
                frame(0x04, FLAG_TTL, 230, str8("order-1") + u64be(0) + u32be(0) + bytes32(b"x")), 102, 230),
        invalid("upsert_ttl_2_31",
                "UPSERT with ttl_seconds 2^31.",
                frame(0x04, FLAG_TTL, 231, str8("order-1") + u64be(0) + u32be(2**31) + bytes32(b"x")), 102, 231),
        invalid("upsert_ttl_max_u32",
                "UPSERT with ttl_seconds 2^32-1.",
                frame(0x04, FLAG_TTL, 232, str8("order-1") + u64be(0) + u32be(2**32 - 1) + bytes32(b"x")),
                102, 232),
        invalid("list_limit_0",
                "LIST with limit 0 (1..max_batch_items).",
                frame(0x0F, 0, 233, str8("order-") + u16be(0)), 102, 233),
        invalid("list_limit_over_vector_max_batch_items",
                "LIST with limit 5, max_batch_items being 4 under this vector's limits.",
                frame(0x0F, 0, 234, str8("order-") + u16be(5)), 102, 234, limits=L),
        invalid("list_limit_over_default_max_batch_items",
                "LIST with limit 1001, over the default max_batch_items 1000.",
                frame(0x0F, 0, 235, str8("") + u16be(DEFAULT_MAX_BATCH_ITEMS + 1)), 102, 235),
        invalid("list_prefix_control_character",
                "LIST whose prefix contains a newline (U+000A): no id can hold it.",
                frame(0x0F, 0, 236, str8(b"order\n") + u16be(10)), 102, 236),
        invalid("list_prefix_invalid_utf8",
                "LIST whose prefix is not valid UTF-8 (it ends in the middle of a 3-byte sequence, e8 ae).",
                frame(0x0F, 0, 237, str8(b"ab\xe8\xae") + u16be(10)), 102, 237),
        invalid("list_after_empty",
                "LIST with flag 0x01 AFTER and an empty cursor (the cursor is a persistence id: 1 byte at least).",
                frame(0x0F, FLAG_AFTER, 238, str8("order-") + str8("") + u16be(10)), 102, 238),
        invalid("list_after_control_character",
                "LIST whose cursor contains U+007F.",
                frame(0x0F, FLAG_AFTER, 239, str8("order-") + str8(b"order-\x7f") + u16be(10)), 102, 239),
        invalid("list_namespace_64_bytes",
                "LIST naming a namespace of 64 bytes (at most 63).",
                frame(0x0F, FLAG_NAMESPACE, 240, str8("n" * 64) + str8("") + u16be(10)), 102, 240),
        # ---- response side (decoded by a client) ----
        invalid("records_presence_3",
                "Response side: RECORDS whose entry has presence 3 (0 ABSENT, 1 FOUND, 2 OMITTED are defined). The client treats it as a protocol error.",
                frame(0x8B, 0, 120, u16be(1) + u8(3)), 100, 120, direction="response"),
        invalid("records_count_over_entries",
                "Response side: RECORDS with count 3 and two entries. The client treats it as a protocol error.",
                frame(0x8B, 0, 120, u16be(3) + u8(PRESENCE_ABSENT) + u8(PRESENCE_ABSENT)), 100, 120,
                direction="response"),
        invalid("records_found_truncated",
                "Response side: RECORDS whose FOUND entry ends after its updated_at (no state). The client treats it as a protocol error.",
                frame(0x8B, 0, 120, u16be(1) + u8(PRESENCE_FOUND) + u64be(1) + i64be(T2026)), 100, 120,
                direction="response"),
        invalid("records_absent_with_fields",
                "Response side: RECORDS whose ABSENT entry is followed by the fields of a FOUND one: trailing bytes. The client treats it as a protocol error.",
                frame(0x8B, 0, 120, u16be(1) + u8(PRESENCE_ABSENT) + u64be(1) + i64be(T2026) + bytes32(b"")),
                100, 120, direction="response"),
        invalid("outcomes_result_5",
                "Response side: OUTCOMES whose outcome has result 5 (1 WRITTEN to 4 FAILED are defined). The client treats it as a protocol error.",
                frame(0x8C, 0, 124, u16be(1) + u8(5)), 100, 124, direction="response"),
        invalid("outcomes_result_0",
                "Response side: OUTCOMES whose outcome has result 0. The client treats it as a protocol error.",
                frame(0x8C, 0, 124, u16be(1) + u8(0)), 100, 124, direction="response"),
        invalid("outcomes_written_truncated",
                "Response side: OUTCOMES whose WRITTEN outcome ends after its revision (no updated_at). The client treats it as a protocol error.",
                frame(0x8C, 0, 124, u16be(1) + u8(RESULT_WRITTEN) + u64be(1)), 100, 124, direction="response"),
        invalid("outcomes_count_over_outcomes",
                "Response side: OUTCOMES with count 2 and one outcome. The client treats it as a protocol error.",
                frame(0x8C, 0, 124, u16be(2) + u8(RESULT_DELETED)), 100, 124, direction="response"),
        invalid("outcomes_failed_invalid_utf8_message",
                "Response side: OUTCOMES whose FAILED message is not valid UTF-8 (ff fe), as in ERROR. The client treats it as a protocol error.",
                frame(0x8C, 0, 124, u16be(1) + u8(RESULT_FAILED) + u16be(102) + str16(b"\xff\xfe")), 100, 124,
                direction="response"),
        invalid("transact_conflict_truncated",
                "Response side: TRANSACT_CONFLICT with count 2 and one entry. The client treats it as a protocol error.",
                frame(0x8D, 0, 128, u16be(2) + conflict_entry({"index": 0, "expected_revision": 0,
                                                               "actual_revision": 4})),
                100, 128, direction="response"),
        invalid("transact_conflict_trailing_bytes",
                "Response side: TRANSACT_CONFLICT with one byte after its last entry. The client treats it as a protocol error.",
                frame(0x8D, 0, 128, u16be(1) + conflict_entry({"index": 0, "expected_revision": 0,
                                                               "actual_revision": 4}) + b"\x00"),
                100, 128, direction="response"),
        invalid("list_ok_more_2",
                "Response side: LIST_OK with more 2 (only 0 and 1 are defined). The client treats it as a protocol error.",
                frame(0x8E, 0, 132, u8(2) + u16be(0)), 100, 132, direction="response"),
        invalid("list_ok_truncated_entry",
                "Response side: LIST_OK whose only entry ends after its revision (no updated_at). The client treats it as a protocol error.",
                frame(0x8E, 0, 132, u8(0) + u16be(1) + str8("order-1") + u64be(1)), 100, 132, direction="response"),
        invalid("list_ok_invalid_utf8_id",
                "Response side: LIST_OK whose id is not valid UTF-8 (c3 28). The client treats it as a protocol error.",
                frame(0x8E, 0, 132, u8(0) + u16be(1) + str8(b"\xc3\x28") + u64be(1) + i64be(T2026)), 100, 132,
                direction="response"),
        invalid("list_ok_undefined_flag",
                "Response side: LIST_OK with flags 0x01 (response flags are always 0; AFTER is a LIST flag). The client treats it as a protocol error.",
                frame(0x8E, 0x01, 132, u8(0) + u16be(0)), 100, 132, direction="response"),
        invalid("hello_ok_multi_key_missing_batch_limits",
                "Response side: HELLO_OK announcing MULTI_KEY (capabilities 0x1f) that ends after the capabilities: max_batch_items and max_batch_bytes are missing. The client treats it as a protocol error.",
                frame(0x81, 0, 1, hello_ok_fields + u32be(0x1F)), 100, 1, direction="response"),
        invalid("hello_ok_multi_key_one_batch_limit",
                "Response side: HELLO_OK announcing MULTI_KEY with max_batch_items but without max_batch_bytes. The client treats it as a protocol error.",
                frame(0x81, 0, 1, hello_ok_fields + u32be(0x1F) + u32be(1000)), 100, 1, direction="response"),
        invalid("hello_ok_batch_limits_without_multi_key",
                "Response side: HELLO_OK with capabilities 0x7 (no MULTI_KEY) followed by the 8 bytes of the two batch limits: trailing bytes. The client treats it as a protocol error.",
                frame(0x81, 0, 1, hello_ok_fields + u32be(0x7) + u32be(1000) + u32be(DEFAULT_MAX_BATCH_BYTES)),
                100, 1, direction="response"),
        # ---- incomplete ----
        incomplete("incomplete_bulk_load_missing_last_byte",
                   "A BULK_LOAD frame without its last byte.",
                   frame(0x0C, 0, 120, _ids("order-1", "order-2"))[:-1]),
        incomplete("incomplete_bulk_write_partial_item",
                   "A BULK_WRITE frame cut inside its second item.",
                   frame(0x0D, 0, 124, _items(up, item("upsert", "order-2", 0, STATE_JSON_OPEN.hex())))[:-9]),
        incomplete("incomplete_transact_header_only",
                   "The length and the header of a TRANSACT frame, no payload byte.",
                   frame(0x0E, 0, 128, _items(up))[:10]),
        incomplete("incomplete_list_missing_limit_byte",
                   "A LIST frame without the last byte of its limit.",
                   frame(0x0F, FLAG_AFTER, 133, str8("order-") + str8("order-42") + u16be(100))[:-1]),
    ]



def invalid_vectors():
    L = SMALL_LIMITS
    load_id = str8("order-1")
    vectors = [
        # ---- framing ----
        invalid("length_zero",
                "Frame length 0 (shorter than the 6-byte header).",
                u32be(0), 100, 0),
        invalid("length_five",
                "Frame length 5 (shorter than the 6-byte header), followed by its 5 bytes.",
                u32be(5) + b"\x03\x00\x00\x00\x00", 100, 0),
        invalid("length_over_default_limit",
                "Only the 4 length bytes: 8392705 = default max_frame_bytes + 1. Must be rejected before any body byte arrives.",
                u32be(DEFAULT_MAX_FRAME_BYTES + 1), 103, 0),
        invalid("length_over_vector_limit",
                "A whole UPSERT frame whose length is max_frame_bytes + 1 (4113 under this vector's limits).",
                frame(0x04, 0, 40, str8("s") + u64be(0)
                      + bytes32(bytes(L["max_frame_bytes"] + 1 - 6 - 2 - 8 - 4))),
                103, 0, limits=L),
        invalid("request_id_zero",
                "LOAD with the reserved request id 0.",
                frame(0x03, 0, 0, load_id), 100, 0),
        # ---- message type ----
        invalid("unknown_type_0x7f",
                "Unknown request type 0x7f with a 4-byte payload; the frame is skipped, the connection stays open.",
                frame(0x7F, 0, 41, b"\xde\xad\xbe\xef"), 101, 41),
        invalid("unknown_type_0x00",
                "Type 0x00 is not a message type.",
                frame(0x00, 0, 42), 101, 42),
        invalid("response_type_as_request",
                "A RECORD (0x83, a response type) sent to the server.",
                frame(0x83, 0, 43, u64be(1) + i64be(0) + bytes32(b"")), 101, 43),
        # ---- payload structure ----
        invalid("ping_trailing_bytes",
                "PING with a 1-byte payload.",
                frame(0x02, 0, 44, b"\x00"), 100, 44),
        invalid("load_trailing_bytes",
                "LOAD with one byte after the persistence id.",
                frame(0x03, 0, 45, load_id + b"\x00"), 100, 45),
        invalid("load_missing_id",
                "LOAD with an empty payload (no str8 length byte).",
                frame(0x03, 0, 46), 100, 46),
        invalid("load_truncated_id",
                "LOAD whose str8 length (10) is larger than the rest of the body (4).",
                frame(0x03, 0, 47, u8(10) + b"abcd"), 100, 47),
        invalid("upsert_truncated_expected_revision",
                "UPSERT ending after 5 of the 8 expected_revision bytes.",
                frame(0x04, 0, 48, load_id + b"\x00\x00\x00\x00\x00"), 100, 48),
        invalid("upsert_missing_state_length",
                "UPSERT ending after expected_revision (no bytes32 length).",
                frame(0x04, 0, 49, load_id + u64be(0)), 100, 49),
        invalid("upsert_truncated_state",
                "UPSERT whose state length (100) is larger than the rest of the body (3).",
                frame(0x04, 0, 50, load_id + u64be(0) + u32be(100) + b"abc"), 100, 50),
        invalid("upsert_trailing_bytes",
                "UPSERT with one byte after the state.",
                frame(0x04, 0, 51, load_id + u64be(0) + bytes32(b"x") + b"\x00"), 100, 51),
        invalid("delete_conditional_missing_revision",
                "DELETE with flag 0x01 but no expected_revision.",
                frame(0x05, 0x01, 52, load_id), 100, 52),
        invalid("delete_unconditional_with_revision",
                "DELETE with flags 0 followed by 8 bytes: trailing bytes.",
                frame(0x05, 0, 53, load_id + u64be(3)), 100, 53),
        # ---- flags ----
        invalid("load_undefined_flag_0x04",
                "LOAD with flags 0x04 (undefined).",
                frame(0x03, 0x04, 54, load_id), 100, 54),
        invalid("upsert_flag_0x01",
                "UPSERT with flags 0x01 (only defined for DELETE).",
                frame(0x04, 0x01, 55, load_id + u64be(0) + bytes32(b"")), 100, 55),
        invalid("delete_undefined_flag_0x04",
                "DELETE with flags 0x05: bit 0x04 is undefined.",
                frame(0x05, 0x05, 56, load_id + u64be(3)), 100, 56),
        invalid("ping_undefined_flag_0x80",
                "PING with flags 0x80 (undefined).",
                frame(0x02, 0x80, 57), 100, 57),
        invalid("ping_namespace_flag",
                "PING with flags 0x02: NAMESPACE is defined only for LOAD, UPSERT and DELETE.",
                frame(0x02, 0x02, 58, str8("billing")), 100, 58),
        invalid("whoami_namespace_flag",
                "WHOAMI with flags 0x02: NAMESPACE is not defined for WHOAMI.",
                frame(0x06, 0x02, 59, str8("billing")), 100, 59),
        # ---- NAMESPACE: payload structure ----
        invalid("whoami_trailing_bytes",
                "WHOAMI with a 1-byte payload.",
                frame(0x06, 0, 78, b"\x00"), 100, 78),
        invalid("load_namespace_truncated",
                "LOAD with flag 0x02 whose namespace str8 length (10) is larger than the rest of the body (7).",
                frame(0x03, 0x02, 79, u8(10) + b"billing"), 100, 79),
        invalid("load_namespace_missing_id",
                "LOAD with flag 0x02 holding a single str8: it is the namespace, and the persistence id is missing.",
                frame(0x03, 0x02, 80, load_id), 100, 80),
        invalid("delete_namespaced_conditional_missing_revision",
                "DELETE with flags 0x03, a namespace and an id but no expected_revision.",
                frame(0x05, 0x03, 81, str8("billing") + load_id), 100, 81),
        # ---- argument rules: namespace ----
        invalid("load_namespace_bad_character",
                "LOAD naming the namespace \"bill/ing\": '/' is not a letter, digit, '.', '_' or '-'.",
                frame(0x03, 0x02, 82, str8("bill/ing") + load_id), 102, 82),
        invalid("load_namespace_64_bytes",
                "LOAD naming a namespace of 64 bytes (at most 63).",
                frame(0x03, 0x02, 83, str8("n" * 64) + load_id), 102, 83),
        invalid("upsert_namespace_non_ascii_letter",
                "UPSERT naming the namespace \"büro\" (valid UTF-8, but 'ü' is not an ASCII letter).",
                frame(0x04, 0x02, 84, str8("büro") + load_id + u64be(0) + bytes32(b"x")), 102, 84),
        invalid("delete_namespace_space",
                "DELETE naming the namespace \"bill ing\" (a space).",
                frame(0x05, 0x02, 85, str8("bill ing") + load_id), 102, 85),
        # ---- argument rules: persistence_id ----
        invalid("load_empty_id",
                "LOAD with a 0-byte persistence id.",
                frame(0x03, 0, 60, str8(b"")), 102, 60),
        invalid("upsert_empty_id",
                "UPSERT with a 0-byte persistence id.",
                frame(0x04, 0, 61, str8(b"") + u64be(0) + bytes32(b"x")), 102, 61),
        invalid("delete_empty_id",
                "DELETE with a 0-byte persistence id.",
                frame(0x05, 0, 62, str8(b"")), 102, 62),
        invalid("load_invalid_utf8_id",
                "LOAD whose id is not valid UTF-8 (c3 28: a lead byte followed by a non-continuation byte).",
                frame(0x03, 0, 63, str8(b"\xc3\x28")), 102, 63),
        invalid("load_overlong_utf8_id",
                "LOAD whose id is the overlong encoding c0 af (of '/').",
                frame(0x03, 0, 64, str8(b"\xc0\xaf")), 102, 64),
        invalid("load_surrogate_utf8_id",
                "LOAD whose id encodes the lone surrogate U+D800 (ed a0 80).",
                frame(0x03, 0, 65, str8(b"\xed\xa0\x80")), 102, 65),
        invalid("load_truncated_utf8_id",
                "LOAD whose id ends in the middle of a 3-byte sequence (\"ab\" e8 ae).",
                frame(0x03, 0, 66, str8(b"ab\xe8\xae")), 102, 66),
        invalid("load_id_nul",
                "LOAD whose id contains U+0000.",
                frame(0x03, 0, 67, str8(b"a\x00b")), 102, 67),
        invalid("load_id_unit_separator",
                "LOAD whose id contains U+001F.",
                frame(0x03, 0, 68, str8(b"a\x1fb")), 102, 68),
        invalid("load_id_delete_char",
                "LOAD whose id contains U+007F.",
                frame(0x03, 0, 69, str8(b"a\x7fb")), 102, 69),
        invalid("load_id_newline",
                "LOAD whose id contains a newline (U+000A).",
                frame(0x03, 0, 70, str8(b"order\n1")), 102, 70),
        # ---- argument rules: revisions ----
        invalid("upsert_expected_revision_2_63",
                "UPSERT with expected_revision 2^63.",
                frame(0x04, 0, 71, load_id + u64be(2**63) + bytes32(b"x")), 102, 71),
        invalid("upsert_expected_revision_max_u64",
                "UPSERT with expected_revision 2^64-1.",
                frame(0x04, 0, 72, load_id + u64be(U64_MAX) + bytes32(b"x")), 102, 72),
        invalid("upsert_expected_revision_2_63_minus_1",
                "UPSERT with expected_revision 2^63-1: the new revision 2^63 would not fit.",
                frame(0x04, 0, 73, load_id + u64be(I64_MAX) + bytes32(b"x")), 102, 73),
        invalid("delete_expected_revision_2_63",
                "Conditional DELETE with expected_revision 2^63.",
                frame(0x05, 0x01, 74, load_id + u64be(2**63)), 102, 74),
        invalid("delete_expected_revision_max_u64",
                "Conditional DELETE with expected_revision 2^64-1.",
                frame(0x05, 0x01, 75, load_id + u64be(U64_MAX)), 102, 75),
        # ---- argument rules: state size ----
        invalid("upsert_state_over_vector_limit",
                "UPSERT with a 17-byte state, max_state_bytes being 16 under this vector's limits (the frame is within max_frame_bytes).",
                frame(0x04, 0, 76, str8("s") + u64be(0) + bytes32(bytes(range(17)))),
                102, 76, limits=L),
        invalid("upsert_frame_at_vector_limit",
                "UPSERT whose frame length is exactly max_frame_bytes (4112 under this vector's limits): accepted as a frame, but its 4092-byte state exceeds max_state_bytes 16.",
                frame(0x04, 0, 77, str8("s") + u64be(0)
                      + bytes32(bytes(L["max_frame_bytes"] - 6 - 2 - 8 - 4))),
                102, 77, limits=L),
        # ---- response side (decoded by a client) ----
        invalid("record_trailing_bytes",
                "Response side: RECORD with one byte after the state. The client treats it as a protocol error.",
                frame(0x83, 0, 7, u64be(1) + i64be(0) + bytes32(b"x") + b"\x00"),
                100, 7, direction="response"),
        invalid("unknown_response_type_0x90",
                "Response side: unknown response type 0x90. The client treats it as a protocol error.",
                frame(0x90, 0, 8), 101, 8, direction="response"),
        invalid("ok_undefined_flag",
                "Response side: OK with flags 0x01 (response flags are always 0). The client treats it as a protocol error.",
                frame(0x82, 0x01, 9), 100, 9, direction="response"),
        invalid("whoami_ok_truncated",
                "Response side: WHOAMI_OK ending after its namespace (permissions and rule missing). The client treats it as a protocol error.",
                frame(0x87, 0, 48, WHOAMI_OK_IDS + str8("billing") + str8("billing")),
                100, 48, direction="response"),
        invalid("whoami_ok_invalid_utf8_user",
                "Response side: WHOAMI_OK whose user is not valid UTF-8 (ff fe). The client treats it as a protocol error.",
                frame(0x87, 0, 48, WHOAMI_OK_IDS + str8(b"\xff\xfe") + str8("billing") + u8(3) + str8("")),
                100, 48, direction="response"),
        invalid("whoami_ok_trailing_bytes",
                "Response side: WHOAMI_OK with one byte after the rule. The client treats it as a protocol error.",
                frame(0x87, 0, 48, WHOAMI_OK_IDS + str8("billing") + str8("billing") + u8(3) + str8("") + b"\x00"),
                100, 48, direction="response"),
        # ---- the operators' requests ----
        invalid("health_undefined_flag",
                "HEALTH with flags 0x01 (no flag is defined for HEALTH).",
                frame(0x07, 0x01, 100), 100, 100),
        invalid("stats_namespace_flag",
                "STATS with flags 0x02: NAMESPACE is defined only for LOAD, UPSERT and DELETE.",
                frame(0x08, 0x02, 101, str8("billing")), 100, 101),
        invalid("pause_undefined_flag",
                "PAUSE with flags 0x80 (undefined).",
                frame(0x0A, 0x80, 102, u32be(30000)), 100, 102),
        invalid("health_trailing_bytes",
                "HEALTH with a 1-byte payload.",
                frame(0x07, 0, 103, b"\x00"), 100, 103),
        invalid("clients_truncated_after",
                "CLIENTS with only 4 of the 8 after_connection bytes.",
                frame(0x09, 0, 104, u32be(5)), 100, 104),
        invalid("clients_missing_after",
                "CLIENTS with an empty payload (no after_connection).",
                frame(0x09, 0, 105), 100, 105),
        invalid("pause_trailing_bytes",
                "PAUSE with one byte after timeout_ms.",
                frame(0x0A, 0, 106, u32be(30000) + b"\x00"), 100, 106),
        invalid("pause_missing_timeout",
                "PAUSE with an empty payload (no timeout_ms).",
                frame(0x0A, 0, 107), 100, 107),
        invalid("resume_trailing_bytes",
                "RESUME with a 1-byte payload.",
                frame(0x0B, 0, 108, b"\x00"), 100, 108),
        # ---- the operators' answers (decoded by a client) ----
        invalid("health_ok_short",
                "Response side: HEALTH_OK of 16 payload bytes (uptime_ms cut short; the payload is exactly 17 bytes). The client treats it as a protocol error.",
                frame(0x88, 0, 90, u8(1) + u16be(8) + u16be(8) + u32be(3) + u64be(93784567)[:7]),
                100, 90, direction="response"),
        invalid("health_ok_trailing_bytes",
                "Response side: HEALTH_OK of 18 payload bytes (one after uptime_ms). The client treats it as a protocol error.",
                frame(0x88, 0, 90, u8(1) + u16be(8) + u16be(8) + u32be(3) + u64be(93784567) + b"\x00"),
                100, 90, direction="response"),
        invalid("health_ok_undefined_flag",
                "Response side: HEALTH_OK with flags 0x01 (response flags are always 0). The client treats it as a protocol error.",
                frame(0x88, 0x01, 90, u8(1) + u16be(8) + u16be(8) + u32be(3) + u64be(93784567)),
                100, 90, direction="response"),
        invalid("stats_ok_truncated_entry",
                "Response side: STATS_OK with count 2 whose second entry ends after its labels (the value missing). The client treats it as a protocol error.",
                frame(0x89, 0, 91, u16be(2) + stats_entry("pgstate_up", "", 1.0) + str8("pgstate_paused") + str8("")),
                100, 91, direction="response"),
        invalid("stats_ok_count_over_entries",
                "Response side: STATS_OK with count 3 and one entry. The client treats it as a protocol error.",
                frame(0x89, 0, 91, u16be(3) + stats_entry("pgstate_up", "", 1.0)),
                100, 91, direction="response"),
        invalid("stats_ok_trailing_bytes",
                "Response side: STATS_OK with one byte after its last entry. The client treats it as a protocol error.",
                frame(0x89, 0, 91, u16be(1) + stats_entry("pgstate_up", "", 1.0) + b"\x00"),
                100, 91, direction="response"),
        invalid("stats_ok_empty_name",
                "Response side: STATS_OK whose entry has an empty name (a metric name has 1 to 255 bytes). The client treats it as a protocol error.",
                frame(0x89, 0, 91, u16be(1) + stats_entry("", "", 1.0)),
                100, 91, direction="response"),
        invalid("stats_ok_bad_metric_name",
                "Response side: STATS_OK whose entry is named \"pgstate up\" (a space: not [a-zA-Z_:][a-zA-Z0-9_:]*). The client treats it as a protocol error.",
                frame(0x89, 0, 91, u16be(1) + stats_entry("pgstate up", "", 1.0)),
                100, 91, direction="response"),
        invalid("stats_ok_name_starts_with_digit",
                "Response side: STATS_OK whose entry is named \"9lives\" (a metric name does not start with a digit). The client treats it as a protocol error.",
                frame(0x89, 0, 91, u16be(1) + stats_entry("9lives", "", 1.0)),
                100, 91, direction="response"),
        invalid("stats_ok_invalid_utf8_labels",
                "Response side: STATS_OK whose labels are not valid UTF-8 (ff fe). The client treats it as a protocol error.",
                frame(0x89, 0, 91, u16be(1) + str8("pgstate_up") + str8(b"\xff\xfe") + f64be(1.0)),
                100, 91, direction="response"),
        invalid("clients_ok_more_2",
                "Response side: CLIENTS_OK with more 2 (only 0 and 1 are defined). The client treats it as a protocol error.",
                frame(0x8A, 0, 92, u8(2) + u16be(0)),
                100, 92, direction="response"),
        invalid("clients_ok_truncated_row",
                "Response side: CLIENTS_OK with count 2 and one row. The client treats it as a protocol error.",
                frame(0x8A, 0, 92, u8(0) + u16be(2) + client_row(**CLIENT_ROW_7)),
                100, 92, direction="response"),
        invalid("clients_ok_row_missing_in_flight",
                "Response side: CLIENTS_OK whose only row ends after its requests (in_flight missing). The client treats it as a protocol error.",
                frame(0x8A, 0, 92, u8(0) + u16be(1) + client_row(**CLIENT_ROW_7)[:-4]),
                100, 92, direction="response"),
        invalid("clients_ok_invalid_utf8_client_name",
                "Response side: CLIENTS_OK whose row's client_name is not valid UTF-8 (c3 28). The client treats it as a protocol error.",
                frame(0x8A, 0, 92, u8(0) + u16be(1) + client_row(**dict(CLIENT_ROW_7, client_name=b"\xc3\x28"))),
                100, 92, direction="response"),
        # ---- incomplete ----
        incomplete("incomplete_three_length_bytes",
                   "Only 3 of the 4 length bytes.",
                   u32be(10)[:3]),
        incomplete("incomplete_length_only",
                   "The 4 length bytes of a LOAD frame and nothing else.",
                   u32be(6 + 8)),
        incomplete("incomplete_partial_header",
                   "The length and the first 3 header bytes of a LOAD frame.",
                   frame(0x03, 0, 7, load_id)[:7]),
        incomplete("incomplete_load_missing_last_byte",
                   "A LOAD frame without its last byte.",
                   frame(0x03, 0, 7, load_id)[:-1]),
        incomplete("incomplete_upsert_partial_state",
                   "An UPSERT frame with only 2 of its 17 state bytes.",
                   frame(0x04, 0, 13, load_id + u64be(0) + bytes32(STATE_JSON_OPEN))[:-15]),
    ]
    return vectors + multi_key_invalid_vectors()


FILES = [
    ("handshake.json",
     "pgstate wire protocol v1: HELLO and HELLO_OK (with and without the MULTI_KEY limits), handshake failures, and malformed HELLO frames.",
     handshake_vectors),
    ("requests.json",
     "pgstate wire protocol v1: valid client-to-server requests (PING, LOAD, UPSERT, DELETE, WHOAMI, HEALTH, STATS, CLIENTS, PAUSE, RESUME, BULK_LOAD, BULK_WRITE, TRANSACT, LIST).",
     request_vectors),
    ("responses.json",
     "pgstate wire protocol v1: valid server-to-client responses (OK, RECORD, NOT_FOUND, CONFLICT, ERROR, WHOAMI_OK, HEALTH_OK, STATS_OK, CLIENTS_OK, RECORDS, OUTCOMES, TRANSACT_CONFLICT, LIST_OK).",
     response_vectors),
    ("invalid.json",
     "pgstate wire protocol v1: invalid frames (with the ERROR status and echoed request id) and incomplete frames (strict prefixes).",
     invalid_vectors),
]


def build():
    """{filename: serialized text}.  Raises if names are not unique / snake_case."""
    out = {}
    seen = set()

    def check_names(vectors):
        for v in vectors:
            n = v["name"]
            if not re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", n):
                raise SystemExit("vector name not snake_case: " + n)
            if n in seen:
                raise SystemExit("duplicate vector name: " + n)
            seen.add(n)

    for fname, desc, fn in FILES:
        vectors = fn()
        check_names(vectors)
        doc = {"description": desc, "vectors": vectors}
        out[fname] = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    doc = outcome_vectors.document()
    check_names(doc["vectors"] + doc["outcomes"] + doc["calls"])
    out[outcome_vectors.FILE_NAME] = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    return out


def self_test_outcomes(doc):
    """Check outcomes.json against reference_classifier.py; a list of failures."""
    failures = []
    requests = {v["request"]: v for v in doc["vectors"]}
    for v in doc["outcomes"]:
        req = requests[v["request"]]
        got = reference_classifier.classify(v["request"], req["message"], req["write"], doc["hello_ok"],
                                            v["event"])
        if got != (v["outcome"], v["connection"]):
            failures.append("%s (outcomes): states %r, the reference classifier gives %r"
                            % (v["name"], (v["outcome"], v["connection"]), got))
        if v["outcome"]["class"] not in doc["classes"] or v["connection"] not in doc["connection"]:
            failures.append(v["name"] + ": undocumented class or connection decision")
    for v in doc["calls"]:
        failures += reference_classifier.check_call(v, requests[v["request"]]["message"], doc["hello_ok"])
    # Coverage: every data request kind meets every event of section 12.
    for kind in outcome_vectors.DATA_KINDS:
        mine = [v for v in doc["outcomes"] if v["request"] == kind]
        events = {(v["event"]["kind"], v["event"].get("written")) for v in mine}
        for want in [("connection_lost", False), ("connection_lost", True), ("timeout", False),
                     ("timeout", True), ("response", None)]:
            if want not in events:
                failures.append("%s: no %s vector" % (kind, want))
        statuses = set()
        types = set()
        for v in mine:
            if v["event"]["kind"] != "response":
                continue
            data = bytes.fromhex(v["event"]["hex"])
            if len(data) >= 10:
                types.add(data[4])
                if data[4] == 0x86 and int.from_bytes(data[6:10], "big") == requests[kind]["message"]["request_id"]:
                    statuses.add(int.from_bytes(data[10:12], "big"))
        missing = set(STATUS) - statuses
        if missing:
            failures.append("%s: no vector for status %s" % (kind, sorted(missing)))
        if {s // 100 for s in statuses} < {0, 1, 2, 3, 4, 5, 6, 7}:
            failures.append("%s: an unassigned status of some class is missing" % kind)
        if not set(TYPES[t] for t in TYPES if TYPES[t] > 0x80) <= types:
            failures.append("%s: a response type is missing" % kind)
    return failures


def self_test(texts):
    failures = []
    count = 0
    outcome_count = 0
    all_vectors = {}
    for fname, text in texts.items():
        if fname == outcome_vectors.FILE_NAME:
            doc = json.loads(text)
            outcome_failures = self_test_outcomes(doc)
            failures += outcome_failures
            outcome_count = len(doc["outcomes"]) + len(doc["calls"])
        for v in json.loads(text)["vectors"]:
            all_vectors[v["name"]] = v
            count += 1
            name = v["name"]
            data = bytes.fromhex(v["hex"])
            if v["hex"] != v["hex"].lower():
                failures.append(name + ": hex not lowercase")
            limits = v.get("limits", {})
            try:
                got = ref_decode(data, v["direction"], limits)
                outcome = ("message", got)
            except Incomplete:
                outcome = ("incomplete",)
            except ProtoError as e:
                outcome = ("error", e.status, e.request_id)
            if v.get("incomplete"):
                expected = ("incomplete",)
                if "message" in v or "error" in v:
                    failures.append(name + ": incomplete vector has message/error")
            elif "error" in v:
                expected = ("error", v["error"]["status"], v["request_id"])
                if STATUS[v["error"]["status"]] != v["error"]["name"]:
                    failures.append(name + ": status name mismatch")
            else:
                expected = ("message", v["message"])
                if 4 + int.from_bytes(data[:4], "big") != len(data):
                    failures.append(name + ": valid vector is not exactly one frame")
                want_dir = "request" if v["message"]["type"] in REQ_NAMES.values() else "response"
                if v["direction"] != want_dir:
                    failures.append(name + ": wrong direction")
            if outcome != expected:
                failures.append("%s (%s): expected %r, reference decoder gave %r"
                                % (name, fname, expected, outcome))
    # Hex examples quoted in PROTOCOL.md must be exact copies of vectors.
    doc_examples = 0
    if os.path.exists(PROTOCOL_MD):
        with open(PROTOCOL_MD, encoding="utf-8") as f:
            md = f.read()
        for m in re.finditer(r"Example \(vector `([a-z0-9_]+)`[^\n]*\n+```\n([0-9a-f]+)\n", md):
            doc_examples += 1
            vname, hx = m.group(1), m.group(2)
            if vname not in all_vectors:
                failures.append("PROTOCOL.md cites unknown vector " + vname)
            elif all_vectors[vname]["hex"] != hx:
                failures.append("PROTOCOL.md example for %s differs from the vector" % vname)
    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    print("self-test: %d codec vectors, %d outcome vectors, %d PROTOCOL.md examples, %d failures"
          % (count, outcome_count, doc_examples, len(failures)))
    return not failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if the files on disk differ from freshly generated output")
    ap.add_argument("--self-test", action="store_true",
                    help="re-decode every vector with an independent decoder")
    args = ap.parse_args()
    texts = build()
    if args.self_test:
        ok = self_test(texts)
        if not ok:
            return 1
        if not args.check:
            return 0
    if args.check:
        stale = []
        for fname, text in texts.items():
            path = os.path.join(VECTOR_DIR, fname)
            try:
                with open(path, encoding="utf-8") as f:
                    on_disk = f.read()
            except OSError:
                on_disk = None
            if on_disk != text:
                stale.append(fname)
        if stale:
            print("vectors out of date: %s (run %s)" % (", ".join(stale), sys.argv[0]),
                  file=sys.stderr)
            return 1
        print("vectors up to date (%d files)" % len(texts))
        return 0
    os.makedirs(VECTOR_DIR, exist_ok=True)
    for fname, text in texts.items():
        with open(os.path.join(VECTOR_DIR, fname), "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        print("wrote %s (%d vectors)" % (os.path.join("vectors", fname),
                                           len(json.loads(text)["vectors"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
