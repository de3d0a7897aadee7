"""The loopback guard's rule: which origins and host names local mode answers."""

from __future__ import annotations

from driftline.local.http_guard import LoopbackGuard, allowed_origins


def test_the_guard_names_the_origins_it_accepts() -> None:
    assert allowed_origins(4777) == {"http://127.0.0.1:4777", "http://localhost:4777", "http://[::1]:4777"}
    guard = LoopbackGuard(lambda environ, start_response: [], 4777)
    assert guard.refusal({"HTTP_HOST": "127.0.0.1:4777", "HTTP_ORIGIN": "http://127.0.0.1:4777/"}) is None
    assert guard.refusal({"HTTP_HOST": "127.0.0.1:4777", "HTTP_ORIGIN": "https://127.0.0.1:4777"}) is not None
    assert guard.refusal({}) is not None  # no Host header at all
