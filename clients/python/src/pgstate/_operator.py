"""What the operators' calls return: ``health()``, ``stats()`` and ``clients()``
(PROTOCOL.md sections 6.15 to 6.20), and the decoders of their STATS_OK entries and CLIENTS_OK
rows. Plain data, no I/O."""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, List, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from ._protocol import _Cursor  # the codec imports this module; the decoders only take its cursor

__all__ = ["Health", "StatsEntry", "ClientRow", "ClientState", "ClientsPage",
           "HEALTH_POOL_UP", "HEALTH_PAUSED", "HEALTH_DRAINING", "is_metric_name", "decode_stats_entry",
           "decode_client_row"]

# HEALTH_OK state bits; other bits are reserved and ignored.
HEALTH_POOL_UP: Final = 0x1
HEALTH_PAUSED: Final = 0x2
HEALTH_DRAINING: Final = 0x4


@dataclass(frozen=True)
class Health:
    """The server's health as HEALTH_OK reports it.

    That the server answered at all is its *liveness*; :attr:`ready` is its *readiness*.

    Attributes:
        pool_up: every server thread has at least one database connection up, so requests
            can execute.
        paused: an operator paused the server (``pause()``): requests wait until ``resume()``.
        draining: the server is shutting down.
        pool_connections_up: database connections up now.
        pool_size: the configured pool size.
        clients: client connections open now, this one included.
        uptime_ms: milliseconds since the server started.
    """

    pool_up: bool
    paused: bool
    draining: bool
    pool_connections_up: int
    pool_size: int
    clients: int
    uptime_ms: int

    @classmethod
    def from_state(cls, state: int, pool_connections_up: int, pool_size: int, clients: int,
                   uptime_ms: int) -> "Health":
        """From HEALTH_OK's fields; reserved bits of ``state`` are ignored."""
        return cls(bool(state & HEALTH_POOL_UP), bool(state & HEALTH_PAUSED), bool(state & HEALTH_DRAINING),
                   pool_connections_up, pool_size, clients, uptime_ms)

    @property
    def ready(self) -> bool:
        """The server executes requests now: the pool is up, and it is neither paused nor draining."""
        return self.pool_up and not self.paused and not self.draining

    @property
    def not_ready_reasons(self) -> List[str]:
        """Why the server is not ready, for people (empty when it is)."""
        reasons = []
        if not self.pool_up:
            reasons.append("database pool down (%d of %d connections up)" % (self.pool_connections_up, self.pool_size))
        if self.paused:
            reasons.append("paused")
        if self.draining:
            reasons.append("shutting down")
        return reasons


@dataclass(frozen=True)
class StatsEntry:
    """One figure of ``stats()``, named as the server's metrics endpoint names it.

    Attributes:
        name: a Prometheus metric name, e.g. ``pgstate_requests_total`` (PROTOCOL.md 6.18 lists
            them; a newer server may send names this client does not know).
        labels: the label set in exposition syntax without braces, e.g.
            ``op="load",outcome="ok"``; "" when there is none.
        value: the value; counts are exact up to 2^53.
    """

    name: str
    labels: str
    value: float

    def __str__(self) -> str:
        """``name{labels} value``, as a line of the text exposition."""
        return "%s%s %s" % (self.name, "{%s}" % self.labels if self.labels else "", _number(self.value))


def _number(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


class ClientState(enum.IntEnum):
    """The states of a client connection in a CLIENTS_OK row."""

    HANDSHAKE = 0
    READY = 1
    DRAINING = 2


@dataclass(frozen=True)
class ClientRow:
    """One client connection of the server, as ``clients()`` lists it.

    Attributes:
        connection_id: unique for the server's lifetime, >= 1.
        uid, pid: the peer's user id and process id when the connection was accepted (pid 0:
            unknown; informational only).
        user: the name of ``uid`` ("" when it has none).
        namespace: the connection's namespace ("" is the shared one).
        client_name: the client name its HELLO gave ("" before HELLO).
        state: as sent: a :class:`ClientState` value, or another number from a newer server
            (:attr:`state_name` shows it as unknown).
        connected_ms: Unix time in milliseconds when the connection was accepted.
        requests: requests the connection has had answered.
        in_flight: requests read from it and not yet answered.
    """

    connection_id: int
    uid: int
    pid: int
    user: str
    namespace: str
    client_name: str
    state: int
    connected_ms: int
    requests: int
    in_flight: int

    @property
    def state_name(self) -> str:
        """``"READY"``, ``"HANDSHAKE"``, ``"DRAINING"``, or ``"UNKNOWN(7)"`` for a state this client does not know."""
        try:
            return ClientState(self.state).name
        except ValueError:
            return "UNKNOWN(%d)" % self.state

    @property
    def connected_at(self) -> datetime.datetime:
        """:attr:`connected_ms` as a timezone-aware UTC datetime."""
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        return epoch + datetime.timedelta(milliseconds=self.connected_ms)


@dataclass(frozen=True)
class ClientsPage:
    """One CLIENTS_OK: rows by ascending id; ``more``: ask again after the last row's id."""

    rows: Tuple[ClientRow, ...]
    more: bool


# --- Decoding (called by pgstate._protocol.decode_response with its payload cursor) -------------

_METRIC_FIRST: Final = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:")
_METRIC_REST: Final = _METRIC_FIRST | frozenset(b"0123456789")


def is_metric_name(raw: bytes) -> bool:
    """A Prometheus metric name: ``[a-zA-Z_:][a-zA-Z0-9_:]*``, at least one byte."""
    return bool(raw) and raw[0] in _METRIC_FIRST and all(b in _METRIC_REST for b in raw)


def decode_stats_entry(c: "_Cursor") -> StatsEntry:
    """One STATS_OK entry; a name that is not a metric name is MALFORMED_FRAME (PROTOCOL.md 6.18)."""
    raw = c.str8_raw("name")
    if not is_metric_name(raw):
        raise c.malformed("entry name %r is not a metric name" % raw)
    return StatsEntry(raw.decode("ascii"), c.text8("labels"), c.f64("value"))


def decode_client_row(c: "_Cursor") -> ClientRow:
    """One CLIENTS_OK row, its fields in wire order (PROTOCOL.md 6.20)."""
    return ClientRow(connection_id=c.u64("connection_id"), uid=c.u32("uid"), pid=c.u32("pid"), user=c.text8("user"),
                     namespace=c.text8("namespace"), client_name=c.text8("client_name"), state=c.u8("state"),
                     connected_ms=c.u64("connected_ms"), requests=c.u64("requests"), in_flight=c.u32("in_flight"))
