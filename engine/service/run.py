"""`imr serve`: start the API under uvicorn, on 127.0.0.1 unless told otherwise.

The first start makes an admin token and prints it once (it is stored only hashed, like a
notebook server's token). Worker processes are uvicorn's (`--workers N`): each imports
engine.service.app and builds its own engine from the settings passed in the environment.
"""

from __future__ import annotations

import os
import socket
import sys

from engine.service.app import Settings
from engine.service.auth import Credentials


def first_token(settings: Settings, out=sys.stdout) -> None:
    """Make and print an admin token when the credentials file has no admin yet."""
    creds = Credentials.load(settings.credentials)
    if creds.has_admin():
        return
    token = creds.add_token("admin", "admin")
    creds.save()
    print(f"admin token (shown once; stored hashed in {settings.credentials}): {token}", file=out, flush=True)


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8765, workers: int = 1) -> int:
    import uvicorn  # start-up cost: only `imr serve` starts a server

    first_token(settings)
    os.environ.update(settings.to_env())
    config = uvicorn.Config("engine.service.app:create_app", factory=True, host=host, port=port, workers=workers,
                            log_level="warning", access_log=False)  # the access log would print paths only, but stays off: no case content anywhere
    if workers == 1:
        uvicorn.Server(config).run()
        return 0
    from uvicorn.supervisors import Multiprocess

    sock = config.bind_socket()
    # uvicorn makes the shared listening socket without its protocol number (proto 0), so asyncio
    # does not set TCP_NODELAY on the connections it accepts, and every answer on a kept-alive
    # connection waited ~40 ms for a delayed ACK (measured: 52 ms p50 at concurrency 1 with two
    # workers, 5 ms with one). Set on the listener, Linux gives it to every accepted connection.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    Multiprocess(config, sockets=[sock]).run()
    return 0
