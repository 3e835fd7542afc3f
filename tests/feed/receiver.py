#!/usr/bin/env python3
"""A webhook receiver outside Aula's code, for the feed fault test (tests/feed_fault.rs).

Verifies every request's Standard Webhooks signature with the PyPI `standardwebhooks` package,
deduplicates by webhook-id, and records each person's accepted events in arrival order.
Its behaviour is switched over HTTP: POST /_mode with body `500`, `timeout` or `ok`.
GET /_report answers the counts and the accepted ids per DNI as JSON.

    receiver.py PORT SECRET TIMEOUT_SLEEP_SECONDS
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

PORT = int(sys.argv[1])
WEBHOOK = Webhook(sys.argv[2])
SLEEP = float(sys.argv[3])

lock = threading.Lock()
state = {
    "mode": "ok",
    "requests": 0,
    "bad_signatures": 0,
    "answered_500": 0,
    "timed_out": 0,
    "duplicates": 0,
    "accepted": 0,
}
seen = set()
by_dni = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path != "/_report":
            return self.answer(404)
        with lock:
            body = json.dumps(dict(state, unique=len(seen), by_dni=by_dni)).encode()
        self.answer(200, body)

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        raw = self.rfile.read(length)
        if self.path == "/_mode":
            with lock:
                state["mode"] = raw.decode().strip()
            return self.answer(204)
        with lock:
            state["requests"] += 1
            mode = state["mode"]
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            WEBHOOK.verify(raw, headers)
        except Exception:
            with lock:
                state["bad_signatures"] += 1
            return self.answer(400, b'{"error":"firma"}')
        if mode == "500":
            with lock:
                state["answered_500"] += 1
            return self.answer(500, b'{"error":"caido"}')
        if mode == "timeout":
            with lock:
                state["timed_out"] += 1
            time.sleep(SLEEP)
            return self.answer(200)
        event = json.loads(raw)
        msg_id = headers["webhook-id"]
        with lock:
            if msg_id in seen:
                state["duplicates"] += 1
            else:
                seen.add(msg_id)
                state["accepted"] += 1
                by_dni.setdefault(event.get("dni") or "", []).append(msg_id)
        self.answer(200)


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
