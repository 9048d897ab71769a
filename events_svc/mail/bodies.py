"""The text and HTML bodies of a message, in the recipient's language."""

from __future__ import annotations

import html

from events_svc.calendar.ics import AgendaEntry, EventData, itinerary_lines, span
from events_svc.mail.context import RSVP_ANSWERS, CertificateFacts, MailContext
from events_svc.mail.i18n import Locale, date_range, recurrence, series_exceptions, t, when


def _single_line(value: str) -> str:
    # Display names end up in headers; a CR/LF there must never make a header or recipient.
    return " ".join(value.split())


def _rows(ctx: MailContext) -> list[tuple[str, str, bool]]:
    """(label, value, is_link) rows shown in both the text and the HTML body."""
    ev, loc = ctx.event, ctx.locale
    if ctx.certificate is not None:
        return certificate_rows(ctx.certificate, issuers=ctx.org_name, locale=loc)
    rows: list[tuple[str, str, bool]] = [
        (t("label.when", loc), when(ev.starts_at, ev.ends_at, ev.timezone, loc), False)
    ]
    repeats = recurrence(ev.recurrence, ev.timezone, loc)
    if repeats:
        rows.append((t("label.repeats", loc), repeats, False))
    if ev.location:
        rows.append((t("label.where", loc), ev.location, False))
    if ev.online_url and ctx.method != "CANCEL":
        rows.append((t("label.online", loc), ev.online_url, True))
    if ctx.method == "REQUEST":
        rows.append((t("label.role", loc), t(f"role.{ctx.role}", loc), False))
    return rows


def certificate_rows(
    facts: CertificateFacts, *, issuers: str, locale: Locale
) -> list[tuple[str, str, bool]]:
    """A certificate's rows: holder, hours, sessions, dates, issuers and its public link."""
    loc = locale
    return [
        (t("label.holder", loc), facts.person_name, False),
        (t("label.hours", loc), t("value.hours", loc, hours=f"{facts.hours:.1f}"), False),
        (
            t("label.sessions", loc),
            t(
                "value.sessions",
                loc,
                attended=str(facts.sessions_attended),
                total=str(facts.sessions_total),
            ),
            False,
        ),
        (t("label.dates", loc), date_range(facts.first_session, facts.last_session, loc), False),
        (t("label.issuers", loc), issuers, False),
        (t("label.verify", loc), facts.url, True),
    ]


def _session_line(entry: AgendaEntry, ev: EventData, loc: Locale) -> str:
    """'09:30–10:30 开幕式 · 一号厅 — 主讲：王芳' in the reader's language."""
    one_day = len({a.starts_at.date() for a in ev.agenda}) <= 1
    when = span(entry.starts_at, entry.ends_at, one_day=one_day)
    line = f"{when} {entry.title}" + (f" · {entry.room}" if entry.room else "")
    if entry.speakers:
        sep = "：" if loc == "zh-CN" else ": "
        people = ("、" if loc == "zh-CN" else ", ").join(
            f"{t(f'role.{sp.role}', loc)}{sep}{sp.name or sp.email}" for sp in entry.speakers
        )
        line += f" — {people}"
    return line


def _exceptions(ctx: MailContext) -> list[str]:
    """A series' cancelled and moved occurrences, as the attached calendar has them."""
    ev = ctx.event
    if not ev.recurrence or ctx.certificate is not None:
        return []
    length = ev.ends_at - ev.starts_at
    moved = [
        (o.recurrence_id, o.starts_at, o.ends_at)
        for o in ev.overrides
        if o.recurrence_id is not None
        and o.recurrence_id not in ev.exdates
        and (o.starts_at != o.recurrence_id or o.ends_at - o.starts_at != length)
    ]
    return series_exceptions(ev.exdates, moved, ctx.locale)


def _shows_programme(ctx: MailContext) -> bool:
    """Invitations, updates and reminders show what the event holds; other mail does not."""
    return ctx.method == "REQUEST" or ctx.kind == "reminder"


def _subject_key(ctx: MailContext) -> str:
    return "subject.uninvited" if ctx.uninvited else f"subject.{ctx.kind}"


def _hint_key(ctx: MailContext) -> str:
    if ctx.kind in ("waitlist-promoted", "certificate", "feed-link"):
        return f"hint.{ctx.kind}"
    return {"REQUEST": "hint.invitation", "CANCEL": "hint.cancellation"}.get(
        ctx.method or "", "hint.reminder"
    )


def _intro_key(ctx: MailContext) -> str:
    return "intro.uninvited" if ctx.uninvited else f"intro.{ctx.kind}"


#: the check-in image's Content-ID in the shared HTML, replaced by the message's own
QR_CID_SLOT = "check-in-qr@cid.invalid"


def shows_qr(ctx: MailContext) -> bool:
    """A reminder shows the person's check-in QR code (an image part of the message)."""
    return ctx.kind == "reminder" and bool(ctx.links.rsvp and ctx.links.checkin)


def text_body(ctx: MailContext) -> str:
    loc, ev = ctx.locale, ctx.event
    sep = "：" if loc == "zh-CN" else ": "
    lines = [t(_intro_key(ctx), loc, org=ctx.org_name), "", ev.title, ""]
    lines += [f"{label}{sep}{value}" for label, value, _ in _rows(ctx)]
    exceptions = _exceptions(ctx)
    if exceptions:
        lines += ["", f"{t('label.exceptions', loc)}{sep}", *(f"  {x}" for x in exceptions)]
    if ctx.note.strip():
        lines += ["", f"{t('label.note', loc)}{sep}", ctx.note.strip()]
    if ctx.agenda_changes:
        lines += ["", f"{t('label.changes', loc)}{sep}"]
        lines += [
            f"  {t(f'change.{what}', loc)}{sep}{_session_line(entry, ev, loc)}"
            for what, entry in ctx.agenda_changes
        ]
    if ev.description.strip() and (ctx.method == "REQUEST" or ctx.kind == "reminder"):
        lines += ["", f"{t('label.details', loc)}{sep}", ev.description.strip()]
    if ev.itinerary and _shows_programme(ctx):
        lines += ["", f"{t('label.itinerary', loc)}{sep}"]
        lines += [f"  {line}" for line in itinerary_lines(ev.itinerary)]
    if ev.agenda and (ctx.method == "REQUEST" or ctx.kind == "reminder"):
        lines += ["", f"{t('label.agenda', loc)}{sep}"]
        lines += [f"  {_session_line(entry, ev, loc)}" for entry in ev.agenda]
    if ctx.links.rsvp:
        lines += ["", f"{t('label.rsvp', loc)}{sep}"]
        lines += [
            f"  {t(f'rsvp.{answer}', loc)}: {ctx.links.rsvp}?response={answer}"
            for answer in RSVP_ANSWERS
        ]
        if ctx.kind == "reminder":
            # the RSVP page shows the person's check-in QR code
            lines += ["", f"{t('label.check_in', loc)}{sep}{ctx.links.rsvp}#check-in-qr"]
    lines += ["", f"{t('label.ics', loc)}{sep}{ctx.links.ics}"]
    if ctx.links.feed_https:
        lines.append(f"{t('label.feed', loc)}{sep}{ctx.links.feed_https}")
        if ctx.links.feed_webcal:
            lines.append(f"webcal{sep}{ctx.links.feed_webcal}")
        if ctx.links.feed_rotate:
            lines.append(f"{t('label.feed_rotate', loc)}{sep}{ctx.links.feed_rotate}")
    lines += ["", t(_hint_key(ctx), loc), "", "-- ", t("footer", loc, org=ctx.org_name)]
    return "\n".join(lines) + "\n"


def html_body(ctx: MailContext) -> str:
    loc, ev = ctx.locale, ctx.event
    e = html.escape

    def cell(value: str, is_link: bool) -> str:
        return f'<a href="{e(value)}">{e(value)}</a>' if is_link else e(value)

    th = "text-align:left;padding:4px 12px 4px 0;color:#555;white-space:nowrap;vertical-align:top"
    rows = "".join(
        f'<tr><th style="{th}">{e(label)}</th>'
        f'<td style="padding:4px 0">{cell(value, link)}</td></tr>'
        for label, value, link in _rows(ctx)
    )
    blocks = [
        f"<p>{e(t(_intro_key(ctx), loc, org=ctx.org_name))}</p>",
        f'<h2 style="margin:8px 0 12px">{e(ev.title)}</h2>',
        f'<table style="border-collapse:collapse">{rows}</table>',
    ]
    exceptions = _exceptions(ctx)
    if exceptions:
        items = "".join(f"<li>{e(x)}</li>" for x in exceptions)
        blocks.append(f"<h3>{e(t('label.exceptions', loc))}</h3><ul>{items}</ul>")
    if ctx.note.strip():
        blocks.append(
            f"<h3>{e(t('label.note', loc))}</h3>"
            f'<p style="white-space:pre-wrap">{e(ctx.note.strip())}</p>'
        )
    if ctx.agenda_changes:
        items = "".join(
            f"<li><strong>{e(t(f'change.{what}', loc))}</strong> "
            f"{e(_session_line(entry, ev, loc))}</li>"
            for what, entry in ctx.agenda_changes
        )
        blocks.append(f"<h3>{e(t('label.changes', loc))}</h3><ul>{items}</ul>")
    if ev.agenda and (ctx.method == "REQUEST" or ctx.kind == "reminder"):
        items = "".join(f"<li>{e(_session_line(entry, ev, loc))}</li>" for entry in ev.agenda)
        blocks.append(f"<h3>{e(t('label.agenda', loc))}</h3><ul>{items}</ul>")
    if ev.description.strip() and (ctx.method == "REQUEST" or ctx.kind == "reminder"):
        blocks.append(
            f"<h3>{e(t('label.details', loc))}</h3>"
            f'<p style="white-space:pre-wrap">{e(ev.description.strip())}</p>'
        )
    if ev.itinerary and _shows_programme(ctx):
        items = "".join(f"<li>{e(line)}</li>" for line in itinerary_lines(ev.itinerary))
        blocks.append(f"<h3>{e(t('label.itinerary', loc))}</h3><ul>{items}</ul>")
    if ctx.links.rsvp:
        button = (
            "display:inline-block;padding:8px 16px;margin:0 8px 8px 0;border-radius:6px;"
            "text-decoration:none;color:#fff;background:{}"
        )
        colours = {"accepted": "#1a7f37", "tentative": "#9a6700", "declined": "#cf222e"}
        buttons = "".join(
            f'<a style="{button.format(colours[answer])}" '
            f'href="{e(ctx.links.rsvp)}?response={answer}">{e(t(f"rsvp.{answer}", loc))}</a>'
            for answer in RSVP_ANSWERS
        )
        blocks.append(f"<p><strong>{e(t('label.rsvp', loc))}</strong></p><p>{buttons}</p>")
        if ctx.kind == "reminder":
            blocks.append(
                f'<p><a href="{e(ctx.links.rsvp)}#check-in-qr">{e(t("label.check_in", loc))}'
                "</a></p>"
            )
        if shows_qr(ctx):
            # the image is a part of the message (multipart/related), not a remote fetch
            blocks.append(
                f'<p><img src="cid:{QR_CID_SLOT}" width="200" height="200"'
                f' alt="{e(t("label.check_in", loc))}"></p>'
            )
    links = [f'<a href="{e(ctx.links.ics)}">{e(t("label.ics", loc))}</a>']
    if ctx.links.feed_https:
        links.append(f'<a href="{e(ctx.links.feed_https)}">{e(t("label.feed", loc))}</a>')
        if ctx.links.feed_webcal:
            links.append(f'<a href="{e(ctx.links.feed_webcal)}">webcal</a>')
        if ctx.links.feed_rotate:
            links.append(
                f'<a href="{e(ctx.links.feed_rotate)}">{e(t("label.feed_rotate", loc))}</a>'
            )
    blocks.append(f"<p>{' · '.join(links)}</p>")
    blocks.append(f'<p style="color:#555">{e(t(_hint_key(ctx), loc))}</p>')
    blocks.append(
        f'<p style="color:#888;font-size:12px">{e(t("footer", loc, org=ctx.org_name))}</p>'
    )
    lang = "zh-CN" if loc == "zh-CN" else "en"
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{e(ev.title)}</title></head>"
        f"<body style=\"font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;"
        f'font-size:15px;line-height:1.5;color:#222">{"".join(blocks)}</body></html>'
    )
