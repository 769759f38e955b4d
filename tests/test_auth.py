"""emulator.core.signing: signed, stateless, expiring tokens."""

from __future__ import annotations

from emulator.core.signing import Signer, user_id_for


def test_issue_and_verify_round_trip() -> None:
    signer = Signer(b"k", ttl=60, clock=lambda: 1000.0)
    token, expires = signer.issue("access", "acct", "user-a")
    assert token.startswith("eyJ") and expires == 1060.0
    identity = signer.verify("access", token)
    assert identity is not None and (identity.account, identity.user) == ("acct", "user-a")


def test_kind_secret_expiry_and_tampering_are_checked() -> None:
    now = [1000.0]
    signer = Signer(b"k", ttl=60, clock=lambda: now[0])
    token, _ = signer.issue("credential", "acct", "user-a")
    assert signer.verify("access", token) is None
    assert Signer(b"other", clock=lambda: now[0]).verify("credential", token) is None
    assert signer.verify("credential", token.replace(".", "x.", 1)) is None
    assert signer.verify("credential", "a.b") is None
    now[0] = 1061.0
    assert signer.verify("credential", token) is None


def test_processes_sharing_a_secret_accept_each_others_tokens() -> None:
    token, _ = Signer(b"shared").issue("access", "acct", "u")
    assert Signer(b"shared").verify("access", token) is not None


def test_user_ids_differ_by_session_password() -> None:
    assert user_id_for(b"k", "acct", "one") != user_id_for(b"k", "acct", "two")
    assert user_id_for(b"k", "acct", "one") == user_id_for(b"k", "acct", "one")


def test_a_remembered_token_still_expires_and_stays_tied_to_its_kind() -> None:
    now = [1000.0]
    signer = Signer(b"k", ttl=60, clock=lambda: now[0])
    token, _ = signer.issue("access", "acct", "user-a")
    first = signer.verify("access", token)
    assert first is not None and signer.verify("access", token) == first
    assert signer.verify("credential", token) is None
    now[0] = 1060.0
    assert signer.verify("access", token) is None


def test_the_memory_of_verified_tokens_is_bounded() -> None:
    from emulator.core import signing as auth

    signer = Signer(b"k", ttl=60)
    tokens = [
        signer.issue("access", "acct", f"user-{i}")[0] for i in range(auth._VERIFIED_MAX + 5)
    ]
    assert all(signer.verify("access", t) is not None for t in tokens)
    assert len(signer._verified) <= auth._VERIFIED_MAX
    assert all(signer.verify("access", t) is not None for t in tokens[:10])
