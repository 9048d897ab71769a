"""RATE_LIMIT_* and TRUSTED_PROXIES: parsed and validated at start, errors name the variable."""

from __future__ import annotations

import pytest

from events_svc.settings import RateLimit, Settings, SettingsError

BASE = {
    "DATABASE_URL": "postgresql://u@db/events",
    "REDIS_URL": "redis://redis:6379/0",
    "SECRET_KEY": "k" * 40,
}


def test_defaults_a_deployment_can_keep() -> None:
    s = Settings.from_env(BASE)
    assert s.rate_limit_auth_failures == RateLimit(30, 300)
    assert s.rate_limit_rsvp_token == RateLimit(20, 3600)
    assert s.rate_limit_rsvp_address == RateLimit(600, 600)
    assert s.rate_limit_inbound == RateLimit(600, 60)
    assert s.rate_limit_certificates == RateLimit(60, 60)
    assert s.rate_limit_org_messages_per_hour == 100_000
    assert s.trusted_proxies == ()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10/60", RateLimit(10, 60)),
        ("10/60s", RateLimit(10, 60)),
        ("30 / 5m", RateLimit(30, 300)),
        ("1000/1h", RateLimit(1000, 3600)),
        ("off", None),
        ("0", None),
    ],
)
def test_limit_forms(raw: str, expected: RateLimit | None) -> None:
    s = Settings.from_env({**BASE, "RATE_LIMIT_CERTIFICATES": raw})
    assert s.rate_limit_certificates == expected


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RATE_LIMIT_AUTH_FAILURES", "ten"),
        ("RATE_LIMIT_AUTH_FAILURES", "10"),
        ("RATE_LIMIT_RSVP_TOKEN", "0/60"),
        ("RATE_LIMIT_RSVP_ADDRESS", "5/0"),
        ("RATE_LIMIT_INBOUND", "5/1d"),
        ("RATE_LIMIT_CERTIFICATES", "5/200h"),
        ("RATE_LIMIT_ORG_MESSAGES_PER_HOUR", "-1"),
        ("RATE_LIMIT_ORG_MESSAGES_PER_HOUR", "many"),
        ("TRUSTED_PROXIES", "10.0.0.0/8, proxy.local"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({**BASE, variable: value})
    assert info.value.variable == variable


def test_trusted_proxies_are_normalized() -> None:
    s = Settings.from_env({**BASE, "TRUSTED_PROXIES": "10.1.2.3/8, ::1 ,192.0.2.7"})
    assert s.trusted_proxies == ("10.0.0.0/8", "::1/128", "192.0.2.7/32")
