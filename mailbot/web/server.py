"""Running the console under uvicorn: in the foreground (`mailbot web`) or in a thread of
`mailbot serve` (setting `web_listen`), stopped by an event like the other services."""
from __future__ import annotations

import logging
import threading
import time

import uvicorn

from mailbot.config import Config
from mailbot.web.app import create_app

log = logging.getLogger("mailbot.web")


def make_server(config: Config, *, engine=None, host: str | None = None, port: int | None = None) -> uvicorn.Server:
    default_host, default_port = config.web_address
    app = create_app(config, engine)
    settings = uvicorn.Config(app, host=host or default_host, port=default_port if port is None else port,
                              log_level="warning", access_log=False, proxy_headers=False, server_header=False)
    return uvicorn.Server(settings)


def run_foreground(config: Config, *, host: str | None = None, port: int | None = None) -> None:
    """Serve until Ctrl-C or SIGTERM (uvicorn handles the signals in the main thread)."""
    make_server(config, host=host, port=port).run()


def start_in_thread(config: Config, *, engine=None, host: str | None = None, port: int | None = None,
                    stop: threading.Event | None = None) -> tuple[uvicorn.Server, threading.Thread]:
    """Serve in a daemon thread; returns once the socket listens. Setting `stop` (or
    `server.should_exit = True`) ends it."""
    server = make_server(config, engine=engine, host=host, port=port)
    thread = threading.Thread(target=server.run, name="web", daemon=True)
    thread.start()
    if stop is not None:
        threading.Thread(target=_stop_when, args=(stop, server), name="web-stop", daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        raise RuntimeError("the web console did not start (address in use?)")
    return server, thread


def bound_port(server: uvicorn.Server) -> int:
    """The port actually listened on (the configuration may say 0: any free port)."""
    return server.servers[0].sockets[0].getsockname()[1]


def _stop_when(stop: threading.Event, server: uvicorn.Server) -> None:
    stop.wait()
    server.should_exit = True
