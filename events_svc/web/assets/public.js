// The public event page: the event's time in the reader's own zone, beside the event's
// zone, when the two differ (the browser knows the reader's zone; the server does not).
"use strict";
document.querySelectorAll(".reader-time").forEach(function (el) {
  var mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!mine || mine === el.dataset.zone) return;
  var opts = { timeZone: mine, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hour12: false };
  var fmt = new Intl.DateTimeFormat(el.dataset.lang, opts);
  el.textContent = el.dataset.label + fmt.format(new Date(el.dataset.start)) + " – " +
    fmt.format(new Date(el.dataset.end)) + " (" + mine + ")";
  el.hidden = false;
});
