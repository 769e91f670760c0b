"""API keys, the same rules on every transport: with no keys configured everything is open
(the local default, bound to 127.0.0.1); otherwise writes, and reads when configured, need
one of the keys."""

from __future__ import annotations

import hmac

from gateway.errors import UnauthorizedError


def bearer_token(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def check_key(keys: list[bytes], presented: str | None, where: str) -> bytes | None:
    """The configured key presented (None when no keys are configured: open); `where`
    names how to present a key on this transport (a header, call metadata)."""
    if not keys:
        return None
    if presented is None:
        raise UnauthorizedError(f"this call needs an API key ({where})", code="missing_api_key")
    candidate = presented.encode()
    # Compare with every key, without stopping early, in constant time per key.
    matches = [hmac.compare_digest(candidate, key) for key in keys]
    if not any(matches):
        raise UnauthorizedError("the API key is not valid", code="invalid_api_key")
    return keys[matches.index(True)]
