"""One class per kind of request: its arguments, its frame, and what fits as its answer.

A call checks the arguments it can check without a server when it is made, the rest
against the server's HELLO_OK when it is encoded (PROTOCOL.md section 12.5: nothing is
sent for a refused call), and turns a non-ERROR response into an
:class:`~pgstate._outcomes.Outcome` (rules 4, 6 and 7 of section 12.2). Everything else
about an answer -- ERROR statuses, request ids, endings, timeouts -- is the classifier's
(:mod:`pgstate._outcomes`), shared by every kind. The multi-key calls are
:mod:`pgstate._multikey_calls`'.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import ClassVar, Optional, Tuple, Union

from . import _protocol as p
from ._errors import ConcurrencyError, InvalidArgument, ProtocolError, Status
from ._identity import Identity, Permissions
from ._operator import ClientsPage, Health
from ._outcomes import Connection, Outcome, OutcomeClass, protocol_error, result
from ._record import Record, datetime_from_us

__all__ = ["Call", "HelloCall", "PingCall", "WhoAmICall", "LoadCall", "UpsertCall", "DeleteCall",
           "ConditionalDeleteCall", "delete_call", "HealthCall", "StatsCall", "ClientsCall", "PauseCall",
           "ResumeCall"]


class Call(abc.ABC):
    """A request of one kind, before and after it is sent."""

    kind: ClassVar[str]       # as in outcomes.json
    is_write: ClassVar[bool]  # UPSERT, DELETE, BULK_WRITE and TRANSACT: a lost answer leaves the outcome unknown
    # (the operators' requests change no record and may be sent again: not writes, PROTOCOL.md section 12)
    is_handshake: ClassVar[bool] = False

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """For messages: ``"upsert of 'order-1'"``."""

    @abc.abstractmethod
    def encode(self, request_id: int, hello: p.HelloOk) -> bytes:
        """The request frame, checked against what the server announced (InvalidArgument)."""

    @abc.abstractmethod
    def answer(self, response: p.Response, limits: p.Limits) -> Outcome:
        """The outcome of a response other than ERROR that carries this call's request id."""

    def unexpected(self, response: p.Response) -> Outcome:
        return protocol_error("unexpected %s answering the %s (request id %d)"
                              % (response.TYPE.name, self.name, response.request_id), response.request_id)


def needs_capability(hello: p.HelloOk, announced: bool, capability: str, what: str) -> None:
    """Section 12.5: a request or flag only to a server announcing its capability."""
    if not announced:
        raise InvalidArgument("pgstated (%s) does not announce %s: %s cannot be sent to it"
                              % (hello.server_version, capability, what), status=Status.INVALID_ARGUMENT)


def needs_identity(hello: p.HelloOk, what: str) -> None:
    """Section 12.5: WHOAMI and the NAMESPACE flag only to a server announcing IDENTITY."""
    needs_capability(hello, hello.identity, "IDENTITY", what)


def _needs_operator(hello: p.HelloOk, what: str) -> None:
    """Section 12.5: the operators' requests only to a server announcing OPERATOR."""
    needs_capability(hello, hello.operator, "OPERATOR", what)


def checked_record(pid: str, revision: int, updated_at_us: int, state: bytes, limits: p.Limits,
                   what: str) -> Record:
    """A record as the server sent it (in RECORD, or a FOUND entry of RECORDS: ``what`` names which),
    or the ProtocolError of section 12.2 rule 6 when it does not fit."""
    if not 1 <= revision <= p.MAX_REVISION:
        raise ProtocolError("%s revision %d is outside 1..2^63-1" % (what, revision))
    if len(state) > limits.max_state_bytes:
        raise ProtocolError("%s state of %d bytes exceeds max_state_bytes %d"
                            % (what, len(state), limits.max_state_bytes))
    return Record(pid, revision, state, datetime_from_us(updated_at_us))


def conflict_fits(expected: Optional[int], expected_revision: int, actual_revision: int) -> bool:
    """Whether a conflict (CONFLICT, or an item's) fits what was expected (None: no expectation, so none
    fits): the expectation copied, and an actual revision that differs and is a revision or 0."""
    return (expected is not None and expected_revision == expected and actual_revision != expected
            and actual_revision <= p.MAX_REVISION)


def record_outcome(pid: str, response: p.RecordResponse, limits: p.Limits, name: str) -> Outcome:
    try:
        record = checked_record(pid, response.revision, response.updated_at_us, response.state, limits,
                                "RECORD answering the %s:" % name)
    except ProtocolError as exc:
        return protocol_error(exc.message, response.request_id)
    return result(OutcomeClass.RECORD, record)


def conflict_outcome(pid: str, expected: int, response: p.Conflict, name: str) -> Outcome:
    if not conflict_fits(expected, response.expected_revision, response.actual_revision):
        return protocol_error("CONFLICT(expected %d, actual %d) does not fit the %s expecting %d"
                              % (response.expected_revision, response.actual_revision, name, expected),
                              response.request_id)
    return Outcome(OutcomeClass.CONFLICT, Connection.KEEP,
                   error=ConcurrencyError(pid, response.expected_revision, response.actual_revision))


@dataclass(frozen=True)
class HelloCall(Call):
    """The handshake's HELLO: its answer is the server's HELLO_OK, checked (section 12.2 rule 6)."""

    versions: Tuple[int, ...]
    client_name: str
    socket_path: str = ""  # for messages only

    kind: ClassVar[str] = "hello"
    is_write: ClassVar[bool] = False
    is_handshake: ClassVar[bool] = True

    def __post_init__(self) -> None:
        p.check_client_name(self.client_name)

    @property
    def name(self) -> str:
        return "handshake with pgstated at %s" % self.socket_path if self.socket_path else "handshake"

    def encode(self, request_id: int, hello: Optional[p.HelloOk] = None) -> bytes:
        return p.encode_hello(request_id, self.versions, self.client_name)

    def answer(self, response: p.Response, limits: p.Limits) -> Outcome:
        if not isinstance(response, p.HelloOk):
            return self.unexpected(response)
        if response.version not in self.versions:
            return protocol_error("pgstated chose protocol version %d, which was not offered" % response.version)
        if not 1 <= response.max_id_bytes <= p.MAX_ID_BYTES or response.max_in_flight < 1 \
                or response.max_frame_bytes < p.HEADER_BYTES:
            return protocol_error("pgstated announced unusable limits (max_frame_bytes %d, max_id_bytes %d "
                                  "(1..255), max_in_flight %d)" % (response.max_frame_bytes,
                                                                   response.max_id_bytes, response.max_in_flight))
        if response.max_batch_items is not None and not 1 <= response.max_batch_items <= p.MAX_BATCH_ITEMS:
            return protocol_error("pgstated announced max_batch_items %d, outside 1..65535"
                                  % response.max_batch_items)
        return result(OutcomeClass.OK, response)


@dataclass(frozen=True)
class PingCall(Call):
    kind: ClassVar[str] = "ping"
    is_write: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return "ping"

    def encode(self, request_id: int, hello: p.HelloOk) -> bytes:
        return p.encode_ping(request_id)

    def answer(self, response: p.Response, limits: p.Limits) -> Outcome:
        if isinstance(response, p.Ok):
            return result(OutcomeClass.OK)
        return self.unexpected(response)


@dataclass(frozen=True)
class WhoAmICall(Call):
    """WHOAMI: who the server takes the connection's peer to be; only with the IDENTITY capability."""

    kind: ClassVar[str] = "whoami"
    is_write: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return "whoami"

    def encode(self, request_id: int, hello: p.HelloOk) -> bytes:
        needs_identity(hello, "a whoami")
        return p.encode_whoami(request_id)

    def answer(self, response: p.Response, limits: p.Limits) -> Outcome:
        if isinstance(response, p.WhoAmIOk):
            return result(OutcomeClass.IDENTITY, Identity(
                response.uid, response.gid, response.pid, response.user, response.namespace,
                Permissions.known(response.permissions), response.rule))
        return self.unexpected(response)


@dataclass(frozen=True)
class _KeyedCall(Call):
    """A call on one persistence id, in the connection's namespace (``namespace`` None) or the one
    named; both are checked when the call is made."""

    persistence_id: str
    namespace: Optional[str]

    verb: ClassVar[str]  # for messages: "load", "upsert", ...

    def __post_init__(self) -> None:
        p.check_persistence_id(self.persistence_id, p.MAX_ID_BYTES)
        if self.namespace is not None:
            p.check_namespace(self.namespace)

    @property
    def name(self) -> str:
        where = "" if self.namespace is None else " in namespace %r" % self.namespace
        return "%s of %r%s" % (self.verb, self.persistence_id, where)

    def namespace_for(self, hello: p.HelloOk) -> Optional[str]:
        """The namespace to send, refused (InvalidArgument) when the server does not announce IDENTITY."""
        if self.namespace is not None:
            needs_identity(hello, "a %s naming a namespace" % self.verb)
        return self.namespace


@dataclass(frozen=True)
class LoadCall(_KeyedCall):
    kind: ClassVar[str] = "load"
    verb: ClassVar[str] = "load"
    is_write: ClassVar[bool] = False

    def encode(self, request_id: int, hello: p.HelloOk) -> bytes:
        return p.encode_load(request_id, self.persistence_id, hello.limits, namespace=self.namespace_for(hello))

    def answer(self, response: p.Response, limits: p.Limits) -> Outcome:
        if isinstance(response, p.RecordResponse):
            return record_outcome(self.persistence_id, response, limits, self.name)
        if isinstance(response, p.NotFound):
            return result(OutcomeClass.NOT_FOUND)
        return self.unexpected(response)


@dataclass(frozen=True)
class UpsertCall(_KeyedCall):
    expected_revision: int
    state: p.BytesLike = field(repr=False)  # kept as bytes
    ttl: Optional[int] = None  # seconds; only with the TTL capability

    kind: ClassVar[str] = "upsert"
    verb: ClassVar[str] = "upsert"
    is_write: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        p.check_upsert_revision(self.expected_revision)
        object.__setattr__(self, "state", p.check_state(self.state, 2**32 - 1))
        if self.ttl is not None:
            p.check_ttl(self.ttl)

    def encode(self, request_id: int, hello: p.HelloOk) -> bytes:
        if self.ttl is not None:
            needs_capability(hello, hello.ttl, "TTL", "an upsert with a ttl")
        return p.encode_upsert(request_id, self.persistence_id, self.expected_revision, self.state, hello.limits,
                               namespace=self.namespace_for(hello), ttl_seconds=self.ttl)

    def answer(self, response: p.Response, limits: p.Limits) -> Outcome:
        if isinstance(response, p.RecordResponse):
            if response.revision != self.expected_revision + 1:
                return protocol_error("RECORD revision %d answering the %s expecting %d"
                                      % (response.revision, self.name, self.expected_revision), response.request_id)
            return record_outcome(self.persistence_id, response, limits, self.name)
        if isinstance(response, p.Conflict):
            return conflict_outcome(self.persistence_id, self.expected_revision, response, self.name)
        return self.unexpected(response)


@dataclass(frozen=True)
class DeleteCall(_KeyedCall):
    """An unconditional DELETE: idempotent, answered OK."""

    kind: ClassVar[str] = "delete"
    verb: ClassVar[str] = "delete"
    is_write: ClassVar[bool] = True

    def encode(self, request_id: int, hello: p.HelloOk) -> bytes:
        return p.encode_delete(request_id, self.persistence_id, None, hello.limits,
                               namespace=self.namespace_for(hello))

    def answer(self, response: p.Response, limits: p.Limits) -> Outcome:
        if isinstance(response, p.Ok):
            return result(OutcomeClass.OK)
        return self.unexpected(response)


@dataclass(frozen=True)
class ConditionalDeleteCall(_KeyedCall):
    """A DELETE with flag EXPECTED_REVISION: only with the CONDITIONAL_DELETE capability."""

    expected_revision: int

    kind: ClassVar[str] = "conditional_delete"
    verb: ClassVar[str] = "conditional delete"
    is_write: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        p.check_delete_revision(self.expected_revision)

    def encode(self, request_id: int, hello: p.HelloOk) -> bytes:
        if not hello.conditional_delete:
            raise InvalidArgument("pgstated (%s) does not announce CONDITIONAL_DELETE: a delete with an expected "
                                  "revision cannot be sent to it" % hello.server_version,
                                  status=Status.INVALID_ARGUMENT)
        return p.encode_delete(request_id, self.persistence_id, self.expected_revision, hello.limits,
                               namespace=self.namespace_for(hello))

    def answer(self, response: p.Response, limits: p.Limits) -> Outcome:
        if isinstance(response, p.Ok):
            return result(OutcomeClass.OK)
        if isinstance(response, p.Conflict):
            return conflict_outcome(self.persistence_id, self.expected_revision, response, self.name)
        return self.unexpected(response)


def delete_call(persistence_id: str, expected_revision: Optional[int],
                namespace: Optional[str]) -> Union[DeleteCall, ConditionalDeleteCall]:
    """The call for ``delete(persistence_id, expected_revision=None, namespace=None)``."""
    if expected_revision is None:
        return DeleteCall(persistence_id, namespace)
    return ConditionalDeleteCall(persistence_id, namespace, expected_revision)


# --- The operators' requests (PROTOCOL.md 6.15-6.21): only with the OPERATOR capability -----------


@dataclass(frozen=True)
class HealthCall(Call):
    """HEALTH: liveness (it is answered) and readiness (:attr:`Health.ready`); needs no permission."""

    kind: ClassVar[str] = "health"
    is_write: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return "health"

    def encode(self, request_id: int, hello: p.HelloOk) -> bytes:
        _needs_operator(hello, "a health request")
        return p.encode_health(request_id)

    def answer(self, response: p.Response, limits: p.Limits) -> Outcome:
        if isinstance(response, p.HealthOk):
            # Not ready is an answer too: the caller decides what it means.
            return result(OutcomeClass.HEALTH, Health.from_state(response.state, response.pool_up,
                                                                 response.pool_size, response.clients,
                                                                 response.uptime_ms))
        return self.unexpected(response)


@dataclass(frozen=True)
class StatsCall(Call):
    """STATS: the server's figures, every entry (names this client does not know included)."""

    kind: ClassVar[str] = "stats"
    is_write: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return "stats"

    def encode(self, request_id: int, hello: p.HelloOk) -> bytes:
        _needs_operator(hello, "a stats request")
        return p.encode_stats(request_id)

    def answer(self, response: p.Response, limits: p.Limits) -> Outcome:
        if isinstance(response, p.StatsOk):
            return result(OutcomeClass.STATS, list(response.entries))
        return self.unexpected(response)


@dataclass(frozen=True)
class ClientsCall(Call):
    """CLIENTS: one page of connections, those whose id is greater than ``after_connection``."""

    after_connection: int = 0

    kind: ClassVar[str] = "clients"
    is_write: ClassVar[bool] = False

    def __post_init__(self) -> None:
        p.check_after_connection(self.after_connection)

    @property
    def name(self) -> str:
        return "clients request after connection %d" % self.after_connection

    def encode(self, request_id: int, hello: p.HelloOk) -> bytes:
        _needs_operator(hello, "a clients request")
        return p.encode_clients(request_id, self.after_connection)

    def answer(self, response: p.Response, limits: p.Limits) -> Outcome:
        if not isinstance(response, p.ClientsOk):
            return self.unexpected(response)
        # Section 12.2 rule 6: ids ascend strictly from after_connection, and a page promising more
        # has a last id to ask after -- which is also what makes following the pages end.
        previous = self.after_connection
        for row in response.rows:
            if row.connection_id <= previous:
                return protocol_error("CLIENTS_OK row %d answering the %s does not follow %d"
                                      % (row.connection_id, self.name, previous), response.request_id)
            previous = row.connection_id
        if response.more and not response.rows:
            return protocol_error("CLIENTS_OK answering the %s has more 1 and no row" % self.name,
                                  response.request_id)
        return result(OutcomeClass.CLIENTS, ClientsPage(response.rows, bool(response.more)))

    def following(self, page: ClientsPage) -> Optional["ClientsCall"]:
        """The call for the next page after ``page`` (which this call returned), or None after the last."""
        return ClientsCall(page.rows[-1].connection_id) if page.more else None


@dataclass(frozen=True)
class PauseCall(Call):
    """PAUSE: answered once nothing executes in PostgreSQL; requests then wait up to ``timeout_ms`` (0: no
    limit) until RESUME."""

    timeout_ms: int

    kind: ClassVar[str] = "pause"
    is_write: ClassVar[bool] = False

    def __post_init__(self) -> None:
        p.check_timeout_ms(self.timeout_ms)

    @property
    def name(self) -> str:
        return "pause (timeout %d ms)" % self.timeout_ms

    def encode(self, request_id: int, hello: p.HelloOk) -> bytes:
        _needs_operator(hello, "a pause")
        return p.encode_pause(request_id, self.timeout_ms)

    def answer(self, response: p.Response, limits: p.Limits) -> Outcome:
        if isinstance(response, p.Ok):
            return result(OutcomeClass.OK)
        return self.unexpected(response)


@dataclass(frozen=True)
class ResumeCall(Call):
    """RESUME: the requests held back by PAUSE run; answered OK (also when not paused)."""

    kind: ClassVar[str] = "resume"
    is_write: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return "resume"

    def encode(self, request_id: int, hello: p.HelloOk) -> bytes:
        _needs_operator(hello, "a resume")
        return p.encode_resume(request_id)

    def answer(self, response: p.Response, limits: p.Limits) -> Outcome:
        if isinstance(response, p.Ok):
            return result(OutcomeClass.OK)
        return self.unexpected(response)
