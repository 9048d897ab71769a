from __future__ import annotations

import pytest

from events_svc.settings import Settings, SettingsError, SmtpSettings

BASE = {
    "DATABASE_URL": "postgresql://u@db/events",
    "REDIS_URL": "redis://redis:6379/0",
    "SECRET_KEY": "k" * 40,
}


def test_minimal_environment_gives_defaults() -> None:
    s = Settings.from_env(BASE)
    assert s.smtp.host == "127.0.0.1" and s.smtp.port == 1025
    assert s.public_base_url == "http://127.0.0.1:8000"
    assert s.mail_from == "events@127.0.0.1"
    assert s.admin_token is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", ""),
        ("DATABASE_URL", "mysql://x/y"),
        ("REDIS_URL", ""),
        ("REDIS_URL", "http://x"),
        ("SECRET_KEY", "short"),
        ("SMTP_URL", "http://mail"),
        ("SMTP_URL", "smtp://"),
        ("SMTP_URL", "smtp://mail:99999"),
        ("SMTP_URL", "smtps://mail?starttls=1"),
        ("PUBLIC_BASE_URL", "ftp://x"),
        ("MAIL_FROM", "not an address"),
        ("ADMIN_TOKEN", "short"),
        ("SEND_RATE_PER_SECOND", "fast"),
        ("SEND_RATE_PER_SECOND", "-1"),
        ("SEND_RATE_BURST", "-5"),
        ("SEND_RATE_PER_HOUR", "lots"),
        ("SEND_RATE_PER_DAY", "-1"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({**BASE, variable: value})
    assert info.value.variable == variable
    assert str(info.value).startswith(variable)


def test_send_rate_is_off_unless_set() -> None:
    assert not Settings.from_env(BASE).send_capped
    s = Settings.from_env({**BASE, "SEND_RATE_PER_SECOND": "0.5", "SEND_RATE_PER_DAY": "10000"})
    assert s.send_capped
    assert (s.send_rate_per_second, s.send_rate_burst, s.send_rate_per_day) == (0.5, 0, 10_000)
    assert Settings.from_env({**BASE, "SEND_RATE_PER_HOUR": "3000"}).send_capped


def test_smtp_url_forms() -> None:
    s = SmtpSettings.parse("smtp://user%40x:p%3Ass@mail.example.org:587?starttls=1")
    assert (s.host, s.port, s.start_tls, s.use_tls) == ("mail.example.org", 587, True, False)
    assert (s.username, s.password) == ("user@x", "p:ss")
    s = SmtpSettings.parse("smtps://mail.example.org")
    assert (s.port, s.use_tls, s.start_tls, s.username) == (465, True, False, None)
    assert "p:ss" not in repr(SmtpSettings.parse("smtp://u:p%3Ass@m"))


def test_mail_from_with_display_name_keeps_the_address() -> None:
    s = Settings.from_env({**BASE, "MAIL_FROM": "Events <events@example.org>"})
    assert s.mail_from == "events@example.org"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, False), ("", False), ("0", False), ("off", False), ("1", True), ("true", True)],
)
def test_webhook_allow_private_is_off_unless_set(value: str | None, expected: bool) -> None:
    env = BASE if value is None else {**BASE, "WEBHOOK_ALLOW_PRIVATE": value}
    assert Settings.from_env(env).webhook_allow_private is expected


def test_webhook_allow_private_refuses_other_values() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({**BASE, "WEBHOOK_ALLOW_PRIVATE": "maybe"})
    assert info.value.variable == "WEBHOOK_ALLOW_PRIVATE"


def test_volume_limits() -> None:
    s = Settings.from_env(BASE)
    assert (s.volume.per_day, s.volume.occurrences, s.volume.reminder_rows) == (4, 1000, 100_000)
    s = Settings.from_env(
        {
            **BASE,
            "MAX_OCCURRENCES_PER_DAY": "2",
            "MAX_OCCURRENCES": "500",
            "MAX_REMINDER_ROWS_PER_EVENT": "5000",
        }
    )
    assert (s.volume.per_day, s.volume.occurrences, s.volume.reminder_rows) == (2, 500, 5000)
    for variable in ("MAX_OCCURRENCES_PER_DAY", "MAX_OCCURRENCES", "MAX_REMINDER_ROWS_PER_EVENT"):
        with pytest.raises(SettingsError) as caught:
            Settings.from_env({**BASE, variable: "0"})
        assert caught.value.variable == variable
