"""The asyncio client: many concurrent calls pipelined on one connection."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, AsyncIterator, Dict, Iterable, List, Optional, Set, Type

from . import _protocol as p
from ._calls import (Call, ClientsCall, HealthCall, HelloCall, LoadCall, PauseCall, PingCall, ResumeCall,
                     StatsCall, UpsertCall, WhoAmICall, delete_call)
from ._codec_calls import (CLIENT_CODEC, CodecArg, check_codec, codec_for, opened_record, opened_records, sealed_items,
                           sealed_upsert, written_record, written_records)
from ._common import CLIENT_NAME, HELLO_REQUEST_ID, PathLike, check_timeout, connect_error, hello_call, \
    resolve_socket_path
from ._envelope import Envelope
from ._errors import Error, ProtocolError, Unavailable
from ._identity import Identity
from ._items import Item, ItemOutcome
from ._multikey_calls import BulkLoadCall, BulkLoaded, BulkWriteCall, ListCall, TransactCall, bulk_load_call
from ._operator import ClientRow, ClientsPage, Health, StatsEntry
from ._outcomes import (Connection, EndReason, Ending, Received, after_ending, classify_lost, classify_received,
                        classify_response, classify_timeout, ending_for, stray_ending)
from ._page import Page
from ._record import Record
from ._rewrap import RewrapResult, rewrap_async as rewrap

__all__ = ["AsyncClient", "rewrap", "RewrapResult"]

_RECV_BYTES = 256 * 1024
_MAX_ATTEMPTS = 3  # a call that was never sent is retried on a fresh connection


class _Progress:
    """How far one call got; read after a timeout to choose the exception."""

    __slots__ = ("written",)

    def __init__(self) -> None:
        self.written = False


class _NotSent(Exception):
    """The connection stopped taking requests before this one was written (safe to retry)."""

    def __init__(self, error: Error) -> None:
        super().__init__(str(error))
        self.error = error


class _Pending:
    __slots__ = ("call", "future", "written")

    def __init__(self, call: Call, future: "asyncio.Future[Any]") -> None:
        self.call = call
        self.future = future
        self.written = False


class _Connection:
    """One handshaken connection: a writer shared by the callers and a reader task.

    Every request in flight holds one slot of a semaphore sized by the server's
    ``max_in_flight``; the slot is released when its response arrives or the connection
    ends -- not when the caller gives up, because the server still counts the request. A
    frame is handed to the transport whole (``write`` does not await), so a cancelled
    caller never leaves half a frame behind; its late response is read and discarded.
    Every frame read goes through the classifier (:mod:`pgstate._outcomes`); this class
    only routes it by request id and carries out the connection decision.
    """

    def __init__(self, path: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 hello: p.HelloOk, frames: p.FrameReader) -> None:
        self.path = path
        self.hello = hello
        self._reader = reader
        self._writer = writer
        self._frames = frames
        self._pending: Dict[int, _Pending] = {}
        self._slots = asyncio.Semaphore(hello.max_in_flight)
        self._next_id = HELLO_REQUEST_ID + 1
        self._draining = False  # the server said it closes: send nothing new
        self._closed = False
        self._cause: Optional[BaseException] = None
        self.own_namespace: Optional[str] = None  # from WHOAMI, asked once when a codec needs it
        self.namespace_lock = asyncio.Lock()
        self._task = asyncio.ensure_future(self._read_loop())

    @classmethod
    async def open(cls, path: str, call: HelloCall) -> "_Connection":
        try:
            reader, writer = await asyncio.open_unix_connection(path)
        except OSError as exc:
            raise connect_error(path, exc) from exc
        frames = p.FrameReader()
        written = False
        try:
            writer.write(call.encode(HELLO_REQUEST_ID))
            written = True
            await writer.drain()
            received = await cls._first_frame(reader, frames)
            outcome = classify_received(call, HELLO_REQUEST_ID, received, p.DEFAULT_LIMITS)
        except (OSError, EOFError) as exc:
            # A server that refuses the connection sends its reason and closes at once: writing HELLO may
            # then fail, but the reason is still to be read.
            parting = await cls._parting_frame(reader, frames)
            outcome = (classify_received(call, HELLO_REQUEST_ID, parting, p.DEFAULT_LIMITS) if parting is not None
                       else classify_lost(call, written, exc))
        except BaseException:
            writer.close()
            raise
        if outcome.connection is not Connection.KEEP:
            writer.close()
        hello: p.HelloOk = outcome.value()
        frames.max_frame_bytes = hello.max_frame_bytes
        return cls(path, reader, writer, hello, frames)

    @classmethod
    async def _parting_frame(cls, reader: asyncio.StreamReader, frames: p.FrameReader) -> Optional[Received]:
        """The server's last frame (an ERROR with request id 0) if it sent one before closing."""
        # The failed write set its error on the reader, which would raise it before handing out what had
        # already arrived; clear it to read the buffer (then the end of the stream).
        reader.set_exception(None)  # type: ignore[arg-type]
        try:
            received = await asyncio.wait_for(cls._first_frame(reader, frames), 0.2)
        except (OSError, EOFError, asyncio.TimeoutError):
            return None
        if isinstance(received, ProtocolError) or received.request_id != 0:
            return None
        return received

    @staticmethod
    async def _first_frame(reader: asyncio.StreamReader, frames: p.FrameReader) -> Received:
        while True:
            try:
                frame = frames.next_frame()
                if frame is not None:
                    return p.decode_response(frame)
            except ProtocolError as exc:
                return exc
            data = await reader.read(_RECV_BYTES)
            if not data:
                raise EOFError("pgstated closed the connection during the handshake")
            frames.feed(data)

    @property
    def usable(self) -> bool:
        """Whether new requests may be sent on this connection."""
        # The transport may already know the peer is gone before the reader task has seen EOF.
        return not (self._closed or self._draining or self._writer.is_closing())

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def _take_request_id(self) -> int:
        rid = self._next_id
        while True:
            following = rid + 1 if rid < p.MAX_REQUEST_ID else 1
            if rid not in self._pending:
                self._next_id = following
                return rid
            rid = following

    async def call(self, call: Call, progress: _Progress) -> Any:
        """Send ``call`` and wait for its result. Raises _NotSent if the connection is unusable."""
        await self._slots.acquire()
        # From here on the slot belongs to a pending entry or is released at once.
        if not self.usable:
            self._slots.release()
            cause = self._cause or Unavailable("pgstated is shutting down this connection")
            raise _NotSent(classify_lost(call, False, cause).error)  # type: ignore[arg-type]
        rid = self._take_request_id()
        try:
            frame = call.encode(rid, self.hello)
        except BaseException:
            self._slots.release()
            raise
        entry = _Pending(call, asyncio.get_running_loop().create_future())
        self._pending[rid] = entry
        self._writer.write(frame)
        entry.written = progress.written = True
        try:
            try:
                await self._writer.drain()
            except ConnectionError as exc:
                self._shutdown(Ending(EndReason.LOST, exc))
            return await entry.future
        except asyncio.CancelledError:
            entry.future.cancel()  # the answer will be read and discarded
            raise

    def close(self) -> None:
        self._shutdown(Ending(EndReason.LOST, Unavailable("the client closed the connection")))
        if not self._task.done():
            self._task.cancel()

    async def wait_closed(self) -> None:
        await asyncio.wait({self._task})  # its outcome is already recorded in self._cause
        try:
            await self._writer.wait_closed()
        except (OSError, asyncio.CancelledError):
            pass

    def _shutdown(self, ending: Ending) -> None:
        """Close the connection and fail every request in flight as ``ending`` says (section 12.3)."""
        if self._closed:
            return
        self._closed = True
        self._cause = ending.cause
        self._writer.close()
        pending, self._pending = self._pending, {}
        for entry in pending.values():
            if not entry.future.done():
                error = after_ending(entry.call, ending, entry.written).error
                assert error is not None
                entry.future.set_exception(error)
            self._slots.release()  # wakes a waiting caller, which sees the connection closed

    async def _read_loop(self) -> None:
        try:
            ending = await self._read_until_ended()
        except asyncio.CancelledError:
            self._shutdown(Ending(EndReason.LOST, Unavailable("the client closed the connection")))
            raise
        self._shutdown(ending)

    async def _read_until_ended(self) -> Ending:
        """Read and dispatch frames until the connection ends; return how it ended."""
        try:
            while not self._closed:
                data = await self._reader.read(_RECV_BYTES)
                if not data:
                    return Ending(EndReason.LOST, Unavailable("pgstated closed the connection"))
                self._frames.feed(data)
                while not self._closed:
                    try:
                        frame = self._frames.next_frame()
                        if frame is None:
                            break
                        received: Received = p.decode_response(frame)
                    except ProtocolError as exc:
                        received = exc
                    self._dispatch(received)
            return Ending(EndReason.LOST, self._cause or Unavailable("the connection was closed"))
        except OSError as exc:  # the transport failed
            return Ending(EndReason.LOST, exc)

    def _dispatch(self, received: Received) -> None:
        """Route one frame by request id to the classifier and carry out its decision."""
        ending = ending_for(received)
        if ending is not None:
            self._shutdown(ending)
            return
        assert not isinstance(received, ProtocolError)
        entry = self._pending.pop(received.request_id, None)
        if entry is None:
            self._shutdown(stray_ending(received))
            return
        self._slots.release()
        outcome = classify_response(entry.call, received, self.hello.limits)
        if not entry.future.done():  # else the caller gave up (timeout, cancellation): discarded
            if outcome.error is not None:
                entry.future.set_exception(outcome.error)
            else:
                entry.future.set_result(outcome.result)
        if outcome.connection is Connection.DRAIN:
            self._draining = True
        elif outcome.connection is Connection.DROP:
            assert outcome.ending is not None
            self._shutdown(outcome.ending)


class AsyncClient:
    """An asyncio connection to pgstated, shared by any number of tasks.

    ``socket_path`` defaults to ``$PGSTATE_SOCKET``, else ``/run/pgstated/pgstated.sock``.
    ``timeout`` (seconds, None for none) bounds each call, connecting included.

    **Concurrency:** all calls made concurrently (``asyncio.gather``, many tasks) are
    pipelined on ONE connection and matched to their responses by request id; at most the
    server's ``max_in_flight`` are outstanding, the others wait for a slot. Use the client
    from the event loop it was first used on; it is not thread-safe.

    **Connection:** ``async with AsyncClient(...)`` (or :meth:`connect`) connects and
    performs the handshake; otherwise the first call does. If the connection is lost or
    closed, the next call reconnects lazily. When a connection ends, every call still
    waiting on it fails: with :class:`~pgstate.Unavailable` if its request had not been
    sent or was a read, with :class:`~pgstate.OutcomeUnknown` if it was a write already
    sent. A call whose request was never sent is retried on a new connection first.

    **Timeouts and cancellation:** a call that times out raises Unavailable (reads, and
    writes not yet sent) or OutcomeUnknown (writes sent). Timing out or cancelling a call
    leaves the connection usable: the late answer is read and discarded.

    **Codec:** ``codec=pgstate.Envelope(...)``, and ``codec=`` on ``load`` and ``upsert``, as
    for :class:`pgstate.Client`; the connection's own namespace is asked (WHOAMI) once per
    connection, by the first call that needs it.
    """

    def __init__(self, socket_path: Optional[PathLike] = None, timeout: Optional[float] = None, *,
                 client_name: str = CLIENT_NAME, codec: Optional[Envelope] = None) -> None:
        self._path = resolve_socket_path(socket_path)
        self._timeout = check_timeout(timeout)
        self._codec = check_codec(codec)
        self._hello_call = hello_call(client_name, self._path)
        self._conn: Optional[_Connection] = None
        self._all: Set[_Connection] = set()
        self._connect_lock: Optional[asyncio.Lock] = None  # made on the loop, see _connection()

    # -- properties ------------------------------------------------------------------------------

    @property
    def socket_path(self) -> str:
        return self._path

    @property
    def timeout(self) -> Optional[float]:
        return self._timeout

    @property
    def connected(self) -> bool:
        return self._conn is not None and self._conn.usable

    @property
    def codec(self) -> Optional[Envelope]:
        """The codec of calls that name none (None: states as stored)."""
        return self._codec

    @property
    def server_info(self) -> Optional[p.HelloOk]:
        """The HELLO_OK of the current connection (version, limits, capabilities), or None."""
        return self._conn.hello if self._conn is not None and not self._conn.closed else None

    def __repr__(self) -> str:
        return "<pgstate.aio.AsyncClient %s %s>" % (self._path, "connected" if self.connected else "not connected")

    # -- lifecycle --------------------------------------------------------------------------------

    async def __aenter__(self) -> "AsyncClient":
        await self.connect()
        return self

    async def __aexit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                        tb: Optional[TracebackType]) -> None:
        await self.close()

    async def connect(self) -> None:
        """Connect and perform the handshake, unless already connected."""
        if self._timeout is None:
            await self._connection()
            return
        try:
            await asyncio.wait_for(self._connection(), self._timeout)
        except asyncio.TimeoutError:
            raise Unavailable("connecting to pgstated at %s timed out after %gs"
                              % (self._path, self._timeout)) from None

    async def close(self) -> None:
        """Close every connection; calls still waiting fail. The next call reconnects."""
        conns, self._all, self._conn = self._all, set(), None
        for conn in conns:
            conn.close()
        for conn in conns:
            await conn.wait_closed()

    # -- operations -------------------------------------------------------------------------------

    async def ping(self) -> None:
        """Check that pgstated answers."""
        await self._run(PingCall())

    async def whoami(self) -> Identity:
        """Who pgstated takes this connection's peer to be: uid, user, namespace, permissions.

        Raises InvalidArgument, before sending, if the server does not announce IDENTITY.
        """
        result: Identity = await self._run(WhoAmICall())
        return result

    async def effective_namespace(self, namespace: Optional[str] = None) -> str:
        """The namespace a codec binds a call's envelope to (ENVELOPE.md section 5.3): ``namespace`` if
        given, else the connection's own when the server announces IDENTITY (asked with WHOAMI once per
        connection), else "" (the shared one)."""
        if namespace is not None:
            return namespace
        await self.connect()
        conn = self._conn
        assert conn is not None
        if not conn.hello.identity:
            return ""
        async with conn.namespace_lock:  # concurrent first calls ask once
            if conn.own_namespace is None:
                conn.own_namespace = (await self.whoami()).namespace
            return conn.own_namespace

    async def load(self, persistence_id: str, *, namespace: Optional[str] = None,
                   codec: CodecArg = CLIENT_CODEC) -> Optional[Record]:
        """The current record of ``persistence_id``, or None if there is none.

        ``namespace`` names the namespace to read (0 to 63 ASCII letters, digits, ``.``, ``_``,
        ``-``; "" is the shared one); without it the connection's own. Naming one needs a server
        announcing IDENTITY and, for another namespace than the connection's, ANY_NAMESPACE
        (else PermissionDenied). The same holds for upsert and delete.

        ``codec``: the Envelope that opens the state (default: the client's; None: the bytes as
        stored). Raises an EnvelopeError when the state does not open.
        """
        call = LoadCall(persistence_id, namespace)
        use = codec_for(codec, self._codec)
        bound = await self.effective_namespace(namespace) if use is not None else ""
        result: Optional[Record] = await self._run(call)
        if result is None or use is None:
            return result
        return opened_record(result, use, bound)

    async def upsert(self, persistence_id: str, expected_revision: int, state: p.BytesLike,
                     ttl: Optional[int] = None, *, namespace: Optional[str] = None,
                     codec: CodecArg = CLIENT_CODEC) -> Record:
        """Create (``expected_revision`` 0) or update revision N to N+1; return the new record.

        Raises ConcurrencyError if ``expected_revision`` is not the current revision (0 when
        the record does not exist); nothing was changed then. ``namespace``: as for :meth:`load`.
        ``ttl``: seconds until this revision expires, as for :meth:`pgstate.Client.upsert` (needs TTL).

        ``codec``: the Envelope that wraps the state, bound to revision ``expected_revision`` + 1
        (default: the client's; None: stored as given). The record returned holds ``state``.
        """
        call = UpsertCall(persistence_id, namespace, expected_revision, state, ttl)
        use = codec_for(codec, self._codec)
        if use is None:
            result: Record = await self._run(call)
            return result
        written: Record = await self._run(sealed_upsert(call, use, await self.effective_namespace(namespace)))
        return written_record(written, call)

    async def delete(self, persistence_id: str, expected_revision: Optional[int] = None, *,
                     namespace: Optional[str] = None) -> None:
        """Delete the record of ``persistence_id``.

        Without ``expected_revision`` the delete is unconditional and idempotent. With it, the
        record is deleted only if its revision is ``expected_revision`` (with 0: succeed only
        if there is no record), else ConcurrencyError is raised and nothing is changed.
        ``namespace``: as for :meth:`load`.
        """
        await self._run(delete_call(persistence_id, expected_revision, namespace))

    # -- the multi-key calls (the server must announce MULTI_KEY) ---------------------------------

    async def bulk_load(self, ids: Iterable[str], *, namespace: Optional[str] = None,
                        codec: CodecArg = CLIENT_CODEC) -> Dict[str, Optional[Record]]:
        """The current record of every id (None: there is none) in one round trip, as a dict in the order
        of ``ids``; ids the server left out of a full answer are loaded again within this call. As
        :meth:`pgstate.Client.bulk_load`."""
        call: Optional[BulkLoadCall] = bulk_load_call(ids, namespace)
        assert call is not None
        wanted = call.ids
        use = codec_for(codec, self._codec)
        bound = await self.effective_namespace(namespace) if use is not None else ""
        records: Dict[str, Optional[Record]] = {}
        while call is not None:
            loaded: BulkLoaded = await self._run(call)
            records.update(loaded.records)
            call = call.following(loaded)
        ordered = {pid: records[pid] for pid in wanted}
        return ordered if use is None else opened_records(ordered, use, bound)

    async def bulk_write(self, items: Iterable[Item], *, namespace: Optional[str] = None,
                         codec: CodecArg = CLIENT_CODEC) -> List[ItemOutcome]:
        """Apply each item on its own; one outcome per item (Written, Deleted, Conflict or Failed), none
        raised. As :meth:`pgstate.Client.bulk_write`."""
        call = BulkWriteCall(items, namespace)  # type: ignore[arg-type]  # checked there
        use = codec_for(codec, self._codec)
        if use is not None:
            call = sealed_items(call, use, await self.effective_namespace(namespace))
        result: List[ItemOutcome] = await self._run(call)
        return result

    async def transact(self, items: Iterable[Item], *, namespace: Optional[str] = None,
                       codec: CodecArg = CLIENT_CODEC) -> List[Optional[Record]]:
        """Apply every item or none; one entry per item (the new Record of an upsert, None for a delete), or
        TransactionConflict naming every failed item. As :meth:`pgstate.Client.transact`."""
        call = TransactCall(items, namespace)  # type: ignore[arg-type]  # checked there
        use = codec_for(codec, self._codec)
        if use is None:
            result: List[Optional[Record]] = await self._run(call)
            return result
        sealed = sealed_items(call, use, await self.effective_namespace(namespace))
        written: List[Optional[Record]] = await self._run(sealed)
        return written_records(written, call)

    async def list(self, prefix: str = "", after: Optional[str] = None, limit: Optional[int] = None, *,
                   namespace: Optional[str] = None) -> Page:
        """One page of the ids starting with ``prefix``, after ``after``, in byte order. As
        :meth:`pgstate.Client.list`."""
        page: Page = await self._run(ListCall(prefix, after, limit, namespace))
        return page

    def iter_ids(self, prefix: str = "", *, namespace: Optional[str] = None,
                 page_size: Optional[int] = None) -> AsyncIterator[str]:
        """Every id starting with ``prefix``, in byte order, page after page (``async for``). As
        :meth:`pgstate.Client.iter_ids`."""
        # Checked now, not at the first page: the arguments are wrong whether or not it is iterated.
        return self._ids(ListCall(prefix, None, page_size, namespace))

    async def _ids(self, call: Optional[ListCall]) -> AsyncIterator[str]:
        while call is not None:
            page: Page = await self._run(call)
            for entry in page.items:
                yield entry.persistence_id
            call = call.following(page)

    # -- the operators' calls (the server must announce OPERATOR) ---------------------------------

    async def health(self) -> Health:
        """The server's health: ``ready`` (pool up, not paused, not draining) and its figures.

        Needs no permission. An answer that is not ready is returned, not raised. Raises
        InvalidArgument, before sending, if the server does not announce OPERATOR (as do the
        other operators' calls).
        """
        result: Health = await self._run(HealthCall())
        return result

    async def stats(self) -> List[StatsEntry]:
        """Every figure of the server's metrics, sorted by (name, labels). Needs ADMIN (else PermissionDenied)."""
        result: List[StatsEntry] = await self._run(StatsCall())
        return result

    async def clients(self) -> List[ClientRow]:
        """Every client connection of the server, by ascending id; needs ADMIN.

        Follows the server's pages (each one call, with its own timeout) until the last.
        Connections come and go meanwhile: the list is not a snapshot.
        """
        rows: List[ClientRow] = []
        call: Optional[ClientsCall] = ClientsCall(0)
        while call is not None:
            page: ClientsPage = await self._run(call)
            rows.extend(page.rows)
            call = call.following(page)
        return rows

    async def pause(self, timeout_ms: int = 30000) -> None:
        """Stop sending requests to PostgreSQL; return once none executes there. Needs ADMIN.

        Requests arriving meanwhile wait until :meth:`resume`; one that waits longer than
        ``timeout_ms`` (0: no limit) fails with Unavailable (not executed). Pausing again
        replaces the timeout. The pause outlasts this connection. The call's own timeout
        bounds the wait for requests in PostgreSQL to finish.
        """
        await self._run(PauseCall(timeout_ms))

    async def resume(self) -> None:
        """Let the requests held back by :meth:`pause` run (also fine when not paused). Needs ADMIN."""
        await self._run(ResumeCall())

    # -- internals --------------------------------------------------------------------------------

    async def _connection(self) -> _Connection:
        conn = self._conn
        if conn is not None and conn.usable:
            return conn
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        async with self._connect_lock:
            conn = self._conn
            if conn is not None and conn.usable:
                return conn
            self._forget_closed()
            conn = await _Connection.open(self._path, self._hello_call)
            self._conn = conn
            self._all.add(conn)
            return conn

    def _forget_closed(self) -> None:
        self._all = {c for c in self._all if not c.closed}

    async def _attempt(self, call: Call, progress: _Progress) -> Any:
        for attempt in range(_MAX_ATTEMPTS):
            conn = await self._connection()
            try:
                return await conn.call(call, progress)
            except _NotSent as exc:
                if attempt == _MAX_ATTEMPTS - 1:
                    raise exc.error from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _run(self, call: Call) -> Any:
        progress = _Progress()
        if self._timeout is None:
            return await self._attempt(call, progress)
        try:
            return await asyncio.wait_for(self._attempt(call, progress), self._timeout)
        except asyncio.TimeoutError:
            outcome = classify_timeout(call, progress.written, self._timeout)
            assert outcome.error is not None
            raise outcome.error from None
