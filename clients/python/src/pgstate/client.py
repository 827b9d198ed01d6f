"""The blocking client: one Unix socket, one call at a time."""

from __future__ import annotations

import socket
import time
from types import TracebackType
from typing import Any, Dict, Iterable, Iterator, List, Optional, Set, Type

from . import _protocol as p
from ._calls import (Call, ClientsCall, HealthCall, LoadCall, PauseCall, PingCall, ResumeCall, StatsCall,
                     UpsertCall, WhoAmICall, delete_call)
from ._codec_calls import (CLIENT_CODEC, CodecArg, check_codec, codec_for, opened_record, opened_records, sealed_items,
                           sealed_upsert, written_record, written_records)
from ._common import CLIENT_NAME, HELLO_REQUEST_ID, PathLike, check_timeout, connect_error, hello_call, \
    resolve_socket_path
from ._envelope import Envelope
from ._errors import ProtocolError
from ._identity import Identity
from ._items import Item, ItemOutcome
from ._multikey_calls import BulkLoadCall, BulkLoaded, BulkWriteCall, ListCall, TransactCall, bulk_load_call
from ._operator import ClientRow, ClientsPage, Health, StatsEntry
from ._outcomes import Connection, Outcome, Received, classify_lost, classify_received, classify_timeout
from ._page import Page
from ._record import Record

__all__ = ["Client"]

_RECV_BYTES = 256 * 1024


class Client:
    """A blocking connection to pgstated.

    ``socket_path`` defaults to ``$PGSTATE_SOCKET``, else ``/run/pgstated/pgstated.sock``.
    ``timeout`` (seconds, None for none) bounds connecting and each call.

    **Threads:** a Client is for ONE thread at a time; it holds one socket and runs one
    request at a time on it. Give each thread its own Client (or use
    :class:`pgstate.aio.AsyncClient`, which many tasks may share).

    **Connection:** ``with Client(...)`` (or :meth:`connect`) connects and performs the
    handshake. A Client that is not connected -- never connected, closed with
    :meth:`close`, or dropped -- connects lazily on the next call. The connection is
    dropped as PROTOCOL.md section 12.3 says: after a protocol error, after an ERROR
    status with which the server closes, when it is lost, and when the server drains it
    for shutdown; the call that saw it raises, the next call reconnects.

    **Timeouts:** a call that times out raises :class:`~pgstate.Unavailable` for a read
    (``load``, ``bulk_load``, ``list``, ``ping``, ``whoami``, the operators' calls) or a write
    that was not sent, and :class:`~pgstate.OutcomeUnknown` for a write (``upsert``, ``delete``,
    ``bulk_write``, ``transact``) that was sent (it may have been applied).
    The connection stays usable: the late answer is read and discarded by a later call.

    **Codec:** with ``codec=pgstate.Envelope(...)`` every upsert (and upsert item) writes its state in
    an envelope (compressed, encrypted or authenticated, bound to the namespace, the id and the revision
    written) and every load (and bulk load) opens it (proto-spec/ENVELOPE.md); those calls take a
    ``codec=`` of their own that overrides it (``codec=None``: the bytes as stored). The namespace
    bound is :meth:`effective_namespace`'s. A state that does not open raises an
    :class:`~pgstate.EnvelopeError`.
    """

    def __init__(self, socket_path: Optional[PathLike] = None, timeout: Optional[float] = None, *,
                 client_name: str = CLIENT_NAME, codec: Optional[Envelope] = None) -> None:
        self._path = resolve_socket_path(socket_path)
        self._timeout = check_timeout(timeout)
        self._codec = check_codec(codec)
        self._own_namespace: Optional[str] = None  # the connection's, from WHOAMI, asked when a codec needs it
        self._hello_call = hello_call(client_name, self._path)
        self._sock: Optional[socket.socket] = None
        self._reader = p.FrameReader()
        self._hello: Optional[p.HelloOk] = None
        self._next_id = HELLO_REQUEST_ID
        self._abandoned: Set[int] = set()  # requests that timed out after being sent

    # -- properties ------------------------------------------------------------------------------

    @property
    def socket_path(self) -> str:
        return self._path

    @property
    def timeout(self) -> Optional[float]:
        return self._timeout

    @property
    def connected(self) -> bool:
        return self._sock is not None

    @property
    def codec(self) -> Optional[Envelope]:
        """The codec of calls that name none (None: states as stored)."""
        return self._codec

    @property
    def server_info(self) -> Optional[p.HelloOk]:
        """The HELLO_OK of the current connection (version, limits, capabilities), or None."""
        return self._hello

    def __repr__(self) -> str:
        return "<pgstate.Client %s %s>" % (self._path, "connected" if self._sock else "not connected")

    # -- lifecycle --------------------------------------------------------------------------------

    def __enter__(self) -> "Client":
        self.connect()
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()

    def __del__(self) -> None:
        sock = getattr(self, "_sock", None)
        if sock is not None:
            sock.close()

    def connect(self) -> None:
        """Connect and perform the handshake, unless already connected."""
        if self._sock is None:
            self._connect(self._deadline())

    def close(self) -> None:
        """Close the connection (idempotent). The next call reconnects."""
        sock, self._sock = self._sock, None
        self._hello = None
        self._own_namespace = None
        self._reader = p.FrameReader()
        self._abandoned = set()
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    # -- operations -------------------------------------------------------------------------------

    def ping(self) -> None:
        """Check that pgstated answers."""
        self._run(PingCall())

    def whoami(self) -> Identity:
        """Who pgstated takes this connection's peer to be: uid, user, namespace, permissions.

        Raises InvalidArgument, before sending, if the server does not announce IDENTITY.
        """
        result: Identity = self._run(WhoAmICall())
        return result

    def effective_namespace(self, namespace: Optional[str] = None) -> str:
        """The namespace a codec binds a call's envelope to (ENVELOPE.md section 5.3): ``namespace`` if
        given, else the connection's own when the server announces IDENTITY (asked with WHOAMI once per
        connection), else "" (the shared one)."""
        if namespace is not None:
            return namespace
        if self._sock is None:
            self.connect()
        assert self._hello is not None
        if not self._hello.identity:
            return ""
        if self._own_namespace is None:
            own = self.whoami().namespace  # may reconnect (which forgets the old answer): asked, then kept
            self._own_namespace = own
            return own
        return self._own_namespace

    def load(self, persistence_id: str, *, namespace: Optional[str] = None,
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
        bound = self.effective_namespace(namespace) if use is not None else ""
        result: Optional[Record] = self._run(call)
        if result is None or use is None:
            return result
        return opened_record(result, use, bound)

    def upsert(self, persistence_id: str, expected_revision: int, state: p.BytesLike, ttl: Optional[int] = None, *,
               namespace: Optional[str] = None, codec: CodecArg = CLIENT_CODEC) -> Record:
        """Create (``expected_revision`` 0) or update revision N to N+1; return the new record.

        Raises ConcurrencyError if ``expected_revision`` is not the current revision (0 when
        the record does not exist); nothing was changed then. ``namespace``: as for :meth:`load`.

        ``ttl``: seconds (1..2^31-1) after its commit, by the database's clock, at which this
        revision expires: from then on the record is absent for every call, exactly as if deleted.
        None (the default) writes a revision that never expires, which also clears an expiry the
        record had. Needs a server announcing TTL (else InvalidArgument, before sending).

        ``codec``: the Envelope that wraps the state, bound to revision ``expected_revision`` + 1
        (default: the client's; None: stored as given). The record returned holds ``state``.
        """
        call = UpsertCall(persistence_id, namespace, expected_revision, state, ttl)
        use = codec_for(codec, self._codec)
        if use is None:
            result: Record = self._run(call)
            return result
        written: Record = self._run(sealed_upsert(call, use, self.effective_namespace(namespace)))
        return written_record(written, call)

    def delete(self, persistence_id: str, expected_revision: Optional[int] = None, *,
               namespace: Optional[str] = None) -> None:
        """Delete the record of ``persistence_id``.

        Without ``expected_revision`` the delete is unconditional and idempotent (no error if
        there is no record). With it, the record is deleted only if its revision is
        ``expected_revision`` (with 0: succeed only if there is no record), else
        ConcurrencyError is raised and nothing is changed.
        ``namespace``: as for :meth:`load`.
        """
        self._run(delete_call(persistence_id, expected_revision, namespace))

    # -- the multi-key calls (the server must announce MULTI_KEY) ---------------------------------

    def bulk_load(self, ids: Iterable[str], *, namespace: Optional[str] = None,
                  codec: CodecArg = CLIENT_CODEC) -> Dict[str, Optional[Record]]:
        """The current record of every id (None: there is none), in one round trip: a dict in the order
        of ``ids`` (an id named twice appears once).

        The server reads each id as a LOAD would; records of different ids may come from different
        moments. When the answer would not fit one frame, the server leaves some ids out and this
        call loads them again (another round trip each time) until every id is answered.

        ``ids``: 1 to the server's ``max_batch_items`` ids (1000 by default), a list or tuple, not one
        str. ``namespace`` and ``codec``: as for :meth:`load`.
        """
        call: Optional[BulkLoadCall] = bulk_load_call(ids, namespace)
        assert call is not None
        wanted = call.ids
        use = codec_for(codec, self._codec)
        bound = self.effective_namespace(namespace) if use is not None else ""
        records: Dict[str, Optional[Record]] = {}
        while call is not None:
            loaded: BulkLoaded = self._run(call)
            records.update(loaded.records)
            call = call.following(loaded)
        ordered = {pid: records[pid] for pid in wanted}
        return ordered if use is None else opened_records(ordered, use, bound)

    def bulk_write(self, items: Iterable[Item], *, namespace: Optional[str] = None,
                   codec: CodecArg = CLIENT_CODEC) -> List[ItemOutcome]:
        """Apply each item on its own (a :class:`pgstate.Upsert` or :class:`pgstate.Delete`); return one
        outcome per item, in item order: :class:`pgstate.Written` (new revision and commit time),
        :class:`pgstate.Deleted`, :class:`pgstate.Conflict` (expected and actual revision; nothing
        changed for that item) or :class:`pgstate.Failed` (status and message).

        **Each item is independent**: one item's conflict or failure never changes another's outcome,
        and none of them raises. Two items for the same id apply in item order. A ``Failed`` item's
        ``error`` says what its status means: not executed (retry it), unknown (load it first), or its
        arguments. The call itself raises as an upsert would: OutcomeUnknown when the answer is lost
        after sending (every item's outcome is then unknown), InvalidArgument before sending for a
        bad item or more than the server's ``max_batch_items`` items or ``max_batch_bytes`` of states.

        ``namespace`` and ``codec`` (each upsert item's state wrapped as by :meth:`upsert`): as for
        :meth:`upsert`.
        """
        call = BulkWriteCall(items, namespace)  # type: ignore[arg-type]  # checked there
        use = codec_for(codec, self._codec)
        if use is not None:
            call = sealed_items(call, use, self.effective_namespace(namespace))
        result: List[ItemOutcome] = self._run(call)
        return result

    def transact(self, items: Iterable[Item], *, namespace: Optional[str] = None,
                 codec: CodecArg = CLIENT_CODEC) -> List[Optional[Record]]:
        """Apply every item, or none: all in one database transaction if every item's expected revision
        holds. Returns one entry per item, in item order: the new :class:`pgstate.Record` of an upsert
        (holding the state given), **None for a delete**.

        Raises :class:`pgstate.TransactionConflict` (a ConcurrencyError) when any expectation fails:
        nothing was applied, and its ``conflicts`` maps every failed item's id to its current revision
        (0: no record). An unconditional delete never fails. An id may appear once per transaction
        (InvalidArgument, before sending, as for the limits of :meth:`bulk_write`). OutcomeUnknown: the
        whole transaction may or may not have been applied, never in part.

        ``namespace`` and ``codec``: as for :meth:`upsert`.
        """
        call = TransactCall(items, namespace)  # type: ignore[arg-type]  # checked there
        use = codec_for(codec, self._codec)
        if use is None:
            result: List[Optional[Record]] = self._run(call)
            return result
        written: List[Optional[Record]] = self._run(sealed_items(call, use, self.effective_namespace(namespace)))
        return written_records(written, call)

    def list(self, prefix: str = "", after: Optional[str] = None, limit: Optional[int] = None, *,
             namespace: Optional[str] = None) -> Page:
        """One page of the ids starting with ``prefix`` (byte for byte; "" for every id) and, with
        ``after``, greater than it, in ascending byte order of their UTF-8: a :class:`pgstate.Page` of
        entries (id, revision, updated_at) and ``next_after``, the ``after`` of the next page (None
        after the last).

        ``limit``: at most that many ids, 1 to the server's ``max_batch_items`` (never lowered); by
        default 100, or ``max_batch_items`` if smaller. Expired records are left out. Following the
        pages sees every id that existed throughout exactly once; ids created or deleted meanwhile
        may or may not appear. ``namespace``: as for :meth:`load`.
        """
        page: Page = self._run(ListCall(prefix, after, limit, namespace))
        return page

    def iter_ids(self, prefix: str = "", *, namespace: Optional[str] = None,
                 page_size: Optional[int] = None) -> Iterator[str]:
        """Every id starting with ``prefix``, in ascending byte order, following :meth:`list`'s pages
        (``page_size`` ids per call, by default as :meth:`list`'s ``limit``) lazily, one call each."""
        # Checked now, not at the first page: the arguments are wrong whether or not it is iterated.
        return self._ids(ListCall(prefix, None, page_size, namespace))

    def _ids(self, call: Optional[ListCall]) -> Iterator[str]:
        while call is not None:
            page: Page = self._run(call)
            for entry in page.items:
                yield entry.persistence_id
            call = call.following(page)

    # -- the operators' calls (the server must announce OPERATOR) ---------------------------------

    def health(self) -> Health:
        """The server's health: ``ready`` (pool up, not paused, not draining) and its figures.

        Needs no permission. An answer that is not ready is returned, not raised. Raises
        InvalidArgument, before sending, if the server does not announce OPERATOR (as do the
        other operators' calls).
        """
        result: Health = self._run(HealthCall())
        return result

    def stats(self) -> List[StatsEntry]:
        """Every figure of the server's metrics, sorted by (name, labels). Needs ADMIN (else PermissionDenied)."""
        result: List[StatsEntry] = self._run(StatsCall())
        return result

    def clients(self) -> List[ClientRow]:
        """Every client connection of the server, by ascending id; needs ADMIN.

        Follows the server's pages (each one call, with its own timeout) until the last.
        Connections come and go meanwhile: the list is not a snapshot.
        """
        rows: List[ClientRow] = []
        call: Optional[ClientsCall] = ClientsCall(0)
        while call is not None:
            page: ClientsPage = self._run(call)
            rows.extend(page.rows)
            call = call.following(page)
        return rows

    def pause(self, timeout_ms: int = 30000) -> None:
        """Stop sending requests to PostgreSQL; return once none executes there. Needs ADMIN.

        Requests arriving meanwhile wait until :meth:`resume`; one that waits longer than
        ``timeout_ms`` (0: no limit) fails with Unavailable (not executed). Pausing again
        replaces the timeout. The pause outlasts this connection. The call's own timeout
        bounds the wait for requests in PostgreSQL to finish.
        """
        self._run(PauseCall(timeout_ms))

    def resume(self) -> None:
        """Let the requests held back by :meth:`pause` run (also fine when not paused). Needs ADMIN."""
        self._run(ResumeCall())

    # -- internals --------------------------------------------------------------------------------

    def _deadline(self) -> Optional[float]:
        return None if self._timeout is None else time.monotonic() + self._timeout

    def _remaining(self, deadline: Optional[float]) -> Optional[float]:
        if deadline is None:
            return None
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out")
        return left

    def _connect(self, deadline: Optional[float]) -> None:
        self.close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self._timeout)
            sock.connect(self._path)
        except OSError as exc:
            sock.close()
            raise connect_error(self._path, exc) from exc
        self._sock = sock
        # The handshake is an ordinary exchange, classified like every other; any failure drops.
        hello: p.HelloOk = self._exchange(self._hello_call, HELLO_REQUEST_ID,
                                          self._hello_call.encode(HELLO_REQUEST_ID), p.DEFAULT_LIMITS, deadline)
        self._hello = hello
        self._reader.max_frame_bytes = hello.max_frame_bytes
        self._next_id = HELLO_REQUEST_ID + 1

    def _ensure_connected(self, deadline: Optional[float]) -> None:
        if self._sock is not None and not self._idle_connection_usable():
            self.close()
        if self._sock is None:
            self._connect(deadline)

    def _idle_connection_usable(self) -> bool:
        """Read what arrived while no call was running: the late answers of abandoned calls are
        discarded; anything else (EOF, the server's last frame, a stray frame) ends the connection,
        which is then replaced before anything is sent (e.g. the daemon restarted)."""
        sock = self._sock
        assert sock is not None and self._hello is not None
        sock.settimeout(0.0)
        while True:
            try:
                data = sock.recv(_RECV_BYTES)
            except (BlockingIOError, InterruptedError):
                break  # nothing more to read
            except OSError:
                return False
            if not data:
                return False
            self._reader.feed(data)
        try:
            for frame in self._reader:
                if frame.request_id not in self._abandoned:
                    return False
                self._abandoned.discard(frame.request_id)
        except ProtocolError:
            return False
        # The server counts abandoned requests until it has answered them.
        return len(self._abandoned) < self._hello.max_in_flight

    def _take_request_id(self) -> int:
        while True:
            rid = self._next_id
            self._next_id = rid + 1 if rid < p.MAX_REQUEST_ID else 1
            if rid not in self._abandoned:
                return rid

    def _receive(self, deadline: Optional[float]) -> Received:
        """The next frame, decoded, or the ProtocolError that decoding it raised.

        Raises socket.timeout, OSError or EOFError from the transport.
        """
        sock = self._sock
        assert sock is not None
        while True:
            try:
                frame = self._reader.next_frame()
                if frame is not None:
                    return p.decode_response(frame)
            except ProtocolError as exc:
                return exc
            sock.settimeout(self._remaining(deadline))
            data = sock.recv(_RECV_BYTES)
            if not data:
                raise EOFError("connection closed by pgstated")
            self._reader.feed(data)

    def _run(self, call: Call) -> Any:
        deadline = self._deadline()
        self._ensure_connected(deadline)
        assert self._hello is not None
        rid = self._take_request_id()
        frame = call.encode(rid, self._hello)  # refuses bad arguments before anything is sent
        return self._exchange(call, rid, frame, self._hello.limits, deadline)

    def _exchange(self, call: Call, rid: int, frame: bytes, limits: p.Limits,
                  deadline: Optional[float]) -> Any:
        """Send ``call`` as request ``rid``, wait for its outcome, carry out the connection
        decision, and return the result or raise the error."""
        sock = self._sock
        assert sock is not None
        data = memoryview(frame)
        sent = 0
        outcome: Outcome
        try:
            while sent < len(data):
                sock.settimeout(self._remaining(deadline))
                sent += sock.send(data[sent:])
            while True:
                received = self._receive(deadline)
                if not isinstance(received, ProtocolError) and received.request_id in self._abandoned:
                    self._abandoned.discard(received.request_id)  # a late answer: discarded
                    continue
                outcome = classify_received(call, rid, received, limits)
                break
        except socket.timeout:
            if 0 < sent < len(data):
                # Part of the frame is out and this client cannot finish it later: close, so the
                # server drops the partial frame (PROTOCOL.md section 12.4: lost, not written).
                outcome = classify_lost(call, False, TimeoutError("timed out writing the request"))
            else:
                outcome = classify_timeout(call, sent == len(data), self._timeout)
                if sent and outcome.connection is Connection.KEEP:
                    self._abandoned.add(rid)
        except (OSError, EOFError) as exc:
            # A server that refuses a connection (its limits, access rules) sends its reason and closes at
            # once; a request written after that fails with EPIPE, but the reason is still to be read.
            parting = self._parting_frame() if sent < len(data) else None
            outcome = (classify_received(call, rid, parting, limits) if parting is not None
                       else classify_lost(call, sent == len(data), exc))
        if outcome.connection is not Connection.KEEP:
            # DROP, and DRAIN too: nothing else of this caller's is in flight to wait for.
            self.close()
        return outcome.value()

    def _parting_frame(self) -> Optional[Received]:
        """After a failed send: the server's last frame (an ERROR with request id 0) if it had sent
        one before closing, else None."""
        sock = self._sock
        assert sock is not None
        sock.settimeout(0.2)
        while True:
            try:
                data = sock.recv(_RECV_BYTES)
            except OSError:
                break
            if not data:
                break
            self._reader.feed(data)
        try:
            frame = self._reader.next_frame()
            if frame is None:
                return None
            received = p.decode_response(frame)
        except ProtocolError:
            return None
        return received if received.request_id == 0 else None
