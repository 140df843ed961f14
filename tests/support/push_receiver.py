#!/usr/bin/env python3
"""A Web Push service for tests, independent of Copydesk's code.

It makes a browser-like subscription (a P-256 key pair and a 16-byte auth secret, with the
`cryptography` package), prints it as the first line of standard output, then serves HTTP
on 127.0.0.1. For every push it:

- checks the VAPID header (RFC 8292) with PyJWT: `Authorization: vapid t=<jwt>, k=<key>`,
  the ES256 signature against `k`, `aud` = this service's origin, `exp` in the future and
  at most 24 h ahead, `sub` present;
- decrypts the body with `http_ece` (Mozilla's reference implementation of RFC 8188 /
  RFC 8291 `aes128gcm`) and the subscription's private key;
- prints one JSON line: path, TTL, Urgency, Topic, Content-Encoding, the decrypted payload,
  and `ok` (false with `error` when a check failed);
- answers as planned: `POST /_plan` with `{"path", "status", "headers"}` queues an answer for
  a path (then 201). `POST /_hold?path=…` makes pushes to that path wait, after being
  printed, until `POST /_release?path=…`.

Used by tests/api/notify_push.rs (pip install http-ece cryptography pyjwt).
"""

import base64
import json
import sys
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


PRIVATE = ec.generate_private_key(ec.SECP256R1())
PUBLIC = PRIVATE.public_key().public_bytes(
    serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
)
AUTH = bytes(__import__("os").urandom(16))
PLANS = defaultdict(deque)
HOLDS = {}
LOCK = threading.Lock()
OUT = threading.Lock()


def emit(obj):
    with OUT:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def check_vapid(header: str, origin: str):
    if not header.startswith("vapid "):
        raise ValueError("Authorization is not `vapid t=…, k=…`")
    params = {}
    for part in header[len("vapid "):].split(","):
        k, _, v = part.strip().partition("=")
        params[k] = v
    token, key = params.get("t"), params.get("k")
    if not token or not key:
        raise ValueError("missing t or k")
    raw = unb64u(key)
    if len(raw) != 65 or raw[0] != 4:
        raise ValueError("k is not an uncompressed P-256 point")
    pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    claims = jwt.decode(
        token,
        pub,
        algorithms=["ES256"],
        audience=origin,
        options={"require": ["exp", "aud", "sub"]},
    )
    if claims["exp"] > time.time() + 24 * 3600 + 60:
        raise ValueError("exp more than 24 h ahead")
    header_alg = jwt.get_unverified_header(token).get("alg")
    if header_alg != "ES256":
        raise ValueError(f"alg {header_alg}")
    return claims


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, headers=(), body=b""):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        url = urlparse(self.path)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        q = parse_qs(url.query)
        if url.path == "/_plan":
            plan = json.loads(body)
            with LOCK:
                PLANS[plan["path"]].append((plan["status"], plan.get("headers", {})))
            return self.answer(201)
        if url.path == "/_hold":
            with LOCK:
                HOLDS[q["path"][0]] = threading.Event()
            return self.answer(201)
        if url.path == "/_release":
            with LOCK:
                ev = HOLDS.pop(q["path"][0], None)
            if ev:
                ev.set()
            return self.answer(201)
        origin = f"http://{self.headers.get('host')}"
        record = {
            "path": url.path,
            "ttl": self.headers.get("ttl"),
            "urgency": self.headers.get("urgency"),
            "topic": self.headers.get("topic"),
            "encoding": self.headers.get("content-encoding"),
            "ok": True,
        }
        try:
            claims = check_vapid(self.headers.get("authorization", ""), origin)
            record["sub"] = claims["sub"]
            record["exp"] = claims["exp"]
            if self.headers.get("content-encoding") != "aes128gcm":
                raise ValueError("Content-Encoding is not aes128gcm")
            plain = http_ece.decrypt(
                body, private_key=PRIVATE, auth_secret=AUTH, version="aes128gcm"
            )
            record["payload"] = json.loads(plain)
        except Exception as e:  # noqa: BLE001 - every failure is reported to the test
            record["ok"] = False
            record["error"] = f"{type(e).__name__}: {e}"
        emit(record)
        with LOCK:
            hold = HOLDS.get(url.path)
        if hold:
            hold.wait(60)
        with LOCK:
            planned = PLANS[url.path].popleft() if PLANS[url.path] else (201, {})
        status, headers = planned
        self.answer(status, list(headers.items()))


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    emit(
        {
            "port": server.server_address[1],
            "p256dh": b64u(PUBLIC),
            "auth": b64u(AUTH),
        }
    )
    server.serve_forever()


if __name__ == "__main__":
    main()
