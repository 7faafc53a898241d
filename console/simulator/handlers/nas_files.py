"""A NAS server's local configuration files: ``POST nas_server/{id}/upload/<file>`` (multipart, the
file in the form field the spec names) and ``GET nas_server/{id}/download/<file>`` (plain text).

A file that was never uploaded downloads as a commented template. Uploads are checked line by line
the way the files are read (``passwd`` has seven ``:`` fields, ``hosts`` starts with an address,
...); a line that does not fit refuses the whole file with its line number. The user mapping report
exists once ``update_user_mappings`` has run.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from console.simulator import errors
from console.simulator.handlers.common import target
from console.simulator.operations import STORAGE_ROLES, OpRequest, OpResult, Sim, done, operation
from console.simulator.store import Record

FILES_FIELD = "_files"
"""Hidden field of a nas_server record: file name → content."""
REPORT = "user_mapping_report"
MAX_FILE_BYTES = 1 << 20


def _fields(count: int, what: str) -> Callable[[str], str | None]:
    def check(line: str) -> str | None:
        if len(line.split(":")) != count:
            return f"a {what} entry has {count} fields separated by ':'"
        return None

    return check


def _hosts_line(line: str) -> str | None:
    words = line.split()
    try:
        ipaddress.ip_address(words[0])
    except ValueError:
        return "a hosts entry is an IP address followed by host names"
    return None if len(words) >= 2 else "a hosts entry is an IP address followed by host names"


def _nsswitch_line(line: str) -> str | None:
    database, colon, sources = line.partition(":")
    if not colon or not database.strip() or not sources.split():
        return "an nsswitch entry is 'database: source ...'"
    return None


def _words(least: int, what: str) -> Callable[[str], str | None]:
    def check(line: str) -> str | None:
        return None if len(line.split()) >= least else what

    return check


def _colons(least: int, what: str) -> Callable[[str], str | None]:
    def check(line: str) -> str | None:
        return None if line.count(":") >= least else what

    return check


# The files a NAS server keeps, with what each of their lines must look like.
CHECKS: dict[str, Callable[[str], str | None]] = {
    "passwd": _fields(7, "passwd"),
    "group": _fields(4, "group"),
    "hosts": _hosts_line,
    "netgroup": _words(2, "a netgroup entry is a name followed by members"),
    "nsswitch": _nsswitch_line,
    "homedir": _colons(2, "a homedir entry is 'domain:user:path'"),
    "ntxmap": _colons(3, "an ntxmap rule is 'direction:Windows user:Unix user:'"),
}

TEMPLATES = {
    "passwd": "# name:password:uid:gid:comment:home directory:shell\n",
    "group": "# name:password:gid:members\n",
    "hosts": "# IP address  host name  [aliases]\n",
    "netgroup": "# netgroup  (host,user,domain) ...\n",
    "nsswitch": "# database: source ...\npasswd: files\ngroup: files\nhosts: files dns\n",
    "homedir": "# domain:user:path\n",
    "ntxmap": "# direction:Windows user:Unix user:\n",
}


def check_file(name: str, text: str) -> None:
    """Refuse (422) a file with a line that does not fit, naming the line."""
    check = CHECKS[name]
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        problem = check(line)
        if problem is not None:
            raise errors.unprocessable(
                f"Line {number} of the {name} file is not valid: {problem}.", name, number
            )


def _register_upload(name: str) -> None:
    @operation("nas_server", f"upload/{name}", roles=STORAGE_ROLES)
    def upload(sim: Sim, req: OpRequest) -> OpResult:
        server = target(sim, req)
        text = str(req.body.get("content", ""))
        check_file(name, text)
        files = {**(server.get(FILES_FIELD) or {}), name: text}
        sim.update("nas_server", server["id"], {FILES_FIELD: files})
        return done(server)


for _name in CHECKS:
    _register_upload(_name)


def write_report(sim: Sim, server: Record, lines: list[str]) -> None:
    """Keep the report of an ``update_user_mappings`` run for download."""
    files = {**(server.get(FILES_FIELD) or {}), REPORT: "".join(f"{line}\n" for line in lines)}
    sim.update("nas_server", server["id"], {FILES_FIELD: files})


def download(server: Record, name: str) -> str:
    """The file's content: as uploaded, else its template; the report once there is one."""
    files = server.get(FILES_FIELD) or {}
    if name in files:
        return str(files[name])
    if name == REPORT:
        raise errors.unprocessable(
            f"NAS server {server['name']} has no user mapping report; run update_user_mappings first.",
            server["id"],
        )
    return TEMPLATES[name]
