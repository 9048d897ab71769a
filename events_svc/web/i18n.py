"""The pages' texts in zh-CN and en: the shell's and the console's here; other pages (RSVP,
certificate, feed link) register their own under a prefix."""

from __future__ import annotations

from typing import Any, Literal

Locale = Literal["zh-CN", "en"]
LOCALES: tuple[Locale, ...] = ("zh-CN", "en")

#: prefix -> key -> locale -> text; `translate("rsvp.title", ...)` looks in CATALOG["rsvp"]
CATALOG: dict[str, dict[str, dict[Locale, str]]] = {}


def register(prefix: str, texts: dict[str, dict[Locale, str]]) -> None:
    CATALOG[prefix] = texts


def translate(key: str, locale: Locale, **values: Any) -> str:
    prefix, _, rest = key.partition(".")
    text = CATALOG[prefix][rest][locale]
    return text.format(**values) if values else text


register(
    "shell",
    {
        "brand": {"zh-CN": "社工活动", "en": "Social work events"},
        "switch": {"zh-CN": "English", "en": "中文"},
        "skip": {"zh-CN": "跳到正文", "en": "Skip to content"},
        "footer": {
            "zh-CN": "本页不加载任何外部资源。",
            "en": "This page loads nothing from elsewhere.",
        },
    },
)
