"""pgstate: client for pgstated, a PostgreSQL-backed durable state store.

One record per persistence id, with optimistic concurrency on a revision::

    import pgstate

    with pgstate.Client() as c:                 # $PGSTATE_SOCKET or /run/pgstated/pgstated.sock
        rec = c.upsert("order-42", 0, b"new")   # create: revision 1
        rec = c.upsert("order-42", rec.revision, b"paid")
        rec = c.load("order-42")                # Record, or None
        c.delete("order-42")
        me = c.whoami()                         # Identity: uid, user, namespace, permissions
        c.bulk_load(["a", "b"])                 # {"a": Record, "b": None}, one round trip
        c.bulk_write([pgstate.Upsert("a", 0, b"x"), pgstate.Delete("b")])  # [Written, Deleted]: each on its own
        c.transact([pgstate.Upsert("a", 1, b"y", ttl=60), pgstate.Delete("b", 3)])  # all or none
        c.list(prefix="order-").items           # a Page of ids in byte order; c.iter_ids("order-") for all
        c.health().ready                        # operators: health, stats, clients, pause, resume

    # States compressed and encrypted on the client, bound to namespace, id and revision
    # (proto-spec/ENVELOPE.md; AES-GCM needs pgstate[crypto], zstd pgstate[zstd]):
    ring = pgstate.KeyRing({1: key32}, active=1)
    with pgstate.Client(codec=pgstate.Envelope("gzip", keys=ring, info="billing/orders")) as c:
        c.upsert("order-42", 0, b"secret")      # stored as an envelope; load() opens it

The asyncio client is :class:`pgstate.aio.AsyncClient` (``from pgstate import aio``).
Exceptions derive from :class:`Error`; see :mod:`pgstate._errors` for who is at fault.
"""

from ._envelope import DEFAULT_MAX_DECOMPRESSED, Envelope
from ._errors import (
    ConcurrencyError,
    CorruptEnvelope,
    EnvelopeError,
    EnvelopeModeUnavailable,
    EnvelopeTooLarge,
    Error,
    InvalidArgument,
    OutcomeUnknown,
    PermissionDenied,
    ProtocolError,
    RolledBack,
    ServerError,
    Status,
    Tampered,
    TransactionConflict,
    Unavailable,
    UnknownEnvelopeVersion,
    WrongKey,
)
from ._identity import Identity, Permissions
from ._items import Conflict, Delete, Deleted, Failed, Outcome, Upsert, Written
from ._keyring import KeyRing
from ._operator import ClientRow, ClientState, Health, StatsEntry
from ._page import ListEntry, Page
from ._record import Record
from ._rewrap import RewrapResult, rewrap
from ._version import __version__
from .client import Client

__all__ = [
    "Client",
    "Record",
    "Upsert",
    "Delete",
    "Outcome",
    "Written",
    "Deleted",
    "Conflict",
    "Failed",
    "Page",
    "ListEntry",
    "Identity",
    "Permissions",
    "Health",
    "StatsEntry",
    "ClientRow",
    "ClientState",
    "Status",
    "Error",
    "ConcurrencyError",
    "TransactionConflict",
    "InvalidArgument",
    "PermissionDenied",
    "Unavailable",
    "OutcomeUnknown",
    "ProtocolError",
    "ServerError",
    "Envelope",
    "KeyRing",
    "DEFAULT_MAX_DECOMPRESSED",
    "rewrap",
    "RewrapResult",
    "EnvelopeError",
    "UnknownEnvelopeVersion",
    "CorruptEnvelope",
    "RolledBack",
    "WrongKey",
    "Tampered",
    "EnvelopeTooLarge",
    "EnvelopeModeUnavailable",
    "__version__",
]
