/* WINS waiting-room display.
 *
 * Follows the event stream and announces every call and recall: a flash, a chime, then the spoken sentence
 * in each language (server WAV by espeak-ng, the browser's speech synthesis as fallback, chime only as last
 * resort). Announcements queue: each one starts when the previous one's audio has ended.
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
  var WS_SILENCE_MS = 50000; // the server pings every 20 s; silence this long means a dead link
  var SNAPSHOT_DEBOUNCE_MS = 1500;

  var PHRASES = {
    en: ["Ticket {number}, counter {counter}", "Ticket {number}, {counter}"],
    fr: ["Ticket {number}, guichet {counter}", "Ticket {number}, {counter}"],
    de: ["Nummer {number}, Schalter {counter}", "Nummer {number}, {counter}"],
    es: ["Turno {number}, ventanilla {counter}", "Turno {number}, {counter}"],
    it: ["Numero {number}, sportello {counter}", "Numero {number}, {counter}"],
    nl: ["Nummer {number}, balie {counter}", "Nummer {number}, {counter}"],
    pt: ["Senha {number}, balcão {counter}", "Senha {number}, {counter}"]
  };

  var state = {
    lastId: null,
    snapshot: null,
    recent: [], // calls shown in the list, newest first, capped at config.history
    serverOffset: 0, // server clock minus browser clock, from the snapshot
    socket: null,
    failures: 0,
    wsFailures: 0,
    useLongPoll: false,
    reconnectTimer: null,
    snapshotTimer: null,
    watchdog: null,
    generation: 0 // bumps on every (re)connection so stale callbacks of an old one do nothing
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
    var forms = PHRASES[lang] || PHRASES.en;
    var form = /^\d+[A-Za-z]?$/.test(counter) ? forms[0] : forms[1];
    return form.replace("{number}", spokenNumber(number)).replace("{counter}", counter);
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

  function showHero(call, flash) {
    $("hero-number").textContent = call ? call.number : "—";
    $("hero-counter").textContent = call ? call.counter_name || "" : "—";
    $("hero-service").textContent = call ? call.service_name || "" : "";
    if (flash) {
      var hero = $("hero");
      hero.classList.remove("flash");
      void hero.offsetWidth; // restart the animation
      hero.classList.add("flash");
      hero.addEventListener("animationend", function () { hero.classList.remove("flash"); }, { once: true });
      var tile = document.querySelector('.tile[data-counter="' + call.counter_id + '"]');
      if (tile) { tile.classList.remove("flash"); void tile.offsetWidth; tile.classList.add("flash"); }
    }
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
    state.recent.forEach(function (c, i) {
      var tr = document.createElement("tr");
      if (i === 0) tr.className = "fresh";
      else if (c.status !== "called" && c.status !== "serving") tr.className = "gone";
      var a = document.createElement("td"); a.textContent = c.number;
      var b = document.createElement("td"); b.textContent = c.counter_name || "";
      tr.appendChild(a); tr.appendChild(b); body.appendChild(tr);
    });
    if (!busy) showHero(state.recent[0] || null, false);
  }

  function drawCounters(snapshot) {
    var box = $("counters");
    while (box.firstChild) box.removeChild(box.firstChild);
    snapshot.counters.forEach(function (c) {
      if (config.counters.length && config.counters.indexOf(c.id) < 0) return;
      if (!c.active) return;
      var tile = document.createElement("div");
      var t = c.ticket && wanted(c.ticket) ? c.ticket : null;
      tile.className = "tile" + (t ? "" : " idle");
      tile.setAttribute("data-counter", c.id);
      var name = document.createElement("div"); name.className = "name"; name.textContent = c.name;
      var num = document.createElement("div"); num.className = "number"; num.textContent = t ? t.number : "—";
      tile.appendChild(name); tile.appendChild(num); box.appendChild(tile);
    });
  }

  function drawWaiting(snapshot) {
    var foot = $("waiting");
    while (foot.firstChild) foot.removeChild(foot.firstChild);
    snapshot.services.forEach(function (s) {
      if (!s.active && !s.waiting_count) return; // stopped issuing: shown while its queue is still called
      if (config.services.length && config.services.indexOf(s.id) < 0) return;
      var span = document.createElement("span");
      var b = document.createElement("b"); b.textContent = String(s.waiting_count);
      span.appendChild(document.createTextNode(s.name + ": "));
      span.appendChild(b);
      span.appendChild(document.createTextNode(" waiting"));
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

  function tick() {
    var now = new Date(Date.now() + state.serverOffset);
    $("clock").textContent = now.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
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
    showHero({ number: a.number, counter_name: a.counter, service_name: a.service_name, counter_id: a.counter_id },
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

  function fetchJson(url, timeoutMs) {
    var ctrl = typeof AbortController !== "undefined" ? new AbortController() : null;
    var timer = ctrl ? setTimeout(function () { ctrl.abort(); }, timeoutMs || 15000) : null;
    return fetch(url, { headers: AUTH, cache: "no-store", credentials: "same-origin",
      signal: ctrl ? ctrl.signal : undefined })
      .then(function (r) {
        if (timer) clearTimeout(timer);
        if (r.status === 401 || r.status === 403) { location.reload(); throw new Error("signed out"); }
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      }, function (err) { if (timer) clearTimeout(timer); throw err; });
  }

  function setConnected(ok) {
    $("conn").hidden = ok;
    document.body.classList.toggle("offline", !ok);
  }

  function connect() {
    var gen = ++state.generation;
    state.reconnectTimer = null;
    fetchJson("/api/v1/queue").then(function (snapshot) {
      if (gen !== state.generation) return;
      // First start, or a stored id from another database (restored backup, new install): start from now.
      if (state.lastId === null || state.lastId > snapshot.last_event_id) state.lastId = snapshot.last_event_id;
      applySnapshot(snapshot);
      if (state.useLongPoll) { longPoll(gen); return null; }
      return streamTicket().then(function (ticket) { if (gen === state.generation) openSocket(gen, ticket); });
    }).catch(function () { retry(gen); });
  }

  function retry(gen) {
    if (gen !== state.generation || state.reconnectTimer) return;
    setConnected(false);
    state.failures += 1;
    // Back off to one try every ~8 s: quick to come back after a restart, light on a server that struggles.
    var delay = Math.min(8000, 500 * Math.pow(2, Math.min(state.failures, 4))) * (0.75 + Math.random() / 2);
    state.reconnectTimer = setTimeout(connect, delay);
  }

  // A one-time ticket for the socket, bought with the HttpOnly pairing cookie (or a manager's session): no
  // token ever goes in the socket's URL. 401/403: the display was revoked (or the session ended), so the
  // page reloads and the server shows "Display not paired".
  function streamTicket() {
    var headers = { "X-Requested-With": "wins-display", "Accept": "application/json" };
    if (config.csrf) headers["X-CSRF-Token"] = config.csrf;
    return fetch("/display/stream-ticket", { method: "POST", headers: headers, credentials: "same-origin",
      cache: "no-store" }).then(function (r) {
      if (r.status === 401 || r.status === 403) { location.reload(); throw new Error("not paired"); }
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (body) { return body.ticket; });
  }

  function openSocket(gen, ticket) {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var url = proto + location.host + "/api/v1/events/ws?since=" + state.lastId + "&ticket=" +
      encodeURIComponent(ticket);
    var ws, opened = false;
    try { ws = new WebSocket(url); } catch (e) { state.useLongPoll = true; retry(gen); return; }
    state.socket = ws;
    var resetWatchdog = function () {
      clearTimeout(state.watchdog);
      state.watchdog = setTimeout(function () { ws.close(); }, WS_SILENCE_MS);
    };
    ws.onopen = function () {
      opened = true;
      state.failures = 0;
      state.wsFailures = 0;
      setConnected(true);
      resetWatchdog();
    };
    ws.onmessage = function (msg) {
      if (gen !== state.generation) return;
      resetWatchdog();
      var event;
      try { event = JSON.parse(msg.data); } catch (e) { return; }
      if (event.type === "hello" || event.type === "ping") return;
      handle(event);
    };
    ws.onclose = function (closing) {
      clearTimeout(state.watchdog);
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      if (state.socket === ws) state.socket = null;
      if (gen !== state.generation) return;
      // 4401: revoked, or the ticket did not work. Ask for a new ticket at once: a 401 there reloads the page
      // into "Display not paired"; otherwise the board simply reconnects.
      if (closing.code === 4401 || closing.code === 4403) {
        setConnected(false);
        streamTicket().then(function () { retry(gen); }, function () { retry(gen); });
        return;
      }
      if (!opened && ++state.wsFailures >= 3) state.useLongPoll = true; // a proxy that blocks WebSockets
      retry(gen);
    };
    ws.onerror = function () { /* onclose follows */ };
  }

  function longPoll(gen) {
    if (gen !== state.generation) return;
    fetchJson("/api/v1/events?since=" + state.lastId + "&timeout=25", 40000).then(function (batch) {
      if (gen !== state.generation) return;
      state.failures = 0;
      setConnected(true);
      batch.events.forEach(handle);
      longPoll(gen);
    }).catch(function () { retry(gen); });
  }

  // -- configuration changes and start ----------------------------------------------------------------

  function watchConfig() {
    fetch("/display/config", { cache: "no-store", credentials: "same-origin" }).then(function (r) {
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
  tick();
  setInterval(tick, 10000);
  setInterval(watchConfig, 60000);
  connect();
})();
