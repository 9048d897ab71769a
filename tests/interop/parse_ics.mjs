#!/usr/bin/env node
// Reads ONE iCalendar document on stdin, parses it with Mozilla's ical.js (the parser
// Thunderbird uses) and prints one JSON object describing it on stdout.
//
// Every VTIMEZONE of the document is registered with ICAL.TimezoneService before any date
// is read, and every zoned date is converted to UTC through that registered zone, so the
// UTC instants below are what an ical.js-based client would show.
//
// On any error (invalid UTF-8, parse error, bad value) prints {"error": "..."} and exits 1.
// Used by tests/interop/parsers.py (run it with TZ=UTC so floating times are deterministic).

import ICAL from "ical.js";

const MAX_OCCURRENCES = 10;
// Stop expanding after this many raw recurrence instances (all EXDATE'd, say).
const MAX_ITERATIONS = 10000;

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  // fatal: invalid UTF-8 is an error, as it is for a client that must display the text.
  return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
}

function stringOrNull(value) {
  if (value === null || value === undefined) {
    return null;
  }
  return String(value);
}

// A Time of `prop` in the zone registered for the property's TZID (when there is one).
function inRegisteredZone(time, prop) {
  const tzid = prop ? prop.getParameter("tzid") : null;
  if (!time || time.isDate || !tzid || !ICAL.TimezoneService.has(tzid)) {
    return time;
  }
  if (time.zone && time.zone.tzid === "UTC") {
    return time; // an explicit ...Z value wins over a stray TZID
  }
  return ICAL.Time.fromData(
    {
      year: time.year,
      month: time.month,
      day: time.day,
      hour: time.hour,
      minute: time.minute,
      second: time.second,
      isDate: false,
    },
    ICAL.TimezoneService.get(tzid),
  );
}

function toUtcIso(time) {
  if (!time) {
    return null;
  }
  return time.convertToZone(ICAL.Timezone.utcTimezone).toJSDate().toISOString();
}

// Records a TZID that has neither a VTIMEZONE in the document nor a registered zone:
// ical.js then silently treats the time as floating (local) time.
function checkZone(prop, time, warnings) {
  const tzid = prop ? prop.getParameter("tzid") : null;
  if (tzid && time && !time.isDate && time.zone === ICAL.Timezone.localTimezone) {
    warnings.push(
      `${prop.name.toUpperCase()};TZID=${tzid} has no VTIMEZONE: ical.js treats it as floating time`,
    );
  }
}

// The overrides of a series: the VEVENTs with its UID and a RECURRENCE-ID. Left to itself,
// ICAL.Event relates every override in the document to every series, whatever the UID
// (Thunderbird groups items by UID before it builds events, so do that here).
function overridesOf(vevent) {
  if (vevent.hasProperty("recurrence-id") || !vevent.parent) {
    return [];
  }
  const uid = vevent.getFirstPropertyValue("uid");
  return vevent.parent
    .getAllSubcomponents("vevent")
    .filter((v) => v.hasProperty("recurrence-id") && v.getFirstPropertyValue("uid") === uid);
}

function describeEvent(vevent, warnings) {
  const event = new ICAL.Event(vevent, { exceptions: overridesOf(vevent) });
  const dtstartProp = vevent.getFirstProperty("dtstart");
  const dtendProp = vevent.getFirstProperty("dtend");
  const rawStart = dtstartProp ? dtstartProp.getFirstValue() : null;
  const rawEnd = dtendProp ? dtendProp.getFirstValue() : null;
  checkZone(dtstartProp, rawStart, warnings);
  checkZone(dtendProp, rawEnd, warnings);
  const start = inRegisteredZone(rawStart, dtstartProp);
  // DTEND, or DTSTART + DURATION as ical.js computes it.
  const end = dtendProp ? inRegisteredZone(rawEnd, dtendProp) : event.endDate;

  const rruleProp = vevent.getFirstProperty("rrule");
  const ridProp = vevent.getFirstProperty("recurrence-id");
  const rid = ridProp ? ridProp.getFirstValue() : null;
  const organizerProp = vevent.getFirstProperty("organizer");

  const attendees = vevent.getAllProperties("attendee").map((prop) => ({
    value: stringOrNull(prop.getFirstValue()),
    cn: stringOrNull(prop.getParameter("cn")),
    role: stringOrNull(prop.getParameter("role")),
    partstat: stringOrNull(prop.getParameter("partstat")),
    rsvp: stringOrNull(prop.getParameter("rsvp")),
  }));

  const alarms = vevent.getAllSubcomponents("valarm").map((valarm) => ({
    action: stringOrNull(valarm.getFirstPropertyValue("action")),
    trigger: stringOrNull(valarm.getFirstPropertyValue("trigger")),
  }));

  const exdates = [];
  for (const prop of vevent.getAllProperties("exdate")) {
    for (const value of prop.getValues()) {
      checkZone(prop, value, warnings);
      exdates.push(toUtcIso(inRegisteredZone(value, prop)));
    }
  }

  // ical.js's own expansion: RRULE + RDATE - EXDATE, then each instance mapped through the
  // overriding VEVENT (same UID + RECURRENCE-ID) when there is one.
  const occurrences = [];
  if (start) {
    const recurring = event.isRecurring() && !event.isRecurrenceException();
    const iterator = event.iterator(start);
    let next;
    let iterations = 0;
    while (occurrences.length < MAX_OCCURRENCES && iterations < MAX_ITERATIONS) {
      next = iterator.next();
      iterations += 1;
      if (!next) {
        break;
      }
      if (recurring) {
        const details = event.getOccurrenceDetails(next);
        occurrences.push({
          recurrence_id_utc: toUtcIso(details.recurrenceId),
          start_utc: toUtcIso(details.startDate),
          end_utc: toUtcIso(details.endDate),
          overridden: Boolean(details.item && details.item !== event),
        });
      } else {
        occurrences.push({
          recurrence_id_utc: toUtcIso(next),
          start_utc: toUtcIso(next),
          end_utc: toUtcIso(end),
          overridden: false,
        });
      }
    }
  }

  return {
    uid: stringOrNull(vevent.getFirstPropertyValue("uid")),
    sequence: vevent.hasProperty("sequence")
      ? Number(vevent.getFirstPropertyValue("sequence"))
      : null,
    summary: stringOrNull(vevent.getFirstPropertyValue("summary")),
    description: stringOrNull(vevent.getFirstPropertyValue("description")),
    location: stringOrNull(vevent.getFirstPropertyValue("location")),
    status: stringOrNull(vevent.getFirstPropertyValue("status")),
    dtstart_tzid: dtstartProp ? stringOrNull(dtstartProp.getParameter("tzid")) : null,
    dtstart_is_date: start ? Boolean(start.isDate) : null,
    dtstart_zone: start && start.zone ? stringOrNull(start.zone.tzid) : null,
    dtstart_utc: toUtcIso(start),
    dtend_utc: toUtcIso(end),
    rrule: rruleProp ? stringOrNull(rruleProp.getFirstValue()) : null,
    recurrence_id: rid ? rid.toICALString() : null,
    recurrence_id_utc: rid ? toUtcIso(inRegisteredZone(rid, ridProp)) : null,
    organizer: organizerProp ? stringOrNull(organizerProp.getFirstValue()) : null,
    organizer_cn: organizerProp ? stringOrNull(organizerProp.getParameter("cn")) : null,
    attendees,
    alarms,
    exdates,
    first_occurrences_utc: occurrences.map((o) => o.start_utc),
    first_occurrences: occurrences,
  };
}

function describe(text) {
  const jcal = ICAL.parse(text);
  if (!Array.isArray(jcal) || jcal.length === 0) {
    throw new Error("no iCalendar component found");
  }
  if (Array.isArray(jcal[0])) {
    throw new Error(`expected one VCALENDAR, found ${jcal.length} top-level components`);
  }
  const vcalendar = new ICAL.Component(jcal);
  if (vcalendar.name !== "vcalendar") {
    throw new Error(`top-level component is ${vcalendar.name.toUpperCase()}, not VCALENDAR`);
  }

  // Register every zone first: dates are decoded lazily, on first access.
  const timezones = [];
  for (const vtimezone of vcalendar.getAllSubcomponents("vtimezone")) {
    const zone = new ICAL.Timezone(vtimezone);
    if (!zone.tzid) {
      throw new Error("VTIMEZONE without TZID");
    }
    ICAL.TimezoneService.register(zone);
    timezones.push(zone.tzid);
  }

  const warnings = [];
  const events = vcalendar.getAllSubcomponents("vevent").map((v) => describeEvent(v, warnings));
  return {
    method: stringOrNull(vcalendar.getFirstPropertyValue("method")),
    prodid: stringOrNull(vcalendar.getFirstPropertyValue("prodid")),
    version: stringOrNull(vcalendar.getFirstPropertyValue("version")),
    timezones,
    events,
    warnings,
  };
}

async function main() {
  let result;
  try {
    result = describe(await readStdin());
  } catch (err) {
    const message = err && err.message ? `${err.name || "Error"}: ${err.message}` : String(err);
    process.stdout.write(JSON.stringify({ error: message }) + "\n");
    process.exitCode = 1;
    return;
  }
  process.stdout.write(JSON.stringify(result) + "\n");
}

await main();
