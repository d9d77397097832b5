"""The dashboard's listening sockets, claimed before anything slow starts.

``phm serve`` binds and listens on its address first and hands the sockets to uvicorn, so a
port that is already in use is one line (``phm: error: ...``) at once, not a server log after
the warehouse has been loaded, and no other process can take the port in between (two
sockets with SO_REUSEADDR may both bind a port until one listens, and uvicorn hangs when its
own listen then fails). Browsers that connect while the dashboard loads wait in the backlog.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from phm.errors import UserError


@contextmanager
def listening(host: str, port: int) -> Iterator[list[socket.socket]]:
    """:func:`bind`, closing the sockets at the end of the ``with`` block."""
    sockets = bind(host, port)
    try:
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def bind(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to every address of ``host`` at ``port``, listening (uvicorn serves them).
    Raises :class:`~phm.errors.UserError` saying why not and what to do."""
    if not 0 <= port <= 65535:
        raise UserError(
            f"--port {port} is not a port number; choose one from 1024 to 65535, e.g. --port 8000"
        )
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        return _bind(host, port)
    except socket.gaierror as e:
        raise UserError(
            f"cannot serve on {where}: unknown host {host!r} ({e.strerror}); give --host an address "
            "of this machine, e.g. --host 127.0.0.1"
        ) from None
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            free = _free_port_after(host, port)
            raise UserError(
                f"port {port} is already in use on {host or 'this machine'} (by another phm serve or "
                "another server); stop that, or choose another port with --port"
                + (f", e.g. --port {free}" if free else "")
            ) from None
        if e.errno == errno.EACCES:
            raise UserError(
                f"cannot serve on {where}: permission denied (ports below 1024 need administrator "
                "rights); choose another port with --port, e.g. --port 8000"
            ) from None
        if e.errno == errno.EADDRNOTAVAIL:
            raise UserError(
                f"cannot serve on {where}: that address is not one of this machine's; give --host "
                "one that is, e.g. --host 127.0.0.1"
            ) from None
        raise UserError(
            f"cannot serve on {where}: {e.strerror or e}; choose another --host or --port"
        ) from None


BACKLOG = 2048  # uvicorn's default


def _bind(host: str, port: int) -> list[socket.socket]:
    addresses = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    sockets: list[socket.socket] = []
    seen = set()
    try:
        for family, kind, proto, _, address in addresses:
            if (family, address) in seen:
                continue
            seen.add((family, address))
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            # as uvicorn does: a restarted server binds at once; as asyncio does: v4 has its own socket
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and len(addresses) > 1:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(BACKLOG)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _free_port_after(host: str, port: int) -> int | None:
    """The first of the next 20 ports that ``host`` can bind now (a suggestion, not a promise)."""
    for candidate in range(port + 1, min(port + 21, 65536)):
        try:
            for sock in _bind(host, candidate):
                sock.close()
        except OSError:
            continue
        return candidate
    return None
