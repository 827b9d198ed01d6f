"""What the clients do with a codec, shared by the blocking and the asyncio client: which codec a call uses,
the envelope an upsert sends, the state a load returns (ENVELOPE.md sections 5.3 and 6).

The effective namespace is the client's to find (it may ask WHOAMI); everything else is here, without I/O.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Sequence, TypeVar, Union

from ._calls import UpsertCall
from ._envelope import Envelope
from ._errors import InvalidArgument
from ._items import Upsert
from ._multikey_calls import ItemsCall, TransactCall
from ._record import Record

__all__ = ["CLIENT_CODEC", "CodecArg", "check_codec", "codec_for", "sealed_upsert", "opened_record", "written_record",
           "sealed_items", "opened_records", "written_records"]

C = TypeVar("C", bound=ItemsCall)  # a BulkWriteCall or a TransactCall


class _ClientCodec:
    """The default of a call's ``codec=``: the client's codec (``codec=None`` means no codec at all)."""

    def __repr__(self) -> str:
        return "CLIENT_CODEC"


CLIENT_CODEC: Any = _ClientCodec()
CodecArg = Union[Envelope, None, Any]


def check_codec(codec: object) -> Optional[Envelope]:
    if codec is not None and not isinstance(codec, Envelope):
        raise InvalidArgument("codec is a pgstate.Envelope or None, not %s" % type(codec).__name__)
    return codec


def codec_for(call_codec: CodecArg, client_codec: Optional[Envelope]) -> Optional[Envelope]:
    """The codec of one call: its own ``codec=`` if given (None: none), else the client's."""
    if call_codec is CLIENT_CODEC:
        return client_codec
    return check_codec(call_codec)


def sealed_upsert(call: UpsertCall, codec: Envelope, namespace: str) -> UpsertCall:
    """The call with its state replaced by the envelope bound to revision ``expected_revision`` + 1."""
    envelope = codec.encode(bytes(call.state), persistence_id=call.persistence_id, revision=call.expected_revision + 1,
                            namespace=namespace)
    return dataclasses.replace(call, state=envelope)


def opened_record(record: Record, codec: Envelope, namespace: str) -> Record:
    """The loaded record with its state unwrapped (the record's revision checked against the envelope's)."""
    state = codec.decode(record.state, persistence_id=record.persistence_id, revision=record.revision,
                         namespace=namespace)
    return dataclasses.replace(record, state=state)


def written_record(record: Record, plain: UpsertCall) -> Record:
    """An upsert's answer with the state the caller gave (the server echoes the envelope)."""
    return dataclasses.replace(record, state=bytes(plain.state))


def sealed_items(call: C, codec: Envelope, namespace: str) -> C:
    """A bulk write or transaction with every upsert item's state in an envelope bound to its id and to
    revision ``expected_revision`` + 1 (delete items carry no state)."""
    items = tuple(dataclasses.replace(item, state=codec.encode(
        item.state, persistence_id=item.persistence_id, revision=item.expected_revision + 1, namespace=namespace))
        if isinstance(item, Upsert) else item for item in call.items)
    return dataclasses.replace(call, items=items)


def opened_records(records: Dict[str, Optional[Record]], codec: Envelope,
                   namespace: str) -> Dict[str, Optional[Record]]:
    """A bulk load's records with their states unwrapped (None stays None)."""
    return {pid: None if record is None else opened_record(record, codec, namespace)
            for pid, record in records.items()}


def written_records(records: Sequence[Optional[Record]], plain: TransactCall) -> List[Optional[Record]]:
    """A transaction's records with the states the caller gave (the call sent their envelopes)."""
    return [None if record is None else dataclasses.replace(record, state=item.state)  # type: ignore[union-attr]
            for record, item in zip(records, plain.items)]
