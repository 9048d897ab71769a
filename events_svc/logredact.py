"""Capability URLs out of the logs: the one list of what a log line must not carry (the path
segments and query values that are keys: RSVP, feed, feed-rotation and certificate links,
bearer tokens) and the filter that blanks them in every record before it is written."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"

#: (pattern, replacement): each pattern's first group is kept, the rest becomes REDACTED
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), r"\1" + REDACTED)
    for pattern in (
        # path segments that are the key: /rsvp/<token>, /feeds/people/<token>.ics,
        # /feeds/rotate/<token>, /certificates/<code> (its page, its revoke route)
        r"(/rsvp/)[^/?#\s\"']+",
        r"(/feeds/people/)[^/?#\s\"']+",
        r"(/feeds/rotate/)[^/?#\s\"']+",
        r"(/certificates/)[^/?#\s\"']+",
        # query values that are keys, wherever a client puts them (`recipient` carries the
        # invitation's reply address, whose plus-part is its reply token)
        r"(?i)([?&](?:token|access_token|key|api_key|code|secret|signature|sig|recipient)=)"
        r"[^&#\s\"']*",
        # credentials in a header that someone logs (inbound token, API keys)
        r"(?i)(\bbearer\s+)[^\s\"',]+",
        # a token on its own (in an exception's message): 40+ URL-safe base64 characters
        # mixing cases and digits, as our tokens do and words and hex digests do not
        r"(^|[^A-Za-z0-9_-])(?=[A-Za-z0-9_-]*[a-z])(?=[A-Za-z0-9_-]*[A-Z])"
        r"(?=[A-Za-z0-9_-]*[0-9_-])[A-Za-z0-9_-]{40,}(?![A-Za-z0-9_-])",
    )
)

#: the loggers whose records are filtered where they are made (descendants get it through
#: the handlers below, since a logger's filters do not apply to its children's records)
LOGGERS = ("uvicorn", "uvicorn.access", "uvicorn.error", "litestar", "events_svc", "workers", "arq")


def _clean_at_a_glance(text: str) -> bool:
    """True when no pattern can match: every one needs a '/', '?', '&', the word "bearer", or
    a run of 40 characters. Most log text is short and plain, and this costs far less than
    the seven searches (a JSON line per request and per message runs through here)."""
    return (
        len(text) < 40
        and "/" not in text
        and "?" not in text
        and "&" not in text
        and "earer" not in text.lower()
    )


def redact(text: str) -> str:
    if _clean_at_a_glance(text):
        return text
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_arg(value: Any) -> Any:
    if isinstance(value, int | float) or value is None:
        return value  # `%d` and friends need the number
    text = value if isinstance(value, str) else str(value)
    cleaned = redact(text)
    return value if cleaned == text and not isinstance(value, str) else cleaned


class RedactFilter(logging.Filter):
    """Blanks capability tokens in a record's message, arguments and traceback text. Keeps the
    shape of `args` (uvicorn's access formatter unpacks them); running twice (logger and
    handler) changes nothing more."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_redacted", False):
            return True  # the logger's filter ran; the handler's has nothing left to do
        record._redacted = True
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, dict):
            record.args = {k: _redact_arg(v) for k, v in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(v) for v in record.args)
        if record.exc_info and not record.exc_text:
            # formatted here, so the handler writes this text rather than formatting again
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactFilter()


def _add(target: logging.Filterer) -> None:
    if _FILTER not in target.filters:
        target.addFilter(_FILTER)


def install(extra: Iterable[str] = ()) -> None:
    """Put the filter on our, uvicorn's and Litestar's loggers (and the ones under them that
    exist now) and on every handler they and the root logger write to. Idempotent; call it
    after the logging configuration (uvicorn configures its own before it loads the app)."""
    roots = {*LOGGERS, *extra}
    prefixes = tuple(f"{name}." for name in roots)
    names = roots | {n for n in logging.root.manager.loggerDict if n.startswith(prefixes)}
    loggers = [logging.getLogger(name) for name in sorted(names)]
    for logger in loggers:
        _add(logger)
    for logger in [logging.getLogger(), *loggers]:
        for handler in logger.handlers:
            _add(handler)
