"""The one redaction path: registered secrets and URL user-info never leave a process."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.cameras.redact import redact_url, with_credentials
from common.redact import MASK, Redactor

# Printable ASCII plus a few non-ASCII letters: every character a camera's web form accepts.
PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from("éßü€")
PASSWORDS = st.text(PRINTABLE, min_size=1, max_size=24)
ORDINARY = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=80
).filter(lambda s: "://" not in s)


def _fresh(*secrets: str) -> Redactor:
    r = Redactor()
    for s in secrets:
        r.register(s)
    return r


@settings(max_examples=300)
@given(password=PASSWORDS)
def test_registered_password_never_leaves_a_camera_url(password: str) -> None:
    r = _fresh(password)
    raw = f"rtsp://admin:{password}@10.0.0.5:554/Streaming/Channels/101"
    encoded = f"rtsp://admin:{quote(password, safe='')}@10.0.0.5:554/Streaming/Channels/101"
    expected = f"cannot open rtsp://{MASK}@10.0.0.5:554/Streaming/Channels/101: 401 Unauthorized"
    for url in (raw, encoded):
        out = r.redact(f"cannot open {url}: 401 Unauthorized")
        if password in expected:  # a password like "Stre" is also masked inside the path
            assert out.startswith(f"cannot open rtsp://{MASK}@")
        else:
            assert out == expected


@settings(max_examples=300)
@given(password=PASSWORDS.filter(lambda p: p.strip() == p and " " not in p))
def test_unregistered_password_without_spaces_is_dropped_with_the_userinfo(password: str) -> None:
    """Nobody registered it: the user-info rule alone must still catch ``/ @ : % # ?``."""
    url = f"rtsp://admin:{password}@10.0.0.5:554/Streaming/101"
    out = _fresh().redact(f"open failed for {url}")
    assert out == f"open failed for rtsp://{MASK}@10.0.0.5:554/Streaming/101"


@settings(max_examples=300)
@given(password=PASSWORDS.filter(lambda p: len(p) >= 4), prefix=ORDINARY, suffix=ORDINARY)
def test_registered_password_never_appears_in_exception_text(
    password: str, prefix: str, suffix: str
) -> None:
    r = _fresh(password)
    texts = [
        f"{prefix}{password}{suffix}",
        str(ValueError(f"{prefix}login {password!r} refused{suffix}")),
        json.dumps({"detail": f"{prefix}{password}{suffix}"}),
        f"{prefix}?user=admin&password={quote(password)}{suffix}",
    ]
    for text in texts:
        out = r.redact(text)
        assert password not in out
        assert quote(password, safe="") not in out


@settings(max_examples=300)
@given(text=ORDINARY, password=PASSWORDS.filter(lambda p: len(p) >= 4))
def test_ordinary_text_is_unchanged(text: str, password: str) -> None:
    r = _fresh(password)
    if password not in text and all(f not in text for f in (quote(password), repr(password))):
        assert r.redact(text) == text
    assert _fresh().redact(text) == text


def test_short_password_is_masked_only_in_userinfo() -> None:
    r = _fresh("a b")
    assert r.redact("rtsp://admin:a b@cam/1 and a b") == f"rtsp://{MASK}@cam/1 and a b"


def test_query_parameters_that_carry_credentials_are_masked() -> None:
    out = _fresh().redact("http://cam/snap.jpg?user=admin&password=hunter2&ch=1")
    assert out == f"http://cam/snap.jpg?user={MASK}&password={MASK}&ch=1"


def test_camera_helpers_use_the_process_registry() -> None:
    secret = "Sp@ce d/pass#1"
    url = with_credentials("rtsp://10.0.0.9/live", "admin", secret)
    assert secret not in redact_url(f"error {secret} in {url}")
    assert quote(secret, safe="") not in redact_url(url)


def test_log_lines_never_carry_a_registered_secret(caplog: object) -> None:
    from common import logsetup
    from common.redact import register_secret

    secret = "l0g-secret/pw@x"
    register_secret(secret)
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "login %s failed", (secret,), None)
    line = logsetup.SafeFormatter("%(message)s").format(record)
    assert secret not in line
    assert MASK in line
