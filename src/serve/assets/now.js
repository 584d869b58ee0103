// The Now page: takes the values pushed by /api/events (inside the recorder), else polls
// /api/now every second, and updates the figures in place.
(function () {
  "use strict";
  var set = function (id, text) {
    var e = document.getElementById(id);
    if (e && e.textContent !== text) { e.textContent = text; }
  };
  var kwh = function (wh) { return wh === null || wh === undefined ? "–" : (wh / 1000).toFixed(3); };
  var age = function (s) {
    if (s === null || s === undefined) { return "–"; }
    if (s < 120) { return s + " s ago"; }
    if (s < 7200) { return Math.round(s / 60) + " min ago"; }
    if (s < 172800) { return Math.round(s / 3600) + " h ago"; }
    return Math.round(s / 86400) + " days ago";
  };
  var colour = function (id, c) {
    set(id + "-name", c ? c : "–");
    var dot = document.getElementById(id + "-dot");
    if (dot) { dot.className = "dot " + (c || ""); }
  };
  var lastAge = null, lastAt = 0;
  var render = function (n) {
    if (n.error) { set("status", n.error); return; }
    set("power", n.power_va === null ? "–" : String(n.power_va));
    set("tariff", n.tariff ? n.tariff.name : "–");
    colour("colour-today", n.tempo.today);
    colour("colour-tomorrow", n.tempo.tomorrow);
    set("time", n.time || "–");
    lastAge = n.age_s; lastAt = Date.now();
    set("age", age(n.age_s));
    if (n.today) {
      set("today-hc", kwh(n.today.hc_wh));
      set("today-hp", kwh(n.today.hp_wh));
      set("today-total", kwh(n.today.total_wh));
    }
    if (n.link) {
      set("frames", String(n.link.frames));
      set("checksum-errors", String(n.link.checksum_errors));
      set("port-reopens", String(n.link.port_reopens));
      set("rows-written", String(n.link.rows_written));
    }
    set("status", "");
  };
  var poll = function () {
    fetch("/api/now", { cache: "no-store" }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    }).then(render).catch(function (e) {
      set("status", "cannot reach the recorder: " + e.message);
    });
  };
  var polling = false;
  var startPolling = function () {
    if (!polling) { polling = true; setInterval(poll, 1000); }
  };
  if (document.getElementById("live-events") && window.EventSource) {
    var es = new EventSource("/api/events");
    es.onmessage = function (e) {
      try { render(JSON.parse(e.data)); } catch (x) { set("status", "bad event: " + x.message); }
    };
    // Closed for good (refused: too many streams): poll instead. A dropped connection is
    // retried by the browser itself.
    es.onerror = function () { if (es.readyState === 2) { startPolling(); } };
  } else {
    startPolling();
  }
  // The age goes on between values.
  setInterval(function () {
    if (lastAge !== null) { set("age", age(lastAge + Math.round((Date.now() - lastAt) / 1000))); }
  }, 1000);
})();
