"""`events-svc demo`: the seed's story, live in the current database.

中国社会工作联合会 hosts an exchange visit and 座谈会 of 北京社会工作者协会 and
广东省社会工作师联合会 (each names its delegation); the two associations sign
《京粤社工战略合作协议》 and run, under it, the 2nd 本色与本土 forum in Guangdong
(with an agenda) and Beijing's six-session supervisor training (with attendance
recorded for the sessions already held). Everything is dated from today, so
invitations, reminders and feeds are live. Running it again finds what is there
and adds nothing twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from arq.connections import ArqRedis

from events_svc.contacts import service as contacts
from events_svc.contacts.schemas import OrgSelector
from events_svc.delegations import service as delegations
from events_svc.errors import ServiceError
from events_svc.events import service as events
from events_svc.events.schemas import (
    AgendaItemIn,
    EventCreate,
    EventPatch,
    ItineraryBlock,
    RegistrationQuestion,
    ReminderRule,
    SpeakerIn,
)
from events_svc.events.tables import Event
from events_svc.invitations import agenda as agendas
from events_svc.invitations import service as invitations
from events_svc.jobs import enqueue_notifications, enqueue_webhooks
from events_svc.orgs import members as org_members
from events_svc.orgs import service as orgs
from events_svc.partnerships import service as partnerships
from events_svc.partnerships.schemas import PartnershipCreate
from events_svc.settings import Settings
from events_svc.training import service as training_service

SHANGHAI = ZoneInfo("Asia/Shanghai")
TZ = "Asia/Shanghai"

ORGS = [
    ("casw", "中国社会工作联合会", "China Association of Social Workers", "federation", "全国"),
    ("bjswa", "北京社会工作者协会", "Beijing Social Workers Association",
     "city_association", "北京市"),
    ("gdswa", "广东省社会工作师联合会", "Guangdong Social Workers Federation",
     "provincial_association", "广东省"),
]  # fmt: skip

CONTACTS = {
    "casw": "name,email,title,tags\n"
    "刘京,liujing@casw.example.org,副会长兼秘书长,理事\n"
    "陈联络,chen.lianluo@casw.example.org,联络部,工作人员\n",
    "bjswa": "name,email,title,tags\n"
    "沈小平,shenxiaoping@bjswa.example.org,副会长兼秘书长,理事\n"
    "王督导,wang.dudao@bjswa.example.org,督导,督导\n"
    "赵督导,zhao.dudao@bjswa.example.org,督导,督导\n"
    "孙社工,sun.shegong@bjswa.example.org,一线社工,学员\n"
    "周社工,zhou.shegong@bjswa.example.org,一线社工,学员\n",
    "gdswa": "name,email,title,tags\n"
    "李敏兰,liminlan@gdswa.example.org,会长,理事\n"
    "陈督导,chen.dudao@gdswa.example.org,督导,督导\n"
    "黄社工师,huang.shegongshi@gdswa.example.org,社工师,会员\n",
}

AREAS = [
    "交流行业发展方向",
    "交流行业工作动向",
    "专业能力建设",
    "机构能力建设",
    "服务标准建设",
    "推动政社、社群、行业多元合作",
]


@dataclass
class DemoResult:
    """What the demo made (or found), for the command's output."""

    organizations: dict[str, str] = field(default_factory=dict)  #: slug -> new key or "existing"
    events: dict[str, str] = field(default_factory=dict)  #: title -> id
    partnership: str = ""
    notes: list[str] = field(default_factory=list)


async def load_demo(
    *, settings: Settings, queue: ArqRedis | None, today: date | None = None
) -> DemoResult:
    """Load (or complete) the seed's story; idempotent."""
    today = today or datetime.now(SHANGHAI).date()
    result = DemoResult()
    ids: dict[str, uuid.UUID] = {}
    for slug, name, name_en, kind, region in ORGS:
        found = await Event.raw("SELECT id FROM organization WHERE slug = {}", slug)
        if found:
            ids[slug] = found[0]["id"]
            result.organizations[slug] = "existing (its keys were shown when it was made)"
            continue
        made, key = await orgs.create_org(
            slug=slug,
            name=name,
            name_en=name_en,
            email=f"office@{slug}.example.org",
            kind=kind,
            region=region,
            label="demo",
        )
        ids[slug] = uuid.UUID(made.id)
        result.organizations[slug] = key
    for slug, csv in CONTACTS.items():
        await contacts.import_csv(org_id=ids[slug], body=csv.encode("utf-8"))
    await org_members.add_members(org_id=ids["casw"], slugs=["bjswa", "gdswa"])
    for member in ("bjswa", "gdswa"):
        try:
            await org_members.accept_membership(org_id=ids[member], federation_slug="casw")
        except ServiceError:
            pass  # accepted on an earlier run

    async def event(org: str, title: str, **values: Any) -> uuid.UUID:
        # the demo's own event is known by its description too: an event of the same title
        # made by hand (the README's walkthrough makes the forum) is left alone
        found = await Event.raw(
            "SELECT id FROM event WHERE org = {} AND title = {} AND description = {}",
            ids[org],
            title,
            values.get("description", ""),
        )
        if found:
            event_id: uuid.UUID = found[0]["id"]
        else:
            created = await events.create_event(
                org_id=ids[org],
                org_slug=org,
                data=EventCreate(title=title, timezone=TZ, **values),
                uid_host=settings.public_host,
            )
            event_id = uuid.UUID(created.id)
        result.events[title] = str(event_id)
        return event_id

    def at(days: int, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(today + timedelta(days=days), datetime.min.time()).replace(
            hour=hour, minute=minute
        )

    # the exchange visit and 座谈会 at the federation, a week from today
    visit = await event(
        "casw",
        "京粤社工行业组织到访交流座谈会",
        kind="exchange_visit",
        description="社会工作行业组织交流：社工理论如何应用于实际、社工人才培养与保留、"
        "社会工作本土化、政府购买服务税收政策。",
        location="中国社会工作联合会会议室",
        starts_at=at(7, 9),
        ends_at=at(7, 17),
        visiting=["bjswa", "gdswa"],
        reminders=[ReminderRule(before="P1D")],
        itinerary=[
            ItineraryBlock(title="参观联合会与实践基地", starts_at=at(7, 9, 30),
                           ends_at=at(7, 11, 30), place="中国社会工作联合会"),
            ItineraryBlock(title="座谈会：社会工作的发展与创新", starts_at=at(7, 14),
                           ends_at=at(7, 16, 30), place="联合会会议室"),
        ],
    )  # fmt: skip
    await _enqueue(queue, *await _delegation(ids, "bjswa", visit, "shenxiaoping@bjswa.example.org",
                                             ["wang.dudao@bjswa.example.org"]))  # fmt: skip
    await _enqueue(queue, *await _delegation(ids, "gdswa", visit, "liminlan@gdswa.example.org",
                                             ["chen.dudao@gdswa.example.org"]))  # fmt: skip
    await invitations.invite(
        org_id=ids["casw"],
        event_id=visit,
        invitees=await contacts.resolve_invitees(
            caller_org_id=ids["casw"], selectors=[OrgSelector(slug="casw")]
        ),
        message="欢迎京粤两地社工行业组织的伙伴来访交流。",
        queue=queue,
    )

    # the co-operation agreement, signed the day after the visit
    deal = await _partnership(ids, signed_on=today + timedelta(days=8))
    result.partnership = deal

    # the 2nd 本色与本土 forum in Guangdong, co-hosted under the agreement, with an agenda
    forum = await event(
        "gdswa",
        "第二届社会工作本色与本土论坛",
        kind="forum",
        description="京粤社工战略合作框架下的年度论坛：社会工作的本色坚守与本土实践。",
        location="广州市",
        starts_at=at(21, 9),
        ends_at=at(21, 17, 30),
        partnership=deal,
        area="交流行业发展方向",
        cohosts=["bjswa"],
        capacity=200,
        reminders=[ReminderRule(before="P1D")],
    )
    _answer, invited, updates = await agendas.set_agenda(
        org_id=ids["gdswa"],
        event_id=forum,
        update_delay=settings.agenda_update_delay,
        items=[
            AgendaItemIn(title="开幕式", starts_at=at(21, 9), ends_at=at(21, 9, 30),
                         room="主会场",
                         speakers=[SpeakerIn(email="liminlan@gdswa.example.org", name="李敏兰",
                                             role="chair")]),
            AgendaItemIn(title="主旨演讲：社会工作的本色与本土", starts_at=at(21, 9, 30),
                         ends_at=at(21, 10, 30), room="主会场",
                         speakers=[SpeakerIn(email="liujing@casw.example.org", name="刘京")]),
            AgendaItemIn(title="分论坛：督导人才培养", starts_at=at(21, 14),
                         ends_at=at(21, 16), room="第一分会场",
                         speakers=[SpeakerIn(email="shenxiaoping@bjswa.example.org",
                                             name="沈小平")]),
            AgendaItemIn(title="闭幕与合作展望", starts_at=at(21, 16, 30),
                         ends_at=at(21, 17, 30), room="主会场"),
        ],
    )  # fmt: skip
    await enqueue_notifications(queue, invited, batch=True)
    await enqueue_notifications(queue, updates, at_due_time=True)
    # open to the profession: anyone may register on its public page (/e/<id>)
    await events.update_event(
        org_id=ids["gdswa"],
        event_id=forum,
        patch=EventPatch(
            registration="open",
            registration_questions=[
                RegistrationQuestion(id="agency", label="所在机构", required=True),
                RegistrationQuestion(id="position", label="职务"),
                RegistrationQuestion(
                    id="supervisor",
                    label="督导资格",
                    type="one_choice",
                    required=True,
                    choices=["无", "初级督导", "中级督导", "高级督导"],
                ),
            ],
        ),
    )
    for host, tags in (("gdswa", None), ("bjswa", ["督导"])):
        await invitations.invite(
            org_id=ids[host],
            event_id=forum,
            invitees=await contacts.resolve_invitees(
                caller_org_id=ids[host], selectors=[OrgSelector(slug=host, tags=tags)]
            ),
            message="诚邀您参加第二届社会工作本色与本土论坛。",
            queue=queue,
        )

    # Beijing's supervisor training: six weekly sessions, the first two already held
    training = await event(
        "bjswa",
        "督导人才培养",
        kind="training",
        description="京粤社工战略合作项目：北京督导人才培养课程（共六次）。",
        location="北京社会工作者协会培训室",
        starts_at=at(-14, 14),
        ends_at=at(-14, 17),
        recurrence="FREQ=WEEKLY;COUNT=6",
        partnership=deal,
        area="专业能力建设",
        cohosts=["gdswa"],
        reminders=[ReminderRule(before="PT2H")],
    )
    await invitations.invite(
        org_id=ids["bjswa"],
        event_id=training,
        invitees=await contacts.resolve_invitees(
            caller_org_id=ids["bjswa"],
            selectors=[OrgSelector(slug="bjswa", tags=["督导", "学员"])],
        ),
        message="请按时参加督导人才培养课程，每次课程请签到。",
        queue=queue,
    )
    result.notes += await _attendance(ids, training, queue, at(-14, 14), at(-7, 14))
    return result


async def _delegation(
    ids: dict[str, uuid.UUID], org: str, visit: uuid.UUID, leader: str, members: list[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    _delegation_out, queued, hooks = await delegations.put(
        org_id=ids[org], org_slug=org, event_id=visit, slug=org, leader=leader, members=members
    )
    return queued, hooks


async def _enqueue(
    queue: ArqRedis | None, queued: list[dict[str, Any]], hooks: list[dict[str, Any]]
) -> None:
    await enqueue_notifications(queue, queued, batch=True)
    await enqueue_webhooks(queue, hooks)


async def _partnership(ids: dict[str, uuid.UUID], *, signed_on: date) -> str:
    found = await Event.raw(
        "SELECT id FROM partnership WHERE proposer = {} AND title = {}",
        ids["bjswa"],
        "京粤社工战略合作协议",
    )
    if found:
        deal = str(found[0]["id"])
    else:
        created = await partnerships.create(
            org_id=ids["bjswa"],
            data=PartnershipCreate(
                partners=["gdswa"],
                title="京粤社工战略合作协议",
                signed_on=signed_on,
                areas=AREAS,
                starts_on=signed_on,
                ends_on=signed_on.replace(year=signed_on.year + 3),
            ),
        )
        deal = created.id
    await partnerships.accept(org_id=ids["gdswa"], partnership_id=uuid.UUID(deal))
    return deal


async def _attendance(
    ids: dict[str, uuid.UUID], training: uuid.UUID, queue: ArqRedis | None, *held: datetime
) -> list[str]:
    """Check-ins for the sessions already held."""
    notes = []
    now = datetime.now(UTC)
    for session in held:
        for email in ("wang.dudao@bjswa.example.org", "sun.shegong@bjswa.example.org"):
            try:
                done = await training_service.check_in(
                    org_id=ids["bjswa"],
                    key_prefix="demo",
                    event_id=training,
                    email=email,
                    occurrence=session.strftime("%Y-%m-%dT%H:%M:%S"),
                    now=now,
                )
            except ServiceError as exc:
                notes.append(f"check-in of {email} at {session:%m-%d %H:%M}: {exc.detail}")
            else:
                await enqueue_notifications(queue, done.notifications)
    return notes
