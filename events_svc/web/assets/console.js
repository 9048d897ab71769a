// The console's only script: live progress. Every page works without it; where an element
// says data-live="<same-origin JSON route>", its numbers are refreshed every few seconds.
(function () {
  "use strict";
  var PERIOD = 2000;
  function fill(root, data) {
    Object.keys(data).forEach(function (key) {
      root.querySelectorAll('[data-field="' + key + '"]').forEach(function (el) {
        if (el.tagName === "PROGRESS") {
          el.max = Math.max(1, data.total || 0);
          el.value = data[key];
        } else {
          el.textContent = data[key];
        }
      });
    });
    if (data.rows) {
      data.rows.forEach(function (row) {
        var cell = root.querySelector('[data-row="' + CSS.escape(row.key) + '"]');
        if (cell) {
          cell.textContent = row.label;
          cell.className = "state state-" + row.state;
        }
      });
    }
  }
  function poll(root) {
    var url = root.getAttribute("data-live");
    if (!url || url.charAt(0) !== "/" || url.charAt(1) === "/") return;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data) fill(root, data);
        if (!data || !data.done) setTimeout(function () { poll(root); }, PERIOD);
      })
      .catch(function () { setTimeout(function () { poll(root); }, PERIOD * 3); });
  }
  document.querySelectorAll("[data-live]").forEach(function (root) {
    setTimeout(function () { poll(root); }, PERIOD);
  });
})();
