"""Webhook signatures: ``Leadscore-Signature: t=UNIX_TS,v1=HEX``.

``HEX`` is HMAC-SHA256, keyed with the webhook's secret, of ``"{t}.{body}"`` (the timestamp, a
dot, and the raw request body). Signing the timestamp with the body lets a receiver refuse a
replayed request: check the HMAC in constant time *and* that ``t`` is recent. A receiver in
Python needs only the standard library (``verify`` below is that code; docs/workflows.md shows it
standalone).
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Leadscore-Signature"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value for ``body`` sent at ``timestamp`` (seconds since 1970)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, body: bytes, header: str, *, tolerance_seconds: int = 300,
           now: float | None = None) -> bool:
    """Is ``header`` a valid signature of ``body`` made within ``tolerance_seconds`` of now?"""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
        given = fields["v1"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_seconds:
        return False
    expected = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)
