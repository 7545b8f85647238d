"""A reference webhook receiver: what a destination has to do with the delivery contract.

It verifies ``X-Cohortd-Signature`` (when given the secret), drops batches whose
idempotency key it has already applied, and applies ``added`` / ``removed`` in
arrival order, so ``members`` is what the destination holds.  Used by the tests
and the benchmark, and handy for trying audiences locally::

    python -m cohortd.audiences.receiver --port 8080 --secret S

``fail_with`` makes it answer every request with that HTTP status (to exercise
retries); ``delay_s`` slows every answer down.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Receiver", "Received"]


@dataclass(frozen=True)
class Received:
    """One request as it arrived: raw body, headers, parsed JSON, answer status, arrival time."""

    body: bytes
    headers: dict[str, str]
    doc: dict[str, Any]
    status: int
    arrived_ns: int


class Receiver:
    """An HTTP server on 127.0.0.1 (port 0: any free port) in a background thread."""

    def __init__(self, secret: str | None = None, port: int = 0, host: str = "127.0.0.1") -> None:
        self.secret = secret
        self.fail_with: int | None = None
        self.delay_s = 0.0
        self.requests: list[Received] = []
        self.held: dict[str, set[str]] = {}  # audience -> the ids it holds
        self.applied_keys: set[str] = set()
        self.duplicates = 0
        self.bad_signatures = 0
        self.on_batch: Callable[[Received], None] | None = None
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                receiver._handle(self)

            do_DELETE = do_POST  # noqa: N815 - platform-shaped destinations delete removals

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{host}:{port}/hook"

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        arrived = time.time_ns()
        if self.delay_s:
            time.sleep(self.delay_s)
        headers = {k: v for k, v in h.headers.items()}
        status = 200
        if self.secret is not None:
            expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, headers.get("X-Cohortd-Signature", "")):
                status = 401
        if status == 200 and self.fail_with is not None:
            status = self.fail_with
        try:
            doc = json.loads(body)
        except ValueError:
            doc, status = {}, 400
        rec = Received(body, headers, doc, status, arrived)
        with self._cond:
            self.requests.append(rec)
            if status == 401:
                self.bad_signatures += 1
            if status == 200 and "idempotency_key" in doc:
                key = doc["idempotency_key"]
                if key in self.applied_keys:
                    self.duplicates += 1
                else:
                    self.applied_keys.add(key)
                    held = self.held.setdefault(doc.get("audience", ""), set())
                    held -= set(doc.get("removed", ()))
                    held |= set(doc.get("added", ()))
            self._cond.notify_all()
        if status == 200 and self.on_batch is not None:
            self.on_batch(rec)
        h.send_response(status)
        h.send_header("Content-Length", "0")
        h.end_headers()

    @property
    def members(self) -> set[str]:
        """What the one audience sent here holds (the union when several share the receiver)."""
        with self._cond:
            return set().union(*self.held.values())

    def accepted(self) -> list[Received]:
        with self._cond:
            return [r for r in self.requests if r.status == 200]

    def wait_for(self, cond: Callable[[Receiver], bool], timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: cond(self), timeout)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m cohortd.audiences.receiver", description=__doc__)
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--secret", default=None)
    a = p.parse_args(argv)
    r = Receiver(a.secret, a.port)
    r.on_batch = lambda rec: print(json.dumps(rec.doc), flush=True)
    print(f"listening on {r.url}", flush=True)
    try:
        r._thread.join()
    except KeyboardInterrupt:
        r.close()


if __name__ == "__main__":
    main()
