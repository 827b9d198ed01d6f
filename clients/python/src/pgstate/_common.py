"""Connection settings shared by the blocking and the asyncio client: where the socket is,
how a timeout is given, what a failed connect says, and the HELLO both send."""

from __future__ import annotations

import errno
import os
import socket
from typing import Final, Optional, Union

from . import _protocol as p
from ._calls import HelloCall
from ._errors import Unavailable
from ._version import __version__

SOCKET_ENV: Final = "PGSTATE_SOCKET"
DEFAULT_SOCKET_PATH: Final = "/run/pgstated/pgstated.sock"
CLIENT_NAME: Final = "pgstate-py/" + __version__
SUPPORTED_VERSIONS: Final = (p.PROTOCOL_VERSION,)
HELLO_REQUEST_ID: Final = 1

PathLike = Union[str, "os.PathLike[str]"]


def resolve_socket_path(socket_path: Optional[PathLike]) -> str:
    """The explicit path, else ``$PGSTATE_SOCKET``, else ``/run/pgstated/pgstated.sock``."""
    if socket_path is None:
        return os.environ.get(SOCKET_ENV) or DEFAULT_SOCKET_PATH
    return os.fspath(socket_path)


def check_timeout(timeout: Optional[float]) -> Optional[float]:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError("timeout must be a positive number of seconds or None, not %r" % (timeout,))
    return float(timeout)


def hello_call(client_name: str, socket_path: str) -> HelloCall:
    """The HELLO of every connection; refuses (InvalidArgument) a name over 255 UTF-8 bytes."""
    return HelloCall(SUPPORTED_VERSIONS, client_name, socket_path)


def connect_error(path: str, exc: BaseException) -> Unavailable:
    """The Unavailable raised when the socket at ``path`` cannot be connected to."""
    if isinstance(exc, FileNotFoundError):
        text = "pgstated socket %s does not exist (is pgstated running? is %s set?)" % (path, SOCKET_ENV)
    elif isinstance(exc, ConnectionRefusedError):
        text = "connection to pgstated at %s refused (is pgstated running?)" % path
    elif isinstance(exc, (TimeoutError, socket.timeout)) or getattr(exc, "errno", None) == errno.ETIMEDOUT:
        text = "connecting to pgstated at %s timed out" % path
    else:
        text = "cannot connect to pgstated at %s: %s" % (path, exc)
    return Unavailable(text)
