"""``python -m pgstate``: a small command line client of pgstated.

    python -m pgstate [--socket PATH] [--timeout SECONDS] ping
    python -m pgstate [--socket PATH] [--timeout SECONDS] load ID

``load`` prints the record as one JSON object (``state`` as text when it is UTF-8, else
``state_base64``). Exit status: 0 done, 1 no record (``load``), 2 usage, 3 a pgstate
error (printed on stderr with its class, e.g. ``Unavailable: ...``).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from typing import Any, Dict, List, Optional

from ._common import DEFAULT_SOCKET_PATH, SOCKET_ENV
from ._errors import Error
from ._record import Record
from ._version import __version__
from .client import Client

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2  # argparse's
EXIT_ERROR = 3


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError("%r is not a positive number of seconds" % text)
    return value


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m pgstate",
        description="Talk to pgstated, the PostgreSQL-backed durable state store, over its Unix socket.",
        epilog="Exit status: 0 done, 1 no record (load), 2 usage, 3 a pgstate error.")
    ap.add_argument("--socket", metavar="PATH",
                    help="the pgstated socket (default: $%s, else %s)" % (SOCKET_ENV, DEFAULT_SOCKET_PATH))
    ap.add_argument("--timeout", metavar="SECONDS", type=_seconds, default=10.0,
                    help="bound on connecting and on the call (default: 10)")
    ap.add_argument("--version", action="version", version="pgstate %s" % __version__)
    commands = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser("ping", help="check that pgstated answers")
    load = commands.add_parser("load", help="print the record of a persistence id as JSON")
    load.add_argument("persistence_id", metavar="ID")
    return ap


def record_json(record: Record) -> Dict[str, Any]:
    out: Dict[str, Any] = {
        "persistence_id": record.persistence_id,
        "revision": record.revision,
        "updated_at": record.updated_at.isoformat().replace("+00:00", "Z"),
    }
    try:
        out["state"] = record.state.decode("utf-8")
    except UnicodeDecodeError:
        out["state_base64"] = base64.b64encode(record.state).decode("ascii")
    return out


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        with Client(args.socket, timeout=args.timeout) as client:
            if args.command == "ping":
                client.ping()
                print("pgstated at %s answers (%s)" % (client.socket_path,
                                                        client.server_info.server_version
                                                        if client.server_info else "?"))
                return EXIT_OK
            record = client.load(args.persistence_id)
    except Error as exc:
        print("%s: %s" % (type(exc).__name__, exc), file=sys.stderr)
        return EXIT_ERROR
    if record is None:
        print("no record for %r" % args.persistence_id, file=sys.stderr)
        return EXIT_NOT_FOUND
    print(json.dumps(record_json(record), ensure_ascii=False))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
