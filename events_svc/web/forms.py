"""Forms of the console: reading fields, pasted address lists, and showing a service's
InvalidInput next to the field it names, in the reader's language."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any

import msgspec

from events_svc.errors import FieldError, InvalidInput, ServiceError, json_path_to_field
from events_svc.web.i18n import Locale

#: the services' most frequent messages, in Chinese; anything else is shown as the service
#: wrote it after a Chinese lead-in (a rule has one wording, in its service)
_ZH: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"choose at least one weekday"), "请至少选择一个星期几"),
    (re.compile(r"already a contact"), "已经是本机构的联系人"),
    (re.compile(r"a tag must not be blank"), "标签不能为空"),
    (re.compile(r"a tag has at most 50 characters"), "每个标签最多 50 个字"),
    (re.compile(r"a tag cannot contain"), "标签不能包含 ; | 或 、"),
    (re.compile(r"at most (\d+) tags"), "标签太多"),
    (re.compile(r"at most (\d+) characters"), "太长了"),
    (re.compile(r"is not zh-CN or en"), "语言只能是 zh-CN 或 en"),
    (re.compile(r"cannot partner with itself"), "不能与本机构自己签订协议"),
    (re.compile(r"no organization '"), "没有这个机构代码"),
    (re.compile(r"is this organization"), "这是本机构自己"),
    (re.compile(r"not a party of the partnership"), "不是该合作协议的一方"),
    (re.compile(r"not one of the partnership's areas"), "不是该合作协议的合作领域"),
    (re.compile(r"an area belongs to a partnership"), "选择合作领域时也要选择合作协议"),
    (re.compile(r"reach no contacts"), "没有找到符合条件的联系人（请检查机构代码和标签）"),
    (re.compile(r"give invitees, organizations or both"), "请粘贴地址，或选择机构和标签"),
    (re.compile(r"the file is empty"), "文件是空的；第一行应为列名"),
    (re.compile(r"not CSV"), "不是 CSV 文件"),
    (re.compile(r"column given twice"), "有重复的列"),
    (re.compile(r"is required"), "必填"),
    (re.compile(r"must not be before starts_on"), "结束日期不能早于开始日期"),
    (re.compile(r"use a non-empty subset"), "请至少选择一种事件"),
    (re.compile(r"not one of your contacts"), "不是本机构的联系人（请先在“联系人”中添加）"),
    (
        re.compile(r"line (\d+): the kind must be one of"),
        r"第 \1 行：题型应为 short_text、long_text、one_choice 或 several_choices",
    ),
    (
        re.compile(r"line (\d+): write required or optional"),
        r"第 \1 行：第三项应为 required（必填）或 optional（选填）",
    ),
    (re.compile(r"line (\d+) does not read"), "有一行格式不对"),
    (re.compile(r"needs two or more choices"), "选择题至少要有两个选项（用 ; 分隔）"),
    (re.compile(r"choices repeat"), "选项重复"),
    (re.compile(r"question has no choices"), "只有选择题才有选项"),
    (re.compile(r"must be one line of text"), "题目不能为空"),
    (re.compile(r"only a public event can open registration"), "只有公开活动才能开放报名"),
    (re.compile(r"Expected `array` of length <= (\d+)"), r"最多 \1 项"),
    (re.compile(r"the last day is not a date"), "结束日期无效"),
    (re.compile(r"the number of times must be a number"), "次数必须是数字"),
    (re.compile(r"say how many times"), "请填写重复次数或结束日期"),
    (re.compile(r"must not be blank|Expected `str` of length >= 1"), "不能为空"),
    (re.compile(r"is not an e-mail address|must be an e-mail address"), "不是有效的电子邮件地址"),
    (re.compile(r"already an organizer"), "已经是本机构的组织者"),
    (re.compile(r"the last admin"), "机构至少要保留一位管理员"),
    (
        re.compile(r"must be after the start|must end after it starts|after starts_at"),
        "结束时间必须晚于开始时间",
    ),
    (re.compile(r"unknown time zone"), "未知的时区，请使用 IANA 名称，例如 Asia/Shanghai"),
    (re.compile(r"Expected `int`"), "请填写整数"),
    (re.compile(r"Expected `datetime`|Invalid RFC3339|Expected `date`"), "请填写日期和时间"),
    (re.compile(r"RRULE|recurrence", re.IGNORECASE), "重复规则无效"),
    (re.compile(r"cancelled"), "活动已取消"),
    (re.compile(r"required|Object missing required field"), "必填"),
]


def say(message: str, locale: Locale) -> str:
    if locale == "en":
        return message
    for pattern, text in _ZH:
        if found := pattern.search(message):
            return found.expand(text)  # a text may name a group, e.g. the line
    return f"输入有误（{message}）"


@dataclass
class FormErrors:
    """Field name -> message, plus what belongs to no field, in the reader's language."""

    fields: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)


def errors_of(
    exc: Exception, locale: Locale, *, known: set[str], rename: dict[str, str] | None = None
) -> FormErrors:
    """Each FieldError shown by the form field it names (`rename` maps a service's field to
    the form's); fields the form does not have go to the top of the form."""
    out = FormErrors()
    items: list[FieldError] = []
    if isinstance(exc, msgspec.ValidationError):
        message, _, path = str(exc).partition(" - at `$")
        items = [FieldError(field=json_path_to_field(path.rstrip("`")) or "body", message=message)]
    elif isinstance(exc, ServiceError):
        items = list(exc.errors or [])
        if not items:
            out.general.append(say(exc.detail, locale))
    for item in items:
        name = (rename or {}).get(item.field, item.field)
        if name not in known:
            name = (rename or {}).get(item.field.split(".")[0], item.field.split(".")[0])
        if name in known:
            out.fields.setdefault(name, say(item.message, locale))
        else:
            out.general.append(f"{item.field}: {say(item.message, locale)}")
    return out


@dataclass(frozen=True, slots=True)
class Pasted:
    email: str
    name: str
    line: int  #: 1-based line of the pasted text


def parse_pasted(text: str) -> tuple[list[Pasted], list[tuple[int, str]]]:
    """Addresses pasted one per line, `Name <addr>` or `addr` (a trailing comma or semicolon,
    as mail programs copy them, is ignored); returns the entries and the lines that are no
    address (line number, text). The address rule itself is the service's."""
    found: list[Pasted] = []
    bad: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().rstrip(",;").strip()
        if not line:
            continue
        name, address = parseaddr(line)
        if not address or "@" not in address:
            bad.append((number, raw.strip()))
            continue
        found.append(Pasted(email=address, name=" ".join(name.split()), line=number))
    return found, bad


def text_of(form: Any, name: str, default: str = "") -> str:
    value = form.get(name)
    return value if isinstance(value, str) else default


def invalid(field_name: str, message: str) -> InvalidInput:
    return InvalidInput.field(field_name, message)
