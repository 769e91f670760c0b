"""Browser sessions: the web page trades an API key for a short-lived signed cookie.

An `<img src=…/thumbnail>` cannot send `X-API-Key`, so with protected reads the page's
thumbnails need another credential. `POST /v1/session` (with a valid key in the header)
answers with an HttpOnly, SameSite=Strict cookie holding only an expiry time and an HMAC of
it keyed by the API key that opened it: the key never reaches a URL, a log, or script-readable
storage, every replica configured with the same keys accepts the cookie, and removing a key
ends its sessions.
"""

from __future__ import annotations

import hashlib
import hmac

COOKIE = "pic_search_session"
_PURPOSE = b"pic-search-session:"


def _mac(key: bytes, expires: int) -> str:
    return hmac.new(key, _PURPOSE + str(expires).encode(), hashlib.sha256).hexdigest()


def issue(key: bytes, now: float, ttl_s: int) -> str:
    expires = int(now) + ttl_s
    return f"{expires}.{_mac(key, expires)}"


def is_valid(token: str, keys: list[bytes], now: float) -> bool:
    """True when the token is unexpired and signed by one of the keys (constant time per key)."""
    expires_text, _, mac = token.partition(".")
    if not expires_text.isdigit() or int(expires_text) <= now:
        return False
    expires = int(expires_text)
    matches = [hmac.compare_digest(mac.encode(), _mac(key, expires).encode()) for key in keys]
    return any(matches)
