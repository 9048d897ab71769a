"""Per-invitation reply addresses: short, signed, case-insensitive, within a local part."""

from __future__ import annotations

import uuid

import pytest

from events_svc.rsvp.tokens import (
    invitations_addressed,
    make_reply_token,
    read_reply_token,
    reply_address,
)
from events_svc.settings import Settings, SettingsError

SECRET = "s" * 40
INVITATION = uuid.UUID("0f8e2a3c-1b4d-4e5f-8a9b-0c1d2e3f4a5b")
BASE = {"DATABASE_URL": "postgresql://u@db/e", "REDIS_URL": "redis://r/0", "SECRET_KEY": SECRET}


def test_the_token_is_short_lowercase_and_survives_any_case() -> None:
    token = make_reply_token(SECRET, INVITATION)
    assert len(token) == 42 and token == token.lower() and token.isalnum()
    assert read_reply_token(SECRET, token) == INVITATION
    assert read_reply_token(SECRET, token.upper()) == INVITATION
    assert read_reply_token("another-secret-" + "x" * 30, token) is None
    flipped = token[:5] + ("a" if token[5] != "a" else "b") + token[6:]
    assert read_reply_token(SECRET, flipped) is None
    for junk in ("", "x" * 42, token + "a", token[:-1], "0" * 42, token[:20] + "!" + token[21:]):
        assert read_reply_token(SECRET, junk) is None


@pytest.mark.parametrize(
    ("setting", "shape"),
    [
        ("rsvp@example.org", "rsvp+{}@example.org"),
        ("r-{token}@replies.example.org", "r-{}@replies.example.org"),
    ],
)
def test_plus_addressed_or_templated(setting: str, shape: str) -> None:
    address = reply_address(setting, SECRET, INVITATION)
    assert address == shape.format(make_reply_token(SECRET, INVITATION))
    assert len(address.split("@")[0]) <= 64
    other = uuid.uuid4()
    found = invitations_addressed(
        setting,
        SECRET,
        [address.upper(), "rsvp@example.org", reply_address(setting, SECRET, other), "x@y"],
    )
    assert found == {INVITATION, other}
    # the token at another domain, or with a prefix, is not the reply address
    local, _, _domain = address.partition("@")
    assert invitations_addressed(setting, SECRET, [f"{local}@evil.example"]) == set()
    assert invitations_addressed(setting, SECRET, [f"x{address}"]) == set()


def test_settings_validate_the_reply_address_and_dkim_switch() -> None:
    s = Settings.from_env({**BASE, "REPLY_ADDRESS": "r-{token}@replies.example.org"})
    assert s.reply_address == "r-{token}@replies.example.org"
    assert s.organizer_email == s.mail_from  # no token at hand: the plain sending address
    assert Settings.from_env(BASE).inbound_verify_dkim is False
    assert Settings.from_env({**BASE, "INBOUND_VERIFY_DKIM": "on"}).inbound_verify_dkim is True
    for variable, value in (
        ("REPLY_ADDRESS", "{token}-{token}@x.org"),
        ("REPLY_ADDRESS", "rsvp@{token}.example.org"),
        ("REPLY_ADDRESS", "rsvp{x}@example.org"),
        ("REPLY_ADDRESS", "r" * 30 + "@example.org"),  # 30 + 1 + 42 > 64
        ("INBOUND_VERIFY_DKIM", "maybe"),
    ):
        with pytest.raises(SettingsError) as info:
            Settings.from_env({**BASE, variable: value})
        assert info.value.variable == variable


@pytest.mark.parametrize(
    "name", ["广东省社会工作师联合会", 'A; "long", name: ' + "x" * 90, "北京社会工作者协会" * 6, ""]
)
def test_the_feeds_own_organizer_line_equals_icalendars(name: str) -> None:
    from icalendar import Event

    from events_svc.calendar.ics import Party, organizer_line, own_organizer_line

    party = Party(email=reply_address("events@events.example.org", SECRET, INVITATION), name=name)
    fast, slow = own_organizer_line(party), organizer_line(party)
    assert fast.replace(b"\r\n ", b"") == slow.replace(b"\r\n ", b"")
    lines = fast.split(b"\r\n")
    assert all(len(line) <= 75 for line in lines)
    assert [line.decode() for line in lines]  # no character split across a fold
    event = Event.from_ical(b"BEGIN:VEVENT\r\nUID:x\r\n" + fast + b"END:VEVENT\r\n")
    assert str(event["ORGANIZER"]) == f"mailto:{party.email}"


def test_tokens_are_redacted_from_what_the_organizer_sees() -> None:
    from events_svc.rsvp.tokens import redact_reply_tokens

    address = reply_address("events@x.org", SECRET, INVITATION)
    shown = redact_reply_tokens("events@x.org", f"events@x.org, {address.upper()}, a@b.org")
    assert shown == "events@x.org, EVENTS+[token]@x.org, a@b.org"
