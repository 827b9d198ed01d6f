"""Real users and groups for the identity tests, and running client code as one of them.

``ensure_users()`` creates the test accounts with ``groupadd``/``useradd`` (root only; system accounts
without a home or a login shell, kept between runs). ``as_user(name, fn, *args)`` forks, drops to that
user's uid, primary gid and supplementary groups (``initgroups``), runs ``fn`` and returns what it
returned, or a description of what it raised: the daemon sees the child's real kernel credentials
(SO_PEERCRED, SO_PEERGROUPS), never anything the test claims.
"""

from __future__ import annotations

import grp
import os
import pickle
import pwd
import subprocess
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

# name -> supplementary groups
USERS: Dict[str, Sequence[str]] = {
    "pgst-billing": (),
    "pgst-reports": ("pgst-rpt",),   # reads billing's namespace through its supplementary group
    "pgst-other": (),
    "pgst-alice": (),                # {user} templating
    "pgst-stranger": (),             # matched by no rule of the base file
}
GROUPS = ("pgst-rpt",)


def can_manage_users() -> bool:
    return os.geteuid() == 0 and all(
        os.path.exists(tool) for tool in ("/usr/sbin/useradd", "/usr/sbin/groupadd", "/usr/sbin/usermod"))


def ensure_users() -> None:
    for group in GROUPS:
        try:
            grp.getgrnam(group)
        except KeyError:
            subprocess.run(["groupadd", "--system", group], check=True)
    for name, groups in USERS.items():
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--user-group",
                            "--shell", "/usr/sbin/nologin", name], check=True)
        for group in groups:
            if name not in grp.getgrnam(group).gr_mem:
                subprocess.run(["usermod", "-a", "-G", group, name], check=True)


class Raised(Exception):
    """What the child raised: the exception's type name, message and status (if it had one)."""

    def __init__(self, kind: str, message: str, status: Optional[int]) -> None:
        super().__init__("%s: %s" % (kind, message))
        self.kind, self.message, self.status = kind, message, status


def as_user(user: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Runs ``fn(*args)`` in a child process running as ``user``; re-raises its exception as Raised."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop privileges for good, run, report, exit without cleanup handlers
        code = 0
        try:
            os.close(read_end)
            entry = pwd.getpwnam(user)
            os.setgroups(os.getgrouplist(user, entry.pw_gid))
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
            try:
                outcome: Tuple[Any, ...] = ("returned", fn(*args))
            except BaseException as e:  # noqa: BLE001 (reported to the parent)
                status = getattr(e, "status", None)
                outcome = ("raised", type(e).__name__, str(e), int(status) if status is not None else None)
            data = pickle.dumps(outcome)
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(data)
        except BaseException:  # noqa: BLE001
            code = 70
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        raise AssertionError("the child running as %s failed before reporting (wait status %d)" % (user, status))
    outcome = pickle.loads(data)
    if outcome[0] == "raised":
        raise Raised(outcome[1], outcome[2], outcome[3])
    return outcome[1]


def uid_of(user: str) -> int:
    return pwd.getpwnam(user).pw_uid
