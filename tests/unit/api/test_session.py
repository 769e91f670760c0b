"""The web page's session token: unexpired and signed by a configured key, or refused."""

from __future__ import annotations

from gateway.api import session

KEYS = [b"first-key", b"second-key"]
NOW = 1_800_000_000.0


def test_a_token_signed_by_any_configured_key_is_valid_until_it_expires() -> None:
    token = session.issue(b"second-key", NOW, ttl_s=60)
    assert token.startswith(f"{int(NOW) + 60}.")
    assert session.is_valid(token, KEYS, NOW + 59)
    assert not session.is_valid(token, KEYS, NOW + 60)


def test_a_token_never_holds_the_key() -> None:
    assert "second-key" not in session.issue(b"second-key", NOW, ttl_s=60)


def test_tokens_from_removed_keys_forged_expiries_or_garbage_are_refused() -> None:
    token = session.issue(b"removed-key", NOW, ttl_s=60)
    assert not session.is_valid(token, KEYS, NOW)
    mac = session.issue(b"first-key", NOW, ttl_s=60).partition(".")[2]
    assert not session.is_valid(f"{int(NOW) + 9999}.{mac}", KEYS, NOW)  # a later expiry
    for garbage in ("", ".", "abc.def", f"-{int(NOW) + 60}.{mac}", "1e20." + mac):
        assert not session.is_valid(garbage, KEYS, NOW)
