"""Rewriting records under a codec's active key (ENVELOPE.md section 8), through ordinary upserts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Optional, Union

from ._envelope import Envelope
from ._errors import ConcurrencyError, InvalidArgument
from ._record import Record

if TYPE_CHECKING:  # pragma: no cover
    from .aio import AsyncClient
    from .client import Client

__all__ = ["RewrapResult", "rewrap", "rewrap_async"]


@dataclass(frozen=True)
class RewrapResult:
    """What :func:`rewrap` did with each id.

    Attributes:
        rewritten: records written anew under the codec (its mode, its active key).
        conflicts: records skipped because somebody wrote them between the load and the upsert (so they
            are already written under the writer's codec).
        missing: ids without a record (also those deleted between the load and the upsert).
        current: records skipped because they already are envelopes as the codec writes them (its flags,
            its active key; their tags are not verified). 0 with ``force=True``.
    """

    rewritten: int = 0
    conflicts: int = 0
    missing: int = 0
    current: int = 0


def _codec(client: object, codec: Optional[Envelope]) -> Envelope:
    use = codec if codec is not None else getattr(client, "codec", None)
    if not isinstance(use, Envelope):
        raise InvalidArgument("rewrap needs a codec: pass codec=pgstate.Envelope(...) or give the client one")
    return use


def _count(result: RewrapResult, outcome: str) -> RewrapResult:
    fields = {name: getattr(result, name) for name in ("rewritten", "conflicts", "missing", "current")}
    fields[outcome] += 1
    return RewrapResult(**fields)


def _state_to_write(use: Envelope, pid: str, stored: Optional[Record], bound: str,
                    force: bool) -> Union[str, bytes]:
    """One record's step, the same for both clients: the state to upsert, or the outcome that skips it."""
    if stored is None:
        return "missing"
    if not force and use.is_current(stored.state):
        return "current"
    return use.decode(stored.state, persistence_id=pid, revision=stored.revision, namespace=bound)


def _conflict_outcome(exc: ConcurrencyError) -> str:
    return "missing" if exc.actual_revision == 0 else "conflicts"  # deleted meanwhile / written meanwhile


def rewrap(client: "Client", ids: Iterable[str], codec: Optional[Envelope] = None, *,
           namespace: Optional[str] = None, force: bool = False) -> RewrapResult:
    """Rewrite the records of ``ids`` under ``codec`` (default: the client's), one after the other.

    For each id: load the record as stored, open it with the codec's key ring (retired keys included;
    a plain record is taken as written), and upsert the same state with ``expected_revision`` = its
    revision, which writes an envelope bound to revision + 1 under the active key. A record already
    written as the codec writes (``force=False``) is skipped. A conflict -- somebody wrote meanwhile --
    is skipped and counted. An EnvelopeError (a record that does not open) and every other error stop
    the rewrap and propagate: records before it have been rewritten, run it again for the rest.
    """
    use = _codec(client, codec)
    result = RewrapResult()
    for pid in ids:
        bound = client.effective_namespace(namespace)
        stored = client.load(pid, namespace=namespace, codec=None)
        step = _state_to_write(use, pid, stored, bound, force)
        if isinstance(step, str):
            result = _count(result, step)
            continue
        assert stored is not None
        try:
            client.upsert(pid, stored.revision, step, namespace=namespace, codec=use)
        except ConcurrencyError as exc:
            result = _count(result, _conflict_outcome(exc))
            continue
        result = _count(result, "rewritten")
    return result


async def rewrap_async(client: "AsyncClient", ids: Iterable[str], codec: Optional[Envelope] = None, *,
                       namespace: Optional[str] = None, force: bool = False) -> RewrapResult:
    """:func:`rewrap` for the asyncio client (``pgstate.aio.rewrap``): the same steps, awaited."""
    use = _codec(client, codec)
    result = RewrapResult()
    for pid in ids:
        bound = await client.effective_namespace(namespace)
        stored = await client.load(pid, namespace=namespace, codec=None)
        step = _state_to_write(use, pid, stored, bound, force)
        if isinstance(step, str):
            result = _count(result, step)
            continue
        assert stored is not None
        try:
            await client.upsert(pid, stored.revision, step, namespace=namespace, codec=use)
        except ConcurrencyError as exc:
            result = _count(result, _conflict_outcome(exc))
            continue
        result = _count(result, "rewritten")
    return result
