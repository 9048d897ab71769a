"""The SIZE the worker declares at MAIL is the message's size as DATA puts it on the wire."""

from __future__ import annotations

import random

from aiosmtplib.protocol import normalize_message_line_endings

from events_svc.sender.smtp import wire_size


def test_wire_size_is_the_size_data_sends() -> None:
    rng = random.Random(19)
    pieces = [b"a", b"\r\n", b"\n", b"\r", b".", "中".encode(), b"\r\r\n", b"\n\r"]
    cases = [b"", b"x", b"x\r\n", b"x\n", b"x\r"]
    cases += [b"".join(rng.choice(pieces) for _ in range(rng.randrange(40))) for _ in range(2000)]
    for message in cases:
        assert wire_size(message) == len(normalize_message_line_endings(message)), message
