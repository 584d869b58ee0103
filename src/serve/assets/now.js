// The Now page: takes the values pushed by /api/events (inside the recorder), else polls
// /api/now every second, and updates the figures in place; draws the last hour's power from
// /api/records, then adds each new value.
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

  // The last hour: [time ms, VA] points, a break where two are more than 16 min apart (the
  // export's notion of a gap).
  var HOUR = 3600000, GAP = 960000;
  var points = [], chartAsked = false, history = false, drawn = 0;
  var chart = document.getElementById("live-chart");
  var draw = function () {
    if (!chart) { return; }
    drawn = Date.now();
    if (points.length === 0) { chart.innerHTML = "<p class=\"na\">No record in the last hour.</p>"; return; }
    var end = points[points.length - 1][0], start = end - HOUR;
    points = points.filter(function (p) { return p[0] >= start; });
    var max = 0;
    points.forEach(function (p) { if (p[1] > max) { max = p[1]; } });
    var top = max > 0 ? max * 1.1 : 1;
    var lines = [], cur = [], prev = null;
    points.forEach(function (p) {
      if (prev !== null && p[0] - prev > GAP) { lines.push(cur); cur = []; }
      cur.push(((p[0] - start) / HOUR * 1000).toFixed(1) + "," + (100 - p[1] / top * 100).toFixed(1));
      prev = p[0];
    });
    lines.push(cur);
    var svg = "<svg viewBox=\"0 0 1000 100\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"power over the last hour\">";
    lines.forEach(function (l) {
      if (l.length === 1) {
        // One value alone: a short dash, so that it shows.
        var xy = l[0].split(","), x = Number(xy[0]);
        l = [Math.max(0, x - 6).toFixed(1) + "," + xy[1], Math.min(1000, x + 6).toFixed(1) + "," + xy[1]];
      }
      svg += "<polyline class=\"mean\" vector-effect=\"non-scaling-stroke\" points=\"" + l.join(" ") + "\"/>";
    });
    chart.innerHTML = svg + "</svg><p class=\"mute\">Highest: " + max + " VA; now: " + points[points.length - 1][1] + " VA.</p>";
  };
  var add = function (ms, va) {
    if (va === null || va === undefined || isNaN(ms)) { return; }
    if (points.length && points[points.length - 1][0] >= ms) { return; }
    points.push([ms, va]);
    if (history && Date.now() - drawn > 1000) { draw(); }
  };
  var fetchHour = function (ms) {
    chartAsked = true;
    var q = "from=" + encodeURIComponent(new Date(ms - HOUR).toISOString()) +
      "&to=" + encodeURIComponent(new Date(ms + 1000).toISOString()) + "&max_points=240";
    fetch("/api/records?" + q, { cache: "no-store" }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    }).then(function (s) {
      var past = s.buckets.map(function (b) {
        var a = Date.parse(b.start), z = Date.parse(b.end);
        return [Math.round((a + z) / 2), Math.round(b.mean)];
      });
      var later = points.filter(function (p) { return !past.length || p[0] > past[past.length - 1][0]; });
      points = past.concat(later);
      history = true;
      draw();
      if (chart) { chart.setAttribute("data-ready", "1"); }
    }).catch(function (e) {
      if (chart) {
        chart.innerHTML = "<p class=\"na\">The last hour cannot be drawn: " + e.message + "</p>";
        chart.setAttribute("data-ready", "1");
      }
    });
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
    var ms = n.time ? Date.parse(n.time) : NaN;
    if (!chartAsked) {
      if (isNaN(ms)) {
        chartAsked = true;
        if (chart) { chart.innerHTML = "<p class=\"na\">No record yet.</p>"; chart.setAttribute("data-ready", "1"); }
      }
      else { fetchHour(ms); }
    }
    add(ms, n.power_va);
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
    if (!polling) { polling = true; poll(); setInterval(poll, 1000); }
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
