"""A fake SMS provider: a real HTTP server on 127.0.0.1 that the webhook gateway POSTs to.

It records every request (raw deliveries), can answer 503 to the first N requests, can hold
requests until released (to crash a worker mid-send), and dedupes by ``Idempotency-Key`` like a
real provider: a repeated key is answered 200 but not sent to the phone again. ``delivered``
lists what reached phones; ``requests`` lists everything that arrived.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class Request:
    key: str | None
    body: dict[str, Any]
    status: int  # what the provider answered (0: the client was gone before the answer)
    at: float


class SmsProvider:
    def __init__(self, dedupe: bool = True) -> None:
        self.dedupe = dedupe
        self.fail_first = 0  # answer 503 to this many of the next requests
        self.delay = 0.0  # seconds before answering (to overlap concurrent senders)
        self.hold: threading.Event | None = None  # set: requests wait for release() before answering
        self.held = threading.Event()  # a request is waiting on ``hold``
        self.requests: list[Request] = []
        self.delivered: list[Request] = []  # unique by key: what the applicant's phone got
        self._lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                provider._handle(self, raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handle(self, h: BaseHTTPRequestHandler, raw: bytes) -> None:
        key = h.headers.get("Idempotency-Key")
        body = json.loads(raw.decode("utf-8"))
        with self._lock:
            if self.fail_first > 0:
                self.fail_first -= 1
                status = 503
            else:
                status = 200
            req = Request(key, body, status, time.monotonic())
            self.requests.append(req)
            if status == 200 and not (self.dedupe and any(d.key == key for d in self.delivered)):
                self.delivered.append(req)  # a real provider sends the SMS as soon as it accepts it
            hold = self.hold
        if hold is not None and status == 200:
            self.held.set()
            hold.wait(30)
        if self.delay:
            time.sleep(self.delay)
        try:
            data = json.dumps({"ok": status == 200}).encode()
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except OSError:  # the worker died while we held its request
            pass

    @property
    def accepted(self) -> list[Request]:
        """Requests answered 200 (before the provider's dedupe)."""
        return [r for r in self.requests if r.status == 200]

    def wait_for(self, cond: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; requests so far: {self.requests}")

    def __enter__(self) -> "SmsProvider":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()
