"""``python -m pgstate``: a small command line client of pgstated.

    python -m pgstate [--socket PATH] [--timeout SECONDS] ping
    python -m pgstate [--socket PATH] [--timeout SECONDS] whoami
    python -m pgstate [--socket PATH] [--timeout SECONDS] load [--namespace NS] ID
    python -m pgstate [--socket PATH] [--timeout SECONDS] upsert [--namespace NS] ID EXPECTED_REVISION STATE
    python -m pgstate [--socket PATH] [--timeout SECONDS] delete [--namespace NS] [--expected-revision N] ID
    python -m pgstate [--socket PATH] [--timeout SECONDS] health
    python -m pgstate [--socket PATH] [--timeout SECONDS] stats
    python -m pgstate [--socket PATH] [--timeout SECONDS] clients

``load`` and ``upsert`` print the record as one JSON object (``state`` as text when it is
UTF-8, else ``state_base64``); ``upsert`` takes the state as text, or ``-`` to read its
bytes from standard input. ``whoami`` prints the connection's identity as one JSON
object, ``health`` the server's health as one JSON object (and why it is not ready on
stderr), ``stats`` one ``name{labels} value`` line per figure (the syntax of the metrics
text exposition), ``clients`` a JSON array with one object per client connection.
Exit status: 0 done, 1 no record (``load``) or not ready (``health``), 2 usage, 3 a
pgstate error (printed on stderr with its class, e.g. ``Unavailable: ...`` or
``PermissionDenied: ...``).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from typing import Any, Dict, List, Optional

from ._common import DEFAULT_SOCKET_PATH, SOCKET_ENV
from ._errors import Error
from ._identity import Identity, Permissions
from ._operator import ClientRow, Health
from ._record import Record
from ._version import __version__
from .client import Client

EXIT_OK = 0
EXIT_NOT_FOUND = 1  # load: no record; health: not ready
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
        epilog="Exit status: 0 done, 1 no record (load) or not ready (health), 2 usage, 3 a pgstate error.")
    ap.add_argument("--socket", metavar="PATH",
                    help="the pgstated socket (default: $%s, else %s)" % (SOCKET_ENV, DEFAULT_SOCKET_PATH))
    ap.add_argument("--timeout", metavar="SECONDS", type=_seconds, default=10.0,
                    help="bound on connecting and on the call (default: 10)")
    ap.add_argument("--version", action="version", version="pgstate %s" % __version__)
    commands = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser("ping", help="check that pgstated answers")
    commands.add_parser("whoami", help="print who pgstated takes this client to be (uid, namespace, "
                                       "permissions) as JSON")
    commands.add_parser("health", help="print the server's health as JSON; exit 1 when it is not ready")
    commands.add_parser("stats", help="print the server's figures, one 'name{labels} value' line each (needs ADMIN)")
    commands.add_parser("clients", help="print the server's client connections as a JSON array (needs ADMIN)")
    keyed = argparse.ArgumentParser(add_help=False)
    keyed.add_argument("--namespace", metavar="NS",
                       help="the namespace to address (\"\" is the shared one; default: the connection's own)")
    load = commands.add_parser("load", parents=[keyed], help="print the record of a persistence id as JSON")
    load.add_argument("persistence_id", metavar="ID")
    upsert = commands.add_parser("upsert", parents=[keyed],
                                 help="create (EXPECTED_REVISION 0) or update a record; print it as JSON")
    upsert.add_argument("persistence_id", metavar="ID")
    upsert.add_argument("expected_revision", metavar="EXPECTED_REVISION", type=int)
    upsert.add_argument("state", metavar="STATE", help="the state as text, or - to read its bytes from stdin")
    upsert.add_argument("--ttl", metavar="SECONDS", type=int,
                        help="the record expires this many seconds after the write (needs the TTL capability)")
    delete = commands.add_parser("delete", parents=[keyed], help="delete a record")
    delete.add_argument("persistence_id", metavar="ID")
    delete.add_argument("--expected-revision", metavar="N", type=int,
                        help="delete only if the record is at revision N (0: only if there is none)")
    listing = commands.add_parser("list", parents=[keyed],
                                  help="print the ids starting with PREFIX in byte order, one JSON object per line "
                                       "(id, revision, updated_at), following every page")
    listing.add_argument("prefix", metavar="PREFIX", nargs="?", default="")
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


def identity_json(identity: Identity) -> Dict[str, Any]:
    return {
        "uid": identity.uid,
        "gid": identity.gid,
        "pid": identity.pid,
        "user": identity.user,
        "namespace": identity.namespace,
        "permissions": [flag.name for flag in Permissions if flag in identity.permissions],
        "rule": identity.rule,
    }


def health_json(health: Health) -> Dict[str, Any]:
    return {
        "ready": health.ready,
        "pool_up": health.pool_up,
        "paused": health.paused,
        "draining": health.draining,
        "pool_connections_up": health.pool_connections_up,
        "pool_size": health.pool_size,
        "clients": health.clients,
        "uptime_ms": health.uptime_ms,
    }


def client_row_json(row: ClientRow) -> Dict[str, Any]:
    try:
        connected_at: Optional[str] = row.connected_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    except OverflowError:  # a time no datetime holds
        connected_at = None
    return {
        "connection_id": row.connection_id,
        "uid": row.uid,
        "pid": row.pid,
        "user": row.user,
        "namespace": row.namespace,
        "client_name": row.client_name,
        "state": row.state_name,
        "connected_at": connected_at,
        "requests": row.requests,
        "in_flight": row.in_flight,
    }


def run(client: Client, args: argparse.Namespace) -> int:
    """The command, on a connected client; pgstate errors propagate."""
    if args.command == "ping":
        client.ping()
        print("pgstated at %s answers (%s)" % (client.socket_path,
                                                client.server_info.server_version
                                                if client.server_info else "?"))
        return EXIT_OK
    if args.command == "whoami":
        print(json.dumps(identity_json(client.whoami()), ensure_ascii=False))
        return EXIT_OK
    if args.command == "health":
        health = client.health()
        print(json.dumps(health_json(health)))
        if not health.ready:
            print("not ready: %s" % ", ".join(health.not_ready_reasons), file=sys.stderr)
            return EXIT_NOT_FOUND
        return EXIT_OK
    if args.command == "stats":
        for entry in client.stats():
            print(entry)
        return EXIT_OK
    if args.command == "clients":
        print(json.dumps([client_row_json(row) for row in client.clients()], ensure_ascii=False))
        return EXIT_OK
    if args.command == "list":
        after: Optional[str] = None
        while True:
            page = client.list(args.prefix, after, namespace=args.namespace)
            for entry in page.items:
                print(json.dumps({"persistence_id": entry.persistence_id, "revision": entry.revision,
                                  "updated_at": entry.updated_at.isoformat().replace("+00:00", "Z")},
                                 ensure_ascii=False))
            if page.next_after is None:
                return EXIT_OK
            after = page.next_after
    if args.command == "delete":
        client.delete(args.persistence_id, args.expected_revision, namespace=args.namespace)
        return EXIT_OK
    if args.command == "upsert":
        state = sys.stdin.buffer.read() if args.state == "-" else os.fsencode(args.state)  # the bytes as given
        record: Optional[Record] = client.upsert(args.persistence_id, args.expected_revision, state, args.ttl,
                                                 namespace=args.namespace)
    else:
        record = client.load(args.persistence_id, namespace=args.namespace)
    if record is None:
        print("no record for %r" % args.persistence_id, file=sys.stderr)
        return EXIT_NOT_FOUND
    print(json.dumps(record_json(record), ensure_ascii=False))
    return EXIT_OK


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        with Client(args.socket, timeout=args.timeout) as client:
            return run(client, args)
    except Error as exc:
        print("%s: %s" % (type(exc).__name__, exc), file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
