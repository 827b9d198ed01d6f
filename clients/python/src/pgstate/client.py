"""The blocking client: one Unix socket, one request at a time."""

from __future__ import annotations

import socket
import time
from types import TracebackType
from typing import Any, Optional, Type

from . import _protocol as p
from ._common import (
    CLIENT_NAME,
    HELLO_REQUEST_ID,
    SUPPORTED_VERSIONS,
    Call,
    PathLike,
    check_hello_ok,
    check_timeout,
    closes_connection,
    connect_error,
    error_for_status,
    resolve_socket_path,
)
from ._errors import Error, ProtocolError, Unavailable
from ._record import Record

__all__ = ["Client"]

_RECV_BYTES = 256 * 1024


def _peer_closed(sock: socket.socket) -> bool:
    """Whether an idle connection is unusable: EOF, an error, or bytes nobody asked for."""
    try:
        sock.settimeout(0.0)  # non-blocking peek; each call sets its own timeout afterwards
        sock.recv(1, socket.MSG_PEEK)
    except (BlockingIOError, InterruptedError):
        return False  # nothing to read: the connection looks alive
    except OSError:
        return True
    return True


class Client:
    """A blocking connection to pgstated.

    ``socket_path`` defaults to ``$PGSTATE_SOCKET``, else ``/run/pgstated/pgstated.sock``.
    ``timeout`` (seconds, None for none) bounds connecting and each call.

    **Threads:** a Client is for ONE thread at a time; it holds one socket and runs one
    request at a time on it. Give each thread its own Client (or use
    :class:`pgstate.aio.AsyncClient`, which many tasks may share).

    **Connection:** ``with Client(...)`` (or :meth:`connect`) connects and performs the
    handshake. A Client that is not connected -- never connected, closed with
    :meth:`close`, or dropped after an error -- connects lazily on the next call. The
    connection is dropped after a timeout (the stream is no longer in sync), after a
    protocol error and after an ERROR status with which the server closes; the call that
    saw it raises, the next call reconnects.

    **Timeouts:** a call that times out raises :class:`~pgstate.Unavailable` for a read
    (``load``, ``ping``) or a write that was not sent yet, and
    :class:`~pgstate.OutcomeUnknown` for a write that was sent (it may have been applied).
    """

    def __init__(self, socket_path: Optional[PathLike] = None, timeout: Optional[float] = None, *,
                 client_name: str = CLIENT_NAME) -> None:
        self._path = resolve_socket_path(socket_path)
        self._timeout = check_timeout(timeout)
        self._client_name = client_name
        self._sock: Optional[socket.socket] = None
        self._reader = p.FrameReader()
        self._hello: Optional[p.HelloOk] = None
        self._next_id = HELLO_REQUEST_ID

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
        self._reader = p.FrameReader()
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    # -- operations -------------------------------------------------------------------------------

    def ping(self) -> None:
        """Check that pgstated answers."""
        self._run(Call.ping())

    def load(self, persistence_id: str) -> Optional[Record]:
        """The current record of ``persistence_id``, or None if there is none."""
        result: Optional[Record] = self._run(Call.load(persistence_id))
        return result

    def upsert(self, persistence_id: str, expected_revision: int, state: p.BytesLike) -> Record:
        """Create (``expected_revision`` 0) or update revision N to N+1; return the new record.

        Raises ConcurrencyError if ``expected_revision`` is not the current revision (0 when
        the record does not exist); nothing was changed then.
        """
        result: Record = self._run(Call.upsert(persistence_id, expected_revision, state))
        return result

    def delete(self, persistence_id: str, expected_revision: Optional[int] = None) -> None:
        """Delete the record of ``persistence_id``.

        Without ``expected_revision`` the delete is unconditional and idempotent (no error if
        there is no record). With it, the record is deleted only if its revision is
        ``expected_revision`` (with 0: succeed only if there is no record), else
        ConcurrencyError is raised and nothing is changed.
        """
        self._run(Call.delete(persistence_id, expected_revision))

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
        self._next_id = HELLO_REQUEST_ID
        try:
            sock.settimeout(self._remaining(deadline))
            sock.sendall(p.encode_hello(HELLO_REQUEST_ID, SUPPORTED_VERSIONS, self._client_name))
            self._hello = check_hello_ok(self._read_frame(deadline))
        except socket.timeout as exc:
            self.close()
            raise Unavailable("handshake with pgstated at %s timed out" % self._path) from exc
        except (OSError, EOFError) as exc:
            self.close()
            raise Unavailable("handshake with pgstated at %s failed: %s" % (self._path, exc)) from exc
        except Error:
            self.close()
            raise
        self._reader.max_frame_bytes = self._hello.max_frame_bytes
        self._next_id = HELLO_REQUEST_ID + 1

    def _ensure_connected(self, deadline: Optional[float]) -> None:
        sock = self._sock
        if sock is not None and _peer_closed(sock):
            # Nothing is outstanding, so anything readable means the server has closed (or is
            # about to): e.g. the daemon restarted. Reconnect rather than fail the next call.
            self.close()
        if self._sock is None:
            self._connect(deadline)

    def _take_request_id(self) -> int:
        rid = self._next_id
        self._next_id = rid + 1 if rid < p.MAX_REQUEST_ID else 1
        return rid

    def _read_frame(self, deadline: Optional[float]) -> p.Response:
        """Read one response frame. Raises OSError/socket.timeout, ProtocolError, or EOFError."""
        sock = self._sock
        assert sock is not None
        while True:
            frame = self._reader.next_frame()
            if frame is not None:
                return p.decode_response(frame)
            sock.settimeout(self._remaining(deadline))
            data = sock.recv(_RECV_BYTES)
            if not data:
                raise EOFError("connection closed by pgstated")
            self._reader.feed(data)

    def _run(self, call: Call) -> Any:
        deadline = self._deadline()
        self._ensure_connected(deadline)
        assert self._sock is not None and self._hello is not None
        rid = self._take_request_id()
        frame = call.encode(rid, self._hello)
        written = False
        try:
            self._sock.settimeout(self._remaining(deadline))
            self._sock.sendall(frame)
            written = True
            while True:
                response = self._read_frame(deadline)
                if response.request_id == rid:
                    break
                if isinstance(response, p.ErrorResponse) and response.request_id == 0:
                    cause = error_for_status(response.status, response.message, 0, False)
                    raise call.connection_lost(True, cause)
                raise ProtocolError("response to request id %d, which is not in flight" % response.request_id,
                                    request_id=response.request_id)
        except socket.timeout:
            self.close()
            raise call.timed_out(written, self._timeout) from None
        except (OSError, EOFError) as exc:
            self.close()
            raise call.connection_lost(written, exc)
        except Error:
            self.close()
            raise
        if isinstance(response, p.ErrorResponse) and closes_connection(response):
            self.close()
        try:
            return call.result(response)
        except ProtocolError:
            if not isinstance(response, p.ErrorResponse):  # it does not fit its request: out of sync
                self.close()
            raise
