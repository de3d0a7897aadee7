"""Only this machine's own clients may drive local mode: not web pages, not rebound DNS names.

Local mode is a server on the user's laptop that can start jobs and write files. A page open in any
browser tab can send requests to ``127.0.0.1``; the emulator's stock CORS handling would even answer
its preflights. This guard sits in front of the emulator's WSGI application and answers ``403`` to:

- a request whose ``Host`` is not the loopback address and port local mode serves
  (``127.0.0.1:<port>``, ``localhost:<port>``, ``[::1]:<port>``): a page on a DNS name rebound to
  ``127.0.0.1`` still sends its own name;
- a request that carries an ``Origin`` other than local mode's own (``http://`` and one of the hosts
  above), preflights included: browsers send ``Origin`` on every cross-origin and every non-GET request;
- a request a browser marks as sent by another site (``Sec-Fetch-Site`` other than ``same-origin`` or
  ``none``), which covers the cross-site GETs that carry no ``Origin``.

AWS SDKs and CLIs send neither ``Origin`` nor ``Sec-Fetch-Site``, so they pass untouched. A refused
request reaches nothing behind the guard and gets no CORS headers, so the page cannot read the answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_BROWSER_SITES_ALLOWED = ("same-origin", "none")


def allowed_hosts(port: int) -> frozenset[str]:
    """The ``Host`` values a client on this machine sends to local mode on ``port``."""
    return frozenset(f"{name}:{port}" for name in LOOPBACK_NAMES)


def allowed_origins(port: int) -> frozenset[str]:
    """Local mode's own origins: pages it serves itself may talk to it."""
    return frozenset(f"http://{host}" for host in allowed_hosts(port))


class LoopbackGuard:
    """WSGI middleware answering 403 to requests that did not come from a client on this machine."""

    def __init__(self, app: WsgiApp, port: int) -> None:
        self.app = app
        self.port = port
        self._hosts = allowed_hosts(port)
        self._origins = allowed_origins(port)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        refusal = self.refusal(environ)
        if refusal is None:
            return self.app(environ, start_response)
        body = refusal.encode()
        start_response(
            "403 Forbidden",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    def refusal(self, environ: dict[str, Any]) -> str | None:
        """Why this request is refused, in words for the person who sent it; None when it may pass."""
        served = f"http://127.0.0.1:{self.port}"
        host = str(environ.get("HTTP_HOST", "")).strip().lower()
        if host not in self._hosts:
            named = f"the host {host!r}" if host else "no host"
            return (
                f"Forbidden: this request names {named} (Host header), but local mode answers only requests "
                f"addressed to {', '.join(sorted(self._hosts))}. Point your AWS client at {served}.\n"
            )
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and origin.strip().lower().rstrip("/") not in self._origins:
            return (
                f"Forbidden: this request came from the web page at {origin} (Origin header). Local mode at "
                f"{served} serves only clients on this machine, never web pages of other origins; use an AWS "
                f"SDK or CLI with AWS_ENDPOINT_URL={served}.\n"
            )
        site = environ.get("HTTP_SEC_FETCH_SITE")
        if site is not None and site.strip().lower() not in _BROWSER_SITES_ALLOWED:
            return (
                f"Forbidden: a browser sent this request on behalf of another site (Sec-Fetch-Site: {site}). "
                f"Local mode at {served} serves only clients on this machine; use an AWS SDK or CLI with "
                f"AWS_ENDPOINT_URL={served}.\n"
            )
        return None


class MountedApps:
    """Local mode's own pages beside the emulator on its port: a request under a mounted prefix goes to that
    application (``SCRIPT_NAME`` the prefix, ``PATH_INFO`` the rest), every other request to the emulator.

    A prefix starts with ``/_``, which no bucket name can (S3 path-style requests name the bucket first, and bucket
    names start with a letter or digit), and no other AWS API's path does."""

    def __init__(self, emulator: WsgiApp) -> None:
        self.emulator = emulator
        self.mounts: dict[str, WsgiApp] = {}

    def mount(self, prefix: str, app: WsgiApp) -> None:
        if not prefix.startswith("/_") or prefix.endswith("/"):
            raise ValueError(f"a mount's prefix is /_<name>, not {prefix!r}")
        self.mounts[prefix] = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        for prefix, app in list(self.mounts.items()):
            if path == prefix or path.startswith(f"{prefix}/"):
                return app({**environ, "SCRIPT_NAME": prefix, "PATH_INFO": path.removeprefix(prefix)}, start_response)
        return self.emulator(environ, start_response)


class GuardedMotoServer:
    """moto's server application behind ``LoopbackGuard``, served on a background thread, with local mode's own
    pages mounted beside it (``mount``).

    The same pieces moto's ``ThreadedMotoServer`` assembles (its dispatcher application and request
    handler on a threaded werkzeug server), with the guard wrapped around the application.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._apps: MountedApps | None = None

    def start(self) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        emulator = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(self.host, self.port, emulator, threaded=True, request_handler=MotoRequestHandler)
        self.port = int(self._server.server_port)
        self._apps = MountedApps(emulator)
        self._server.app = LoopbackGuard(self._apps, self.port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-mode-server", daemon=True)
        self._thread.start()

    def mount(self, prefix: str, app: WsgiApp) -> None:
        """Serve ``app`` under ``prefix`` (``/_console``), behind the same guard as the emulator."""
        if self._apps is None:
            raise RuntimeError("the server is not started")
        self._apps.mount(prefix, app)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
