#!/usr/bin/env python3
"""Verifies webhook deliveries with the official Standard Webhooks library.

Reads a JSON list of {"secret", "headers", "body"} on standard input; each delivery must
verify (signature and timestamp tolerance) with `standardwebhooks.Webhook(secret).verify`.
Prints "verified N" and exits 0, or names the first delivery that fails and exits 1.
The webhook integration tests (tests/api/webhooks.rs) call it; scripts/test installs the
package (`pip install standardwebhooks`).
"""
import json
import sys

from standardwebhooks import Webhook

deliveries = json.load(sys.stdin)
for i, d in enumerate(deliveries):
    try:
        payload = Webhook(d["secret"]).verify(d["body"], d["headers"])
    except Exception as e:  # noqa: BLE001 - report any failure
        print(f"delivery {i} ({d['headers'].get('webhook-id')}): {type(e).__name__}: {e}")
        sys.exit(1)
    if not isinstance(payload, dict) or set(payload) != {"type", "timestamp", "data"}:
        print(f"delivery {i}: unexpected payload {payload!r}")
        sys.exit(1)
print(f"verified {len(deliveries)}")
