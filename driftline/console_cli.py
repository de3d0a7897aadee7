"""``driftline console``: the web console for a stack (local mode's, or one deployed to AWS), served on this
machine's loopback address until Ctrl-C."""

from __future__ import annotations

import argparse
import socket
from typing import Any

from driftline.stack_target import add_target_arguments, resolve_target

DEFAULT_PORT = 8766


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "console", help="serve the web console (runs, models, outbox) on 127.0.0.1 until Ctrl-C"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"loopback port to serve on (default {DEFAULT_PORT}; 0: a free one)",
    )
    add_target_arguments(parser)
    parser.set_defaults(run_command=run)


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1 (never another interface)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(128)
    return listener


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from driftline.console.app import ConsoleApp

    target = resolve_target(args)
    listener = bind(args.port)
    port = int(listener.getsockname()[1])
    app = ConsoleApp(target, port)
    print(f"Driftline console for {target.describe()}: http://127.0.0.1:{port}/ (Ctrl-C stops it)", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    server.run(sockets=[listener])
    return 0
