"""The identity returned by whoami: who the server takes the connection's peer to be."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Permissions", "Identity"]


class Permissions(enum.IntFlag):
    """What a connection's identity may do (PROTOCOL.md section 6.14)."""

    READ = 0x1           # load
    WRITE = 0x2          # upsert, delete
    ADMIN = 0x4
    ANY_NAMESPACE = 0x8  # name a namespace other than the connection's own

    @classmethod
    def known(cls, bits: int) -> "Permissions":
        """The permissions of a WHOAMI_OK byte: the bits this client knows; reserved ones are ignored."""
        return cls(bits & (cls.READ | cls.WRITE | cls.ADMIN | cls.ANY_NAMESPACE))


@dataclass(frozen=True)
class Identity:
    """The connection's identity, as the server established it when it accepted the connection.

    Attributes:
        uid, gid: the peer's user and primary group ids, from the kernel (``SO_PEERCRED``).
        pid: the peer's process id as the server sees it; 0 when unknown. Informational only.
        user: the name of ``uid`` ("" when it has none).
        namespace: the namespace the connection's calls address when they name none; "" is the
            shared namespace.
        permissions: what the connection may do, e.g. ``Permissions.READ | Permissions.WRITE``.
        rule: the access rule that granted them, e.g. ``/etc/pgstated/access.conf:4``; "" when
            the server has no access rules. Informational only.
    """

    uid: int
    gid: int
    pid: int
    user: str
    namespace: str
    permissions: Permissions
    rule: str
