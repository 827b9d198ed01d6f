"""A tiny in-process fake pgstated for the client tests.

It speaks protocol v1 on a Unix socket in a temporary directory, from an asyncio loop in a
background thread (so both the sync and the async client can talk to it), and answers
from an in-memory dict with the store semantics of PROTOCOL.md section 11. Tests steer it
with a ``responder`` hook (per request: a canned frame, a delay, silence, or closing the
connection), with ``reverse_batch`` (answer every N requests in reverse order) and with
``hello_response`` (answer the HELLO with a canned frame and close). Every connection gets
the ``identity`` the server was made with: WHOAMI answers it, records live per namespace
(``store`` is the identity's own), and its permissions are enforced as PROTOCOL.md section
6.14 says (ERROR 106). The operators' requests answer from ``health`` (a HEALTH_OK's fields;
PAUSED follows ``paused``), ``stats`` and ``client_rows`` (paged ``clients_page_rows`` at a
time); PAUSE and RESUME set ``paused`` and ``pause_timeout_ms`` (the fake holds nothing
back). The multi-key requests (MULTI_KEY, announced by default with TTL) follow PROTOCOL.md
6.22 to 6.30: RECORDS marks OMITTED the records that no longer fit ``max_frame_bytes``, a
BULK_WRITE item breaking a rule is FAILED 102, a TRANSACT applies all or names every failed
item, LIST pages in byte order. A TTL expires by the wall clock plus ``clock_offset``
(``advance()`` moves it).

It is a test double, not a reference server: it speaks through the server half of the codec
in server_codec.py, which shares the payload cursor and argument rules with the client.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple, Union

import server_codec as sc
from pgstate import ClientRow, Identity, InvalidArgument, Permissions, ProtocolError, StatsEntry, Status
from pgstate import _multikey as mk
from pgstate import _protocol as p

CLOSE = "close"    # close the connection without answering
SILENT = "silent"  # never answer this request


@dataclass
class Delay:
    """Answer after ``seconds``: with ``frame`` if given, else with the store's answer."""

    seconds: float
    frame: Optional[bytes] = None


Action = Union[None, bytes, str, Delay]
Responder = Callable[["FakeServer", sc.Request], Action]
Records = Dict[str, Tuple[int, bytes, int]]  # id -> (revision, state, updated_at_us)

DEFAULT_IDENTITY = Identity(uid=1000, gid=1000, pid=4242, user="tester", namespace="",
                            permissions=Permissions.READ | Permissions.WRITE, rule="")


@dataclass
class HealthFigures:
    """What the fake's HEALTH_OK says, PAUSED aside (that bit follows FakeServer.paused)."""

    state: int = 0x1  # POOL_UP
    pool_up: int = 4
    pool_size: int = 4
    clients: int = 1
    uptime_ms: int = 5000


DEFAULT_STATS = [StatsEntry("pgstate_paused", "", 0.0),
                 StatsEntry("pgstate_requests_total", 'namespace="",op="load",outcome="ok"', 3.0),
                 StatsEntry("pgstate_up", "", 1.0)]

# The request types that need ADMIN (PROTOCOL.md section 6.14).
_ADMIN_ONLY = (sc.Stats, sc.Clients, sc.Pause, sc.Resume)


class FakeServer:
    def __init__(self, *, max_frame_bytes: int = p.DEFAULT_MAX_FRAME_BYTES,
                 max_id_bytes: int = p.DEFAULT_MAX_ID_BYTES,
                 max_state_bytes: int = p.DEFAULT_MAX_STATE_BYTES,
                 max_in_flight: int = p.DEFAULT_MAX_IN_FLIGHT,
                 max_batch_items: int = p.DEFAULT_MAX_BATCH_ITEMS,
                 max_batch_bytes: int = p.DEFAULT_MAX_BATCH_BYTES,
                 capabilities: int = (p.CAP_CONDITIONAL_DELETE | p.CAP_IDENTITY | p.CAP_OPERATOR | p.CAP_MULTI_KEY
                                      | p.CAP_TTL),
                 identity: Identity = DEFAULT_IDENTITY,
                 version: int = 1,
                 responder: Optional[Responder] = None,
                 reverse_batch: int = 0,
                 hello_response: Optional[bytes] = None,
                 close_after_hello: int = 0) -> None:
        self.limits = p.Limits(max_frame_bytes, max_id_bytes, max_state_bytes, max_in_flight, max_batch_items,
                               max_batch_bytes)
        self.capabilities = capabilities
        self.version = version
        self.responder = responder
        self.reverse_batch = reverse_batch
        self.hello_response = hello_response
        self.close_after_hello = close_after_hello  # close the first N connections after HELLO_OK
        self.identity = identity
        self.namespaces: Dict[str, Records] = {identity.namespace: {}}
        self.store: Records = self.namespaces[identity.namespace]  # the identity's own namespace
        self.expiry: Dict[Tuple[str, str], float] = {}  # (namespace, id) -> when its revision expires (time.time())
        self.clock_offset = 0.0
        self.health = HealthFigures()
        self.stats: List[StatsEntry] = list(DEFAULT_STATS)
        self.client_rows: List[ClientRow] = []
        self.clients_page_rows = 512
        self.paused = False
        self.pause_timeout_ms: Optional[int] = None
        self.requests: List[Tuple[int, sc.Request]] = []  # (connection number, request)
        self.connections = 0
        self.max_outstanding = 0
        self._dir = tempfile.mkdtemp(prefix="pgstate-fake-")
        self.path = os.path.join(self._dir, "pgstated.sock")
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._server: Optional[asyncio.AbstractServer] = None
        self._thread: Optional[threading.Thread] = None
        self._writers: Set[asyncio.StreamWriter] = set()
        self._tasks: Set["asyncio.Task[Any]"] = set()

    # -- lifecycle --------------------------------------------------------------------------------

    def __enter__(self) -> "FakeServer":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        ready = threading.Event()
        errors: List[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(asyncio.start_unix_server(self._handle, self.path))
            except BaseException as exc:  # pragma: no cover
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-pgstated", daemon=True)
        self._thread.start()
        ready.wait(5)
        if errors:
            raise errors[0]

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return

        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for w in list(self._writers):
                w.close()
            for t in list(self._tasks):
                t.cancel()
            await asyncio.sleep(0)
            loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), loop)
        self._thread.join(5)
        self._loop = None
        try:
            os.unlink(self.path)
        except OSError:
            pass
        try:
            os.rmdir(self._dir)
        except OSError:
            pass

    def call_soon(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the server's loop (e.g. to drop every connection)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(fn)

    def drop_connections(self) -> None:
        """Close every client connection (from any thread)."""
        def drop() -> None:
            for w in list(self._writers):
                w.close()
        self.call_soon(drop)

    @property
    def data_requests(self) -> List[sc.Request]:
        """Every request received except HELLOs."""
        return [r for _, r in self.requests if not isinstance(r, sc.Hello)]

    # -- one connection ---------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        conn = _Conn(self, self.connections, writer)
        try:
            await conn.serve(reader)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()

    # -- store semantics (PROTOCOL.md section 11) ------------------------------------------------

    def denied(self, request: sc.Request) -> Optional[str]:
        """Why the identity may not make this request (section 6.14), or None."""
        me = self.identity
        if isinstance(request, _ADMIN_ONLY):
            return None if me.permissions & Permissions.ADMIN else "uid %d (%s) lacks ADMIN" % (me.uid, me.user)
        if not isinstance(request, (sc.Load, sc.Upsert, sc.Delete, sc.BulkLoad, sc.BulkWrite, sc.Transact, sc.ListIds)):
            return None  # PING, WHOAMI and HEALTH need nothing
        need = Permissions.READ if isinstance(request, (sc.Load, sc.BulkLoad, sc.ListIds)) else Permissions.WRITE
        if not me.permissions & need:
            return "uid %d (%s) lacks %s" % (me.uid, me.user, need.name)
        if request.namespace not in (None, me.namespace) and not me.permissions & Permissions.ANY_NAMESPACE:
            return "uid %d (%s) may not address namespace %r" % (me.uid, me.user, request.namespace)
        return None

    def answer(self, request: sc.Request) -> bytes:
        rid = request.request_id
        if isinstance(request, sc.Ping):
            return sc.encode_ok(rid)
        me = self.identity
        if isinstance(request, sc.WhoAmI):
            return sc.encode_whoami_ok(rid, me.uid, me.gid, me.pid, me.user, me.namespace, me.permissions, me.rule)
        why = self.denied(request)
        if why is not None:
            return sc.encode_error(rid, Status.PERMISSION_DENIED, why)
        if isinstance(request, (sc.Health, sc.Stats, sc.Clients, sc.Pause, sc.Resume)):
            return self.answer_operator(request)
        if isinstance(request, (sc.BulkLoad, sc.BulkWrite, sc.Transact, sc.ListIds)):
            return self.answer_multi_key(request)
        assert isinstance(request, (sc.Load, sc.Upsert, sc.Delete)), request
        namespace = self.namespace_of(request.namespace)
        if isinstance(request, sc.Load):
            current = self.current(namespace, request.persistence_id)
            if current is None:
                return sc.encode_not_found(rid)
            return sc.encode_record(rid, current[0], current[2], current[1])
        if isinstance(request, sc.Upsert):
            written = self.upsert(namespace, request.persistence_id, request.expected_revision, request.state,
                                  request.ttl_seconds)
            if isinstance(written, int):
                return sc.encode_conflict(rid, request.expected_revision, written)
            return sc.encode_record(rid, written[0], written[2], written[1])
        actual = self.delete(namespace, request.persistence_id, request.expected_revision)
        if actual is not None:
            return sc.encode_conflict(rid, request.expected_revision or 0, actual)
        return sc.encode_ok(rid)

    # -- the records, with their expiry ----------------------------------------------------------

    def now(self) -> float:
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock (for TTLs) ``seconds`` forward."""
        self.clock_offset += seconds

    def namespace_of(self, namespace: Optional[str]) -> str:
        return self.identity.namespace if namespace is None else namespace

    def current(self, namespace: str, pid: str) -> Optional[Tuple[int, bytes, int]]:
        """The record of ``pid``, None if there is none or it expired (then it is removed)."""
        records = self.namespaces.setdefault(namespace, {})
        expires = self.expiry.get((namespace, pid))
        if expires is not None and self.now() >= expires:
            records.pop(pid, None)
            del self.expiry[(namespace, pid)]
        return records.get(pid)

    def actual(self, namespace: str, pid: str) -> int:
        current = self.current(namespace, pid)
        return 0 if current is None else current[0]

    def upsert(self, namespace: str, pid: str, expected: int, state: bytes,
               ttl_seconds: Optional[int]) -> Union[int, Tuple[int, bytes, int]]:
        """Apply an upsert: the record written, or the actual revision when ``expected`` is not it."""
        actual = self.actual(namespace, pid)
        if actual != expected:
            return actual
        record = (actual + 1, state, int(time.time() * 1_000_000))
        self.namespaces[namespace][pid] = record
        if ttl_seconds is None:
            self.expiry.pop((namespace, pid), None)  # a write without TTL clears the expiry
        else:
            self.expiry[(namespace, pid)] = self.now() + ttl_seconds
        return record

    def delete(self, namespace: str, pid: str, expected: Optional[int]) -> Optional[int]:
        """Apply a delete: None, or the actual revision when a conditional one's ``expected`` is not it."""
        actual = self.actual(namespace, pid)
        if expected is not None and actual != expected:
            return actual
        if expected != 0:  # "delete only if absent" removes nothing
            self.namespaces[namespace].pop(pid, None)
            self.expiry.pop((namespace, pid), None)
        return None

    # -- the multi-key requests (PROTOCOL.md 6.22-6.30) -------------------------------------------

    def answer_multi_key(self, request: sc.MultiKeyRequest) -> bytes:
        rid = request.request_id
        namespace = self.namespace_of(request.namespace)
        if isinstance(request, sc.BulkLoad):
            return sc.encode_records(rid, self.records_entries(namespace, request.ids))
        if isinstance(request, sc.ListIds):
            return self.list_ok(rid, namespace, request)
        if isinstance(request, sc.BulkWrite):
            return sc.encode_outcomes(rid, [self.apply_item(namespace, item) for item in request.items])
        conflicts = []
        for index, item in enumerate(request.items):
            actual = self.actual(namespace, item.persistence_id)
            if item.expected_revision is not None and actual != item.expected_revision:
                conflicts.append(mk.ConflictEntry(index, item.expected_revision, actual))
        if conflicts:
            return sc.encode_transact_conflict(rid, conflicts)
        return sc.encode_outcomes(rid, [self.apply_item(namespace, item) for item in request.items])

    def records_entries(self, namespace: str, ids: Sequence[str]) -> List[mk.RecordsEntry]:
        """One entry per id; once a record no longer fits the frame, it and every later one are OMITTED (the
        first entry always fits)."""
        room = self.limits.max_frame_bytes - p.HEADER_BYTES - 2 - len(ids)  # every entry's presence byte
        entries: List[mk.RecordsEntry] = []
        omitting = False
        for i, pid in enumerate(ids):
            current = self.current(namespace, pid)
            if current is None:
                entries.append(mk.RecordsEntry(mk.ABSENT))
                continue
            size = 8 + 8 + 4 + len(current[1])
            if omitting or (size > room and i > 0):
                omitting = True
                entries.append(mk.RecordsEntry(mk.OMITTED))
                continue
            room -= size
            entries.append(mk.RecordsEntry(mk.FOUND, current[0], current[2], current[1]))
        return entries

    def apply_item(self, namespace: str, item: sc.Item) -> mk.ItemResult:
        if item.broken is not None:
            return mk.ItemResult(mk.FAILED, status=Status.INVALID_ARGUMENT, message=item.broken)
        if item.kind == "upsert":
            assert item.expected_revision is not None
            written = self.upsert(namespace, item.persistence_id, item.expected_revision, item.state,
                                  item.ttl_seconds)
            if isinstance(written, int):
                return mk.ItemResult(mk.CONFLICT, expected_revision=item.expected_revision, actual_revision=written)
            return mk.ItemResult(mk.WRITTEN, revision=written[0], updated_at_us=written[2])
        actual = self.delete(namespace, item.persistence_id, item.expected_revision)
        if actual is not None:
            return mk.ItemResult(mk.CONFLICT, expected_revision=item.expected_revision or 0, actual_revision=actual)
        return mk.ItemResult(mk.DELETED)

    def list_ok(self, rid: int, namespace: str, request: sc.ListIds) -> bytes:
        prefix = request.prefix.encode("utf-8")
        after = None if request.after is None else request.after.encode("utf-8")
        ids = sorted((pid for pid in list(self.namespaces.setdefault(namespace, {}))
                      if self.current(namespace, pid) is not None), key=lambda pid: pid.encode("utf-8"))
        matching = [pid for pid in ids if pid.encode("utf-8").startswith(prefix)
                    and (after is None or pid.encode("utf-8") > after)]
        page = matching[:request.limit]
        records = self.namespaces[namespace]
        return sc.encode_list_ok(rid, 1 if len(matching) > len(page) else 0,
                                 [mk.ListOkEntry(pid, records[pid][0], records[pid][2]) for pid in page])


    def answer_operator(self, request: sc.OperatorRequest) -> bytes:
        rid = request.request_id
        if isinstance(request, sc.Health):
            h = self.health
            state = (h.state & ~0x2) | (0x2 if self.paused else 0)
            return sc.encode_health_ok(rid, state, h.pool_up, h.pool_size, h.clients, h.uptime_ms)
        if isinstance(request, sc.Stats):
            return sc.encode_stats_ok(rid, self.stats)
        if isinstance(request, sc.Clients):
            after = [r for r in sorted(self.client_rows, key=lambda r: r.connection_id)
                     if r.connection_id > request.after_connection]
            page = after[:self.clients_page_rows]
            return sc.encode_clients_ok(rid, 1 if len(after) > len(page) else 0, page)
        if isinstance(request, sc.Pause):
            self.paused, self.pause_timeout_ms = True, request.timeout_ms
        else:
            self.paused = False
        return sc.encode_ok(rid)


class _Conn:
    def __init__(self, server: FakeServer, number: int, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.number = number
        self.writer = writer
        self.outstanding = 0
        self.held: List[bytes] = []
        self.hello_done = False

    def send(self, frame: bytes, answers_request: bool = True) -> None:
        if self.writer.is_closing():
            return
        self.writer.write(frame)
        if answers_request:
            self.outstanding -= 1

    def received(self) -> None:
        self.outstanding += 1
        self.server.max_outstanding = max(self.server.max_outstanding, self.outstanding)

    async def serve(self, reader: asyncio.StreamReader) -> None:
        server = self.server
        frames = p.FrameReader(p.DEFAULT_MAX_FRAME_BYTES)
        while True:
            data = await reader.read(65536)
            if not data:
                return
            frames.feed(data)
            while True:
                try:
                    frame = frames.next_frame()
                except ProtocolError as exc:
                    self.send(sc.encode_error(0, exc.status or 100, exc.message), False)
                    return
                if frame is None:
                    break
                try:
                    request = sc.decode_request(frame, server.limits)
                except InvalidArgument as exc:
                    self.send(sc.encode_error(frame.request_id, Status.INVALID_ARGUMENT, exc.message), False)
                    continue
                except ProtocolError as exc:
                    self.send(sc.encode_error(exc.request_id or 0, exc.status or 100, exc.message), False)
                    if exc.status == Status.UNKNOWN_MESSAGE_TYPE:
                        continue
                    return
                server.requests.append((self.number, request))
                if not self.hello_done:
                    if not await self.handshake(request):
                        return
                    continue
                if isinstance(request, sc.Hello):
                    self.send(sc.encode_error(request.request_id, Status.NOT_ALLOWED, "HELLO already received"),
                              False)
                    return
                self.received()
                if not self.dispatch(request):
                    return
                await self.writer.drain()

    async def handshake(self, request: sc.Request) -> bool:
        server = self.server
        if not isinstance(request, sc.Hello):
            self.send(sc.encode_error(request.request_id, Status.NOT_ALLOWED, "first frame must be HELLO"), False)
            return False
        if server.hello_response is not None:
            self.send(server.hello_response, False)
            await self.writer.drain()
            return False
        lim = server.limits
        multi_key = server.capabilities & p.CAP_MULTI_KEY
        self.send(sc.encode_hello_ok(request.request_id, server.version, "fake-pgstated 0.0.1",
                                    lim.max_frame_bytes, lim.max_id_bytes, lim.max_state_bytes,
                                    lim.max_in_flight, server.capabilities,
                                    lim.max_batch_items if multi_key else None,
                                    lim.max_batch_bytes if multi_key else None), False)
        await self.writer.drain()
        self.hello_done = True
        if server.close_after_hello > 0:
            server.close_after_hello -= 1
            return False
        return True

    def dispatch(self, request: sc.Request) -> bool:
        """Answer (or schedule the answer to) one request; False to close the connection."""
        server = self.server
        action = server.responder(server, request) if server.responder is not None else None
        if action == CLOSE:
            return False
        if action == SILENT:
            return True
        if isinstance(action, Delay):
            frame = action.frame if action.frame is not None else server.answer(request)
            loop = asyncio.get_running_loop()
            loop.call_later(action.seconds, self.send, frame)
            return True
        frame = action if isinstance(action, bytes) else server.answer(request)
        if server.reverse_batch:
            self.held.append(frame)
            if len(self.held) >= server.reverse_batch:
                for f in reversed(self.held):
                    self.send(f)
                self.held.clear()
            return True
        self.send(frame)
        return True
