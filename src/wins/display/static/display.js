/* WINS waiting-room display.
 *
 * Follows the event stream (the shared client, /static/staff/stream.js: WebSocket or long-poll, dead-link
 * watchdog) and announces every call and recall: a flash, a chime, then the spoken sentence in each language
 * (server WAV by espeak-ng, the browser's speech synthesis as fallback with the server's own phrase table, chime
 * only as last resort). Announcements queue: each one starts when the previous one's audio has ended.
 *
 * Runs for weeks: it reconnects by itself, resumes from the last event id it handled (snapshot re-read for
 * the board, events since that id replayed for the announcements, so none is missed and none repeated),
 * and keeps every list capped so memory stays flat.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("wins-config").textContent);
  // A paired display sends its device token; a manager's browser relies on its session cookie instead.
  var AUTH = config.token ? { Authorization: "Bearer " + config.token } : {};
  var MAX_QUEUE = 30; // announcements waiting; beyond that the oldest waiting ones are skipped
  var MAX_LOG = 100; // window.winsAnnouncements entries kept
  var MAX_SEEN = 300; // event ids remembered against doubles
  var ANNOUNCE_MAX_AGE_MS = 10 * 60 * 1000; // a call replayed after a long outage is shown, not spoken
  var PART_TIMEOUT_MS = 20000; // a stuck audio never blocks the queue longer than this
  var SNAPSHOT_DEBOUNCE_MS = 1500;

  var LATEST_MS = 45000; // the latest call keeps its marker this long after the flash
  var FLASH_MS = 8000; // the flash (or, with reduced motion, a steady inverted highlight) lasts this long
  var PHRASES = config.phrases; // the server's table (display/speech.py): one set of words for WAV and browser
  var NUMBERED = new RegExp(PHRASES.numbered_counter);
  var WORDS = config.strings[config.languages[0]] || config.strings[Object.keys(config.strings)[0]];

  var state = {
    lastId: null,
    snapshot: null,
    recent: [], // calls shown in the list, newest first, capped at config.history
    serverOffset: 0, // server clock minus browser clock, from the snapshot
    stream: null, // the shared client's handle (WinsStream.follow)
    live: false,
    latest: null, // {ticket_id, counter_id, until}: the newest call, marked for LATEST_MS
    snapshotTimer: null
  };
  var seen = [];
  var seenSet = new Set();
  var queue = [];
  var busy = false;
  var log = [];
  window.winsAnnouncements = log;
  window.winsDisplay = { state: state, queue: queue, config: config };

  var $ = function (id) { return document.getElementById(id); };

  // -- filters and text -----------------------------------------------------------------------------

  function wanted(data) {
    if (config.services.length && config.services.indexOf(data.service_id) < 0) return false;
    if (config.counters.length && data.counter_id != null && config.counters.indexOf(data.counter_id) < 0) return false;
    return true;
  }

  function spokenNumber(number) {
    var m = /^([A-Za-z]{0,4})0*([0-9]{1,5})$/.exec(number || "");
    if (!m) return number;
    return (m[1].toUpperCase().split("").join(" ") + " " + String(parseInt(m[2], 10))).trim();
  }

  function phrase(lang, number, counter) {
    var forms = PHRASES.languages[lang] || PHRASES.languages.en;
    var form = NUMBERED.test(counter) ? forms.numbered : forms.named;
    return form.replace("{number}", spokenNumber(number)).replace("{counter}", counter);
  }

  // "Counter 3" (in the board's first language), but "Reception" as it is.
  function counterLabel(name) {
    if (!name) return "";
    return NUMBERED.test(name) ? WORDS.counter_name.replace("{name}", name) : name;
  }

  function reducedMotion() {
    return window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  }

  function languagesFor(data) {
    var langs = config.languages.slice();
    // The customer chose a language at the kiosk: say it in that one too, when we can.
    if (data.language && langs.indexOf(data.language) < 0 && config.supported_languages.indexOf(data.language) >= 0) {
      langs.push(data.language);
    }
    return langs;
  }

  // -- drawing --------------------------------------------------------------------------------------

  // The flash: light/dark inversion for FLASH_MS, blinking once a second; with reduced motion the same
  // inversion is held steady instead of blinking (the CSS picks which, see display.css).
  function flash(element) {
    if (!element) return;
    element.classList.remove("flash");
    void element.offsetWidth; // restart the animation
    element.classList.add("flash");
    clearTimeout(element.winsFlashTimer);
    element.winsFlashTimer = setTimeout(function () { element.classList.remove("flash"); }, FLASH_MS);
  }

  function showHero(call, doFlash) {
    $("hero-number").textContent = call ? call.number : "—";
    $("hero-counter").textContent = call ? counterLabel(call.counter_name) : "—";
    $("hero-service").textContent = call ? call.service_name || "" : "";
    if (doFlash && call) {
      flash($("hero"));
      flash(document.querySelector('.tile[data-counter="' + call.counter_id + '"]'));
      markLatest(call);
    }
  }

  function markLatest(call) {
    state.latest = { ticket_id: call.ticket_id, counter_id: call.counter_id, until: Date.now() + LATEST_MS };
    drawLatest();
    setTimeout(drawLatest, LATEST_MS + 50);
  }

  // The latest call keeps a marker (tile outline and tag, first row of the list) for LATEST_MS after its flash.
  function drawLatest() {
    var latest = state.latest && state.latest.until > Date.now() ? state.latest : null;
    Array.prototype.forEach.call(document.querySelectorAll(".tile"), function (tile) {
      var on = latest !== null && String(latest.counter_id) === tile.getAttribute("data-counter") &&
        !tile.classList.contains("idle");
      tile.classList.toggle("latest", on);
    });
    var first = $("recent").firstChild;
    if (first) first.classList.toggle("latest", latest !== null && state.recent[0] && state.recent[0].id === latest.ticket_id);
  }

  function rememberCall(data) {
    state.recent = state.recent.filter(function (c) { return c.id !== data.id; });
    state.recent.unshift(data);
    if (state.recent.length > config.history) state.recent.length = config.history;
    drawRecent();
  }

  function drawRecent() {
    var body = $("recent");
    while (body.firstChild) body.removeChild(body.firstChild);
    state.recent.forEach(function (c) {
      var tr = document.createElement("tr");
      if (c.status !== "called" && c.status !== "serving") tr.className = "gone";
      var a = document.createElement("td"); a.textContent = c.number;
      var b = document.createElement("td"); b.textContent = counterLabel(c.counter_name);
      tr.appendChild(a); tr.appendChild(b); body.appendChild(tr);
    });
    if (!busy) showHero(state.recent[0] ? heroOf(state.recent[0]) : null, false);
    drawLatest();
  }

  function heroOf(c) {
    return { ticket_id: c.id, number: c.number, counter_name: c.counter_name, service_name: c.service_name,
      counter_id: c.counter_id };
  }

  // Tiles sized to the number of counters: as few rows as fill a 16:9 board, the text scaled to the tile.
  function gridFor(n) {
    var cols = n <= 1 ? 1 : n <= 4 ? 2 : n <= 9 ? 3 : n <= 16 ? 4 : Math.ceil(Math.sqrt(n * 1.8));
    if (n === 3) cols = 3;
    return { cols: cols, rows: Math.max(1, Math.ceil(n / cols)) };
  }

  function drawCounters(snapshot) {
    var box = $("counters");
    while (box.firstChild) box.removeChild(box.firstChild);
    var shown = snapshot.counters.filter(function (c) {
      return c.active && !(config.counters.length && config.counters.indexOf(c.id) < 0);
    });
    var grid = gridFor(shown.length);
    box.style.setProperty("--cols", String(grid.cols));
    box.style.setProperty("--rows", String(grid.rows));
    shown.forEach(function (c) {
      var tile = document.createElement("div");
      var t = c.ticket && wanted(c.ticket) ? c.ticket : null;
      tile.className = "tile" + (t ? "" : c.is_open ? " idle" : " idle closed");
      tile.setAttribute("data-counter", c.id);
      var num = document.createElement("div"); num.className = "number";
      num.textContent = t ? t.number : c.is_open ? WORDS.open : WORDS.closed;
      var name = document.createElement("div"); name.className = "name"; name.textContent = counterLabel(c.name);
      var tag = document.createElement("div"); tag.className = "tag"; tag.textContent = WORDS.latest;
      tile.appendChild(num); tile.appendChild(name); tile.appendChild(tag); box.appendChild(tile);
    });
    drawLatest();
  }

  function drawWaiting(snapshot) {
    var foot = $("waiting");
    while (foot.firstChild) foot.removeChild(foot.firstChild);
    snapshot.services.forEach(function (s) {
      if (!s.active && !s.waiting_count) return; // stopped issuing: shown while its queue is still called
      if (config.services.length && config.services.indexOf(s.id) < 0) return;
      var span = document.createElement("span");
      span.className = "queue";
      var name = document.createElement("span"); name.className = "queue-name"; name.textContent = s.name;
      var count = document.createElement("span"); count.className = "queue-count";
      var parts = WORDS.waiting.split("{n}");
      count.appendChild(document.createTextNode(parts[0]));
      var b = document.createElement("b"); b.textContent = String(s.waiting_count);
      count.appendChild(b);
      count.appendChild(document.createTextNode(parts[1] || ""));
      span.appendChild(name); span.appendChild(count);
      foot.appendChild(span);
    });
  }

  function applySnapshot(snapshot) {
    state.snapshot = snapshot;
    state.serverOffset = Date.parse(snapshot.generated_at) - Date.now();
    var fresh = snapshot.recent_calls.filter(wanted).slice(0, config.history);
    // Keep calls the stream told us about that the snapshot may not include yet.
    state.recent.forEach(function (c) {
      if (!fresh.some(function (f) { return f.id === c.id; }) && fresh.length < config.history) fresh.push(c);
    });
    fresh.sort(function (a, b) { return Date.parse(b.called_at) - Date.parse(a.called_at); });
    state.recent = fresh.slice(0, config.history);
    drawRecent();
    drawCounters(snapshot);
    drawWaiting(snapshot);
  }

  // The branch's time, in the board's first language (the TV's own zone and locale may be anything).
  var clockFormat = (function () {
    try {
      return new Intl.DateTimeFormat(config.locale, { hour: "numeric", minute: "2-digit", timeZone: config.time_zone });
    } catch (e) {
      return new Intl.DateTimeFormat(config.locale, { hour: "numeric", minute: "2-digit" });
    }
  })();

  function tick() {
    var now = new Date(Date.now() + state.serverOffset);
    $("clock").textContent = clockFormat.format(now);
    $("clock").setAttribute("datetime", now.toISOString());
  }

  // -- announcements --------------------------------------------------------------------------------

  var player = new Audio();
  player.preload = "auto";

  function play(url) {
    return new Promise(function (resolve) {
      var done = false;
      var timer = setTimeout(function () { finish(false, "timeout"); }, PART_TIMEOUT_MS);
      function finish(ok, why) {
        if (done) return;
        done = true;
        clearTimeout(timer);
        player.onended = player.onerror = null;
        resolve({ ok: ok, why: why || "" });
      }
      player.onended = function () { finish(true); };
      player.onerror = function () { finish(false, "error"); };
      player.src = url;
      var p = player.play();
      if (p && p.catch) {
        p.catch(function (err) {
          if (err && err.name === "NotAllowedError") $("sound-gate").hidden = false;
          finish(false, err && err.name);
        });
      }
    });
  }

  function speakInBrowser(text, lang) {
    return new Promise(function (resolve) {
      if (!("speechSynthesis" in window) || typeof SpeechSynthesisUtterance === "undefined") {
        resolve({ ok: false, why: "no speechSynthesis" });
        return;
      }
      var done = false;
      var u = new SpeechSynthesisUtterance(text);
      u.lang = lang;
      var timer = setTimeout(function () { finish(false, "timeout"); }, PART_TIMEOUT_MS);
      function finish(ok, why) {
        if (done) return;
        done = true;
        clearTimeout(timer);
        u.onend = u.onerror = null;
        resolve({ ok: ok, why: why || "" });
      }
      u.onend = function () { finish(true); };
      u.onerror = function (e) { finish(false, e && e.error); };
      window.speechSynthesis.speak(u);
    });
  }

  function speechUrl(lang, number, counter) {
    return "/display/speech/" + encodeURIComponent(lang) + "/" + encodeURIComponent(number) + "/" +
      encodeURIComponent(counter) + ".wav";
  }

  function enqueue(event) {
    var d = event.data;
    var entry = {
      event_id: event.id, type: event.type, ticket_id: d.id, number: d.number, counter: d.counter_name,
      counter_id: d.counter_id, service_name: d.service_name, call_count: d.call_count,
      languages: languagesFor(d), queued_at: Date.now(), start: null, end: null, parts: []
    };
    while (queue.length >= MAX_QUEUE) {
      var skipped = queue.shift();
      skipped.skipped = true;
      pushLog(skipped);
    }
    queue.push(entry);
    pump();
  }

  function pushLog(entry) {
    log.push(entry);
    if (log.length > MAX_LOG) log.splice(0, log.length - MAX_LOG);
  }

  function pump() {
    if (busy || !queue.length) return;
    busy = true;
    var a = queue.shift();
    a.start = Date.now();
    pushLog(a);
    showHero({ ticket_id: a.ticket_id, number: a.number, counter_name: a.counter, service_name: a.service_name,
      counter_id: a.counter_id },
      true);
    var steps = Promise.resolve();
    steps = steps.then(function () {
      return play(config.chime_url).then(function (r) { a.parts.push({ kind: "chime", ok: r.ok, why: r.why }); });
    });
    if (config.speech) {
      a.languages.forEach(function (lang) {
        steps = steps.then(function () {
          return play(speechUrl(lang, a.number, a.counter)).then(function (r) {
            if (r.ok) { a.parts.push({ kind: "speech", lang: lang, via: "server", ok: true }); return null; }
            if (r.why === "NotAllowedError") { a.parts.push({ kind: "speech", lang: lang, via: "none", ok: false }); return null; }
            return speakInBrowser(phrase(lang, a.number, a.counter), lang).then(function (b) {
              a.parts.push({ kind: "speech", lang: lang, via: b.ok ? "browser" : "none", ok: b.ok, why: b.why });
            });
          });
        });
      });
    }
    steps.catch(function () { /* never block the queue */ }).then(function () {
      a.end = Date.now();
      busy = false;
      setTimeout(pump, 400); // a breath between two announcements
    });
  }

  $("sound-button").addEventListener("click", function () {
    $("sound-gate").hidden = true;
    player.muted = false;
    player.play().catch(function () {});
  });

  // -- events -----------------------------------------------------------------------------------------

  function markSeen(id) {
    seen.push(id);
    seenSet.add(id);
    if (seen.length > MAX_SEEN) seenSet.delete(seen.shift());
  }

  function handle(event) {
    if (event.id == null) return;
    if (state.lastId !== null && event.id <= state.lastId) return;
    state.lastId = event.id;
    try { sessionStorage.setItem("winsLastId", String(event.id)); } catch (e) { /* private mode */ }
    if (seenSet.has(event.id)) return;
    markSeen(event.id);
    var d = event.data || {};
    if ((event.type === "ticket.called" || event.type === "ticket.recalled") && wanted(d)) {
      rememberCall(d);
      var age = Date.now() + state.serverOffset - Date.parse(event.at);
      if (!(age > ANNOUNCE_MAX_AGE_MS)) enqueue(event);
    } else if (event.type.indexOf("ticket.") === 0) {
      state.recent.forEach(function (c) { if (c.id === d.id) c.status = d.status; });
    } else if (event.type === "branch.updated" || event.type === "service.remote_updated") {
      scheduleJoin(500); // remote join, its key requirement or a service's arrival check-in may have changed
    }
    scheduleSnapshot();
  }

  function scheduleSnapshot() {
    if (state.snapshotTimer) return;
    state.snapshotTimer = setTimeout(function () {
      state.snapshotTimer = null;
      fetchJson("/api/v1/queue").then(applySnapshot).catch(function () { /* the stream will reconnect */ });
    }, SNAPSHOT_DEBOUNCE_MS);
  }

  function fetchJson(url) {
    return WinsStream.request(url, { headers: { "Accept": "application/json" } }, 15000).then(function (r) {
      if (r.status === 401 || r.status === 403) { location.reload(); throw new Error("signed out"); }
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  function setConnected(ok) {
    state.live = ok;
    $("conn").hidden = ok;
    document.body.classList.toggle("offline", !ok);
  }

  // A one-time ticket for the socket, bought with the HttpOnly pairing cookie (or a manager's session): no
  // token ever goes in the socket's URL. 401/403: the display was revoked (or the session ended).
  function streamTicket() {
    var headers = { "X-Requested-With": "wins-display", "Accept": "application/json" };
    if (config.csrf) headers["X-CSRF-Token"] = config.csrf;
    return WinsStream.request("/display/stream-ticket", { method: "POST", headers: headers }, 15000)
      .then(function (r) {
        if (!r.ok) throw { status: r.status };
        return r.json();
      }).then(function (body) { return body.ticket; });
  }

  function follow() {
    state.stream = WinsStream.follow({
      since: state.lastId,
      ticket: streamTicket,
      onEvents: function (events) { events.forEach(handle); },
      onState: function (s) { setConnected(s === "live"); },
      onReconnect: scheduleSnapshot, // the board is redrawn from a fresh snapshot; the calls replay by id
      // Revoked (or the manager's session ended): reload, and the server says "Display not paired".
      onEnded: function () { setConnected(false); location.reload(); }
    });
  }

  function start() {
    fetchJson("/api/v1/queue").then(function (snapshot) {
      // First start, or a stored id from another database (restored backup, new install): start from now.
      if (state.lastId === null || state.lastId > snapshot.last_event_id) state.lastId = snapshot.last_event_id;
      applySnapshot(snapshot);
      follow();
    }).catch(function () {
      setConnected(false);
      setTimeout(start, 3000 * (0.75 + Math.random() / 2));
    });
  }

  // -- the join QR code --------------------------------------------------------------------------------
  // The branch's join link (GET /api/v1/join/link): drawn when remote join is on, with the rotating key's short
  // code when one is required. Fetched again when the key expires, when the branch's settings change (the
  // branch.updated event) and every minute. A failed fetch keeps the code shown until it expires; an expired
  // code is hidden rather than left up to be refused.

  var JOIN_POLL_MS = 60000;
  var join = { link: null, timer: null };

  function drawJoin() {
    var link = join.link;
    var expired = link && link.expires_at && Date.parse(link.expires_at) <= Date.now() + state.serverOffset;
    var shown = !!(link && link.offered && !expired);
    document.body.classList.toggle("with-join", shown);
    if (!shown) { $("join").hidden = true; return; }
    if ($("join-qr").getAttribute("src") !== link.qr) $("join-qr").setAttribute("src", link.qr);
    $("join-page").textContent = link.url.split("?")[0].replace(/^https?:\/\//, "");
    $("join-code").textContent = link.code || "";
    $("join-code-box").hidden = !link.code;
    $("join").hidden = false;
  }

  function scheduleJoin(ms) {
    clearTimeout(join.timer);
    join.timer = setTimeout(refreshJoin, Math.max(1000, ms));
  }

  function refreshJoin() {
    WinsStream.request("/api/v1/join/link", { headers: { "Accept": "application/json" } }, 15000).then(function (r) {
      if (r.status === 403 || r.status === 404) return { offered: false };
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (link) {
      join.link = link;
      drawJoin();
      var next = JOIN_POLL_MS;
      if (link.expires_at) next = Math.min(next, Date.parse(link.expires_at) - Date.now() - state.serverOffset + 500);
      scheduleJoin(next);
    }).catch(function () {
      drawJoin(); // keeps the last code until it expires, then hides it
      scheduleJoin(15000 * (0.75 + Math.random() / 2));
    });
  }
  window.winsDisplay.join = join;

  // -- configuration changes and start ----------------------------------------------------------------

  function watchConfig() {
    WinsStream.request("/display/config", {}, 15000).then(function (r) {
      if (r.status === 401) { location.reload(); return null; }
      return r.ok ? r.json() : null;
    }).then(function (fresh) {
      if (fresh && fresh.version !== config.version && !busy && !queue.length) location.reload();
    }).catch(function () {});
  }

  try {
    var stored = parseInt(sessionStorage.getItem("winsLastId") || "", 10);
    if (stored > 0) state.lastId = stored; // a reload resumes where the page left off
  } catch (e) { /* private mode */ }
  setConnected(false);
  tick();
  setInterval(tick, 10000);
  setInterval(watchConfig, 60000);
  setInterval(drawJoin, 5000);
  refreshJoin();
  start();
})();
