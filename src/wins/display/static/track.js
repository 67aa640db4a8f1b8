/* Customer's ticket page: follows the ticket through a public long-poll that only ever returns this ticket (the
 * shared stream client, /static/staff/stream.js, in long-poll mode: request timeouts, reconnection), raises a loud
 * alert when it is called, tells screen readers when the place or the wait changes, and lets the customer leave
 * the queue after a real confirmation dialog. */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("wins-config").textContent);
  var s = config.strings;
  var base = "/api/v1/public/tickets/" + encodeURIComponent(config.token);
  var FINAL = ["done", "no_show", "cancelled", "expired"];
  var NUMBERED = /^\d+[A-Za-z]?$/; // "Counter 4", but "Reception" as it is (display/speech.py NUMBERED_COUNTER)
  var ANNOUNCE_AFTER_MS = 1500; // changes in a burst are said once, the last one
  var ticket = config.ticket;
  var alerted = ticket.status === "called" ? ticket.called_at : null; // the call already shown on load
  var announced = null; // what the live region last said (or the page showed on load)
  var announceTimer = null;
  var stream = null;
  var audio = new Audio(config.chime_url);
  audio.preload = "auto";
  var $ = function (id) { return document.getElementById(id); };
  window.winsTracking = { get ticket() { return ticket; }, alerts: [], announcements: [] };

  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, k) { return values[k] == null ? "" : values[k]; });
  }

  function counterLabel(name) {
    if (!name) return "";
    return NUMBERED.test(name) ? fmt(s.counter_name, { name: name }) : name;
  }

  function aheadText(t) {
    return t.people_ahead === 0 ? s.ahead_none : t.people_ahead === 1 ? s.ahead_one : fmt(s.ahead_many, { n: t.people_ahead });
  }

  // The polite live region: "1 person before you. Estimated wait: up to 6 min." — only when that sentence
  // changes, and only after a quiet moment, so a screen reader is not interrupted on every update.
  function announce(t) {
    var text = t.status === "waiting" ? fmt(s.announce, { ahead: aheadText(t), wait: t.estimated_wait_text }) : null;
    if (announced === null) { announced = text; return; } // the page itself says it on load
    if (text === null || text === announced) return;
    clearTimeout(announceTimer);
    announceTimer = setTimeout(function () {
      announced = text;
      $("announce").textContent = text;
      window.winsTracking.announcements.push(text);
    }, ANNOUNCE_AFTER_MS);
  }

  function render(t) {
    ticket = t;
    document.body.setAttribute("data-status", t.status);
    $("number").textContent = t.number;
    $("service").textContent = t.service_name || "";
    var waiting = t.status === "waiting";
    $("waiting-box").hidden = !waiting;
    $("actions").hidden = !waiting;
    if (!waiting && $("confirm").open) closeConfirm(false);
    if (waiting) {
      $("position").textContent = String(t.position);
      $("ahead").textContent = aheadText(t);
      $("wait").textContent = t.estimated_wait_text;
    }
    announce(t);
    var called = t.status === "called";
    $("alert").hidden = !called;
    if (called) $("alert-counter").textContent = counterLabel(t.counter_name);
    renderArrival(t, waiting);
    var stateText = t.status === "serving" ? fmt(s.serving, { counter: counterLabel(t.counter_name) })
      : t.arrival === "missed" ? s.missed_checkin : s[t.status] || "";
    $("state-box").hidden = waiting || called || !stateText;
    $("state-text").textContent = stateText;
    // A call, or a recall (a new called_at), raises the alert once each.
    if (called && t.called_at !== alerted) {
      alerted = t.called_at;
      raiseAlert(t);
    }
    showSms(t);
    document.title = (called ? "🔔 " : "") + t.number + " — " + s.title;
    if (FINAL.indexOf(t.status) >= 0 && stream) stream.stop();
  }

  // -- arrival check-in: "I'm here" with the code on the waiting-room screen (or the key of its QR code's link) --

  function clockTime(iso) {
    var d = new Date(iso);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function renderArrival(t, waiting) {
    var needs = waiting && (t.arrival === "needed" || t.arrival === "passed_over");
    $("checkin-box").hidden = !needs;
    $("checkin-done").hidden = !(waiting && t.arrival === "checked_in");
    if (needs) {
      $("checkin-text").textContent = t.arrival === "passed_over" && t.checkin_deadline
        ? fmt(s.checkin_passed, { time: clockTime(t.checkin_deadline) }) : s.checkin_needed;
    }
  }

  function checkIn(code) {
    $("checkin-button").disabled = true;
    $("checkin-error").hidden = true;
    return WinsStream.request(base + "/check-in", {
      method: "POST",
      headers: { "Accept": "application/json", "Content-Type": "application/json" },
      body: JSON.stringify({ code: code })
    }, 15000).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(typeof body.detail === "string" ? body.detail : s.checkin_failed);
        render(body);
      }, function () { throw new Error(s.checkin_failed); });
    }).then(null, function (e) {
      $("checkin-error").textContent = e && e.message && e.message.indexOf("HTTP") !== 0 ? e.message : s.checkin_failed;
      $("checkin-error").hidden = false;
    }).then(function () { $("checkin-button").disabled = false; });
  }

  $("checkin-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var code = $("checkin-code").value.trim();
    if (!code) { $("checkin-code").focus(); return; }
    checkIn(code);
  });

  // The "Text me" section, kept as a reload would draw it: the offer only while the ticket waits (the server
  // refuses it after), "texts on" until the ticket ends (its number is erased then). No section: texts are off.
  function showSms(t) {
    var box = $("sms");
    if (!box) return;
    box.hidden = $("sms-form") ? t.status !== "waiting" : FINAL.indexOf(t.status) >= 0;
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
    var reduce = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    $("alert").scrollIntoView({ behavior: reduce ? "auto" : "smooth", block: "start" });
  }

  // -- leaving the queue: a real dialog, the safe answer first and focused ---------------------------------

  function openConfirm() {
    $("leave").hidden = true; // one "leave" control at a time
    $("confirm").showModal(); // focus moves to "No, keep my place" (autofocus)
  }

  function closeConfirm(refocus) {
    if ($("confirm").open) $("confirm").close();
    $("leave").hidden = false;
    if (refocus && !$("actions").hidden) $("leave").focus();
  }

  $("sound").addEventListener("click", function () {
    // Phones only play sound after a tap: play the chime once now so the alert can play it later.
    audio.currentTime = 0;
    audio.play().then(function () { $("sound").textContent = s.sound_ready; }, function () {});
  });
  $("leave").addEventListener("click", openConfirm);
  $("confirm-no").addEventListener("click", function () { closeConfirm(true); });
  $("confirm").addEventListener("cancel", function (e) { e.preventDefault(); closeConfirm(true); }); // Escape
  $("confirm-yes").addEventListener("click", function () {
    $("confirm-yes").disabled = true;
    WinsStream.request(base + "/cancel", { method: "POST", headers: { "Accept": "application/json" } }, 15000)
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      }).then(function (t) { closeConfirm(false); render(t); }, function () {
        // The ticket may have been called meanwhile: the stream shows its true state.
        closeConfirm(true);
        window.alert(s.leave_failed);
      }).then(function () { $("confirm-yes").disabled = false; });
  });

  render(ticket);
  // Opened from the waiting room's QR code with this ticket's link (?k=…): that key is the proof of being here.
  var scanned = new URLSearchParams(location.search).get("k");
  if (scanned) {
    history.replaceState(null, "", location.pathname);
    if (ticket.status === "waiting" && (ticket.arrival === "needed" || ticket.arrival === "passed_over")) checkIn(scanned);
  }
  if (FINAL.indexOf(ticket.status) < 0) {
    stream = WinsStream.follow({
      pollUrl: function (since, seconds) {
        return base + "/updates?timeout=" + seconds + (since === null ? "" : "&since=" + since);
      },
      read: function (body) { render(body.ticket); return { events: [], lastId: body.last_id }; },
      onState: function (state) { $("offline").hidden = state !== "lost"; },
      onEnded: function (status) { if (status === 404) location.reload(); } // the ticket is gone
    });
    window.winsTracking.stream = stream;
  }
})();
