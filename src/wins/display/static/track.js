/* Customer's ticket page: follows the ticket through a public long-poll that only ever returns this
 * ticket, raises a loud alert when it is called, and lets the customer leave the queue. */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("wins-config").textContent);
  var s = config.strings;
  var base = "/api/v1/public/tickets/" + encodeURIComponent(config.token);
  var FINAL = ["done", "no_show", "cancelled", "expired"];
  var ticket = config.ticket;
  var lastId = null;
  var failures = 0;
  var alerted = ticket.status === "called" ? ticket.called_at : null; // the call already shown on load
  var audio = new Audio(config.chime_url);
  audio.preload = "auto";
  var $ = function (id) { return document.getElementById(id); };
  window.winsTracking = { get ticket() { return ticket; }, alerts: [] };

  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, k) { return values[k] == null ? "" : values[k]; });
  }

  function waitText(t) {
    var low = Math.floor(t.estimated_wait_range[0] / 60), high = Math.ceil(t.estimated_wait_range[1] / 60);
    if (high <= 1) return s.wait_now;
    return fmt(s.minutes, { low: low, high: Math.max(high, low + 1) });
  }

  function render(t) {
    ticket = t;
    document.body.setAttribute("data-status", t.status);
    $("number").textContent = t.number;
    $("service").textContent = t.service_name || "";
    var waiting = t.status === "waiting";
    $("waiting-box").hidden = !waiting;
    $("actions").hidden = !waiting;
    if (!waiting) $("confirm").hidden = true;
    if (waiting) {
      $("position").textContent = String(t.position);
      $("ahead").textContent = t.people_ahead === 0 ? s.ahead_none
        : t.people_ahead === 1 ? s.ahead_one : fmt(s.ahead_many, { n: t.people_ahead });
      $("wait").textContent = waitText(t);
    }
    var called = t.status === "called";
    $("alert").hidden = !called;
    if (called) $("alert-text").textContent = fmt(s.called_text, { counter: t.counter_name });
    var stateText = t.status === "serving" ? fmt(s.serving, { counter: t.counter_name }) : s[t.status] || "";
    $("state-box").hidden = waiting || called || !stateText;
    $("state-text").textContent = stateText;
    // A call, or a recall (a new called_at), raises the alert once each.
    if (called && t.called_at !== alerted) {
      alerted = t.called_at;
      raiseAlert(t);
    }
    document.title = (called ? "🔔 " : "") + t.number + " — " + s.title;
  }

  function raiseAlert(t) {
    var entry = { at: Date.now(), counter: t.counter_name, vibrated: false, sound: "pending" };
    window.winsTracking.alerts.push(entry);
    if (window.winsTracking.alerts.length > 20) window.winsTracking.alerts.shift();
    if (navigator.vibrate) {
      try { entry.vibrated = navigator.vibrate([400, 200, 400, 200, 800]); } catch (e) { /* not allowed */ }
    }
    audio.currentTime = 0;
    var p = audio.play();
    if (p && p.then) p.then(function () { entry.sound = "played"; }, function () { entry.sound = "blocked"; });
    $("alert").scrollIntoView({ behavior: "smooth", block: "start" });
  }

  function poll() {
    if (FINAL.indexOf(ticket.status) >= 0) return;
    var url = base + "/updates?timeout=25" + (lastId === null ? "" : "&since=" + lastId);
    var ctrl = typeof AbortController !== "undefined" ? new AbortController() : null;
    var timer = ctrl ? setTimeout(function () { ctrl.abort(); }, 40000) : null;
    fetch(url, { cache: "no-store", signal: ctrl ? ctrl.signal : undefined }).then(function (r) {
      if (timer) clearTimeout(timer);
      if (r.status === 404) { location.reload(); throw new Error("gone"); }
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (body) {
      failures = 0;
      $("offline").hidden = true;
      lastId = body.last_id;
      render(body.ticket);
      setTimeout(poll, 50);
    }).catch(function () {
      if (timer) clearTimeout(timer);
      failures += 1;
      if (failures > 1) $("offline").hidden = false;
      setTimeout(poll, Math.min(15000, 1000 * Math.pow(2, Math.min(failures, 4))));
    });
  }

  $("sound").addEventListener("click", function () {
    // Phones only play sound after a tap: play the chime once now so the alert can play it later.
    audio.currentTime = 0;
    audio.play().then(function () { $("sound").textContent = s.sound_ready; }, function () {});
  });
  $("leave").addEventListener("click", function () { $("confirm").hidden = false; });
  $("confirm-no").addEventListener("click", function () { $("confirm").hidden = true; });
  $("confirm-yes").addEventListener("click", function () {
    $("confirm-yes").disabled = true;
    fetch(base + "/cancel", { method: "POST", cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (t) { render(t); }, function () {
      // The ticket may have been called meanwhile: show its true state.
      window.alert(s.leave_failed);
      lastId = null;
    }).then(function () { $("confirm-yes").disabled = false; });
  });

  render(ticket);
  poll();
})();
