/* WINS event-stream client, shared by the staff pages, the display board and the customer's phone.
 *
 * WinsStream.follow(options) follows the server's events and says honestly whether it is live:
 *  - WebSocket (/api/v1/events/ws?since=ID&ticket=TICKET), the one-time connect ticket fetched right before every
 *    connect (options.ticket), so no token is ever in a URL (docs/security.md, "Event stream");
 *  - long-poll when the socket never opens (a proxy without WebSocket support), or when the page has no socket
 *    at all (the phone: options.ticket absent, options.pollUrl its own long-poll);
 *  - after a drop it reconnects by itself with growing pauses and asks for everything since the last event id it
 *    saw, so nothing is missed;
 *  - a dead-link watchdog: the server pings a quiet socket every `heartbeat` seconds (its hello says how often);
 *    a socket silent for 2.25 times that is taken as dead (a Wi-Fi drop leaves no close behind), and every
 *    request has a timeout, so no page says "Live" over a stale queue for longer than that.
 *
 * window.Wins (staff pages: api, follow, indicator, csrf) is the staff flavour: REST with the session cookie and
 * CSRF header, tickets from POST /api/v1/events/tickets. Close code 4401 means the sign-in ended (signed out,
 * password changed, account deactivated): the page says so and stops reconnecting.
 */
"use strict";

window.WinsStream = (function () {
  var TEXTS = {
    live: "Live",
    polling: "Live (polling)",
    connecting: "Connecting…",
    lost: "Connection lost — reconnecting…",
    busy: "Too many live connections — retrying…",
    ended: "Signed out — reload the page to sign in again"
  };

  /* fetch with a timeout: a request on a dead link fails after `timeoutMs` instead of hanging for minutes. */
  function request(url, init, timeoutMs) {
    var ctrl = typeof AbortController !== "undefined" ? new AbortController() : null;
    var timer = ctrl ? setTimeout(function () { ctrl.abort(); }, timeoutMs || 15000) : null;
    var options = Object.assign({ cache: "no-store", credentials: "same-origin" }, init || {});
    if (ctrl) options.signal = ctrl.signal;
    return fetch(url, options).then(function (response) {
      if (timer) clearTimeout(timer);
      return response;
    }, function (err) {
      if (timer) clearTimeout(timer);
      throw err;
    });
  }

  /* follow({since, ticket, pollUrl, pollSeconds, read, headers, onEvents, onState, onReconnect, onEnded, texts,
   *         requestTimeoutMs})
   *  since        last event id the page has (null: from now)
   *  ticket()     Promise of a one-time connect ticket; rejects with {status} (401/403: sign-in ended).
   *               Absent: long-poll only.
   *  pollUrl(since, seconds)  long-poll address (default GET /api/v1/events)
   *  read(body)   {events, lastId} from a long-poll answer (default: body.events, body.last_id)
   *  onState(state, text): state is "live", "connecting", "lost" or "ended".
   *  onEnded(status): the sign-in (or the page's key) is gone; default: state "ended". Nothing reconnects after.
   */
  function follow(o) {
    var texts = Object.assign({}, TEXTS, o.texts || {});
    var timeoutMs = o.requestTimeoutMs || 15000;
    var pollSeconds = o.pollSeconds || 25;
    var lastId = o.since == null ? null : o.since;
    var socketEverOpened = false;
    var socketFailures = 0;
    var longPoll = !o.ticket;
    var delay = 500;
    var stopped = false;
    var generation = 0; // bumps on every (re)connection: callbacks of an older one do nothing
    var state = null;
    var refusals = 0; // 4401 closes in a row
    var watchdog = null;
    var socket = null;
    var everLive = false;
    var handle = {
      stop: function () { stopped = true; generation++; clearTimeout(watchdog); if (socket) socket.close(); },
      get lastId() { return lastId; },
      get state() { return state; },
      get transport() { return longPoll ? "poll" : "ws"; }
    };

    function setState(next, text) {
      state = next;
      if (o.onState) o.onState(next, text);
    }
    function deliver(events) {
      var fresh = events.filter(function (e) { return typeof e.id === "number" && (lastId === null || e.id > lastId); });
      if (!fresh.length) return;
      lastId = fresh[fresh.length - 1].id;
      if (o.onEvents) o.onEvents(fresh);
    }
    function live(text) {
      var back = everLive;
      everLive = true;
      delay = 500;
      setState("live", text);
      if (back && o.onReconnect) o.onReconnect(); // the page re-reads what a snapshot shows; events replay by id
    }
    function ended(status) {
      stopped = true;
      generation++;
      clearTimeout(watchdog);
      if (o.onEnded) o.onEnded(status);
      else setState("ended", texts.ended);
    }
    function retry(gen, why) {
      if (stopped || gen !== generation) return;
      generation++;
      clearTimeout(watchdog);
      setState("lost", why || texts.lost);
      var wait = delay * (0.75 + Math.random() / 2);
      delay = Math.min(delay * 2, 8000);
      setTimeout(connect, wait);
    }

    function connect() {
      if (stopped) return;
      var gen = ++generation;
      if (longPoll) { poll(gen); return; }
      if (state !== "lost") setState("connecting", texts.connecting);
      Promise.resolve().then(o.ticket).then(function (ticket) {
        if (gen === generation) openSocket(gen, ticket);
      }, function (err) {
        if (gen !== generation) return;
        if (err && (err.status === 401 || err.status === 403)) ended(err.status);
        else retry(gen);
      });
    }

    function openSocket(gen, ticket) {
      var scheme = location.protocol === "https:" ? "wss:" : "ws:";
      var since = lastId === null ? "" : "since=" + lastId + "&";
      var ws;
      try {
        ws = new WebSocket(scheme + "//" + location.host + "/api/v1/events/ws?" + since + "ticket=" +
          encodeURIComponent(ticket));
      } catch (err) { longPoll = true; retry(gen); return; }
      socket = ws;
      var opened = false;
      var silenceMs = timeoutMs; // until the hello says how often the server pings
      var dead = function () {
        // No word from the server for too long: the link is dead even if no close ever arrives. Give up on
        // this socket at once (its close handshake may never complete) and reconnect.
        if (gen !== generation) return;
        ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
        try { ws.close(); } catch (err) { /* already closing */ }
        if (!opened) socketFailed();
        retry(gen);
      };
      var feed = function () { clearTimeout(watchdog); watchdog = setTimeout(dead, silenceMs); };
      feed();
      ws.onopen = function () {
        if (gen !== generation) return;
        opened = true;
        socketEverOpened = true;
        socketFailures = 0;
        feed();
      };
      ws.onmessage = function (message) {
        if (gen !== generation) return;
        var event;
        try { event = JSON.parse(message.data); } catch (err) { return; }
        if (event.type === "hello") {
          silenceMs = Math.max(2000, (event.heartbeat || 20) * 2250);
          feed();
          if (lastId === null) lastId = event.last_id;
          refusals = 0;
          live(texts.live); // the server answered: the socket is really through
          return;
        }
        feed();
        if (event.type === "ping") return;
        deliver([event]);
      };
      ws.onclose = function (closing) {
        if (gen !== generation) return;
        clearTimeout(watchdog);
        socket = null;
        // 4401: the sign-in ended (or the ticket did not work): the next ticket request tells which, at once.
        if (closing.code === 4401 && ++refusals < 3) { generation++; connect(); return; }
        if (closing.code === 4401 || closing.code === 4403) { ended(closing.code === 4401 ? 401 : 403); return; }
        if (closing.code === 4429 || closing.code === 1013) { retry(gen, texts.busy); return; }
        if (!opened) socketFailed();
        retry(gen);
      };
      ws.onerror = function () { /* onclose follows */ };
    }

    function socketFailed() {
      // This network does not pass WebSockets (three tries, never one open): long-poll instead.
      if (!socketEverOpened && ++socketFailures >= 3) longPoll = true;
    }

    function poll(gen) {
      if (stopped || gen !== generation) return;
      if (state === null) setState("connecting", texts.connecting);
      var url = o.pollUrl ? o.pollUrl(lastId, pollSeconds)
        : "/api/v1/events?" + (lastId === null ? "" : "since=" + lastId + "&") + "timeout=" + pollSeconds;
      // The server answers within pollSeconds; a request still open well after that is on a dead link.
      request(url, { headers: Object.assign({ "Accept": "application/json" }, o.headers || {}) },
        pollSeconds * 1000 + timeoutMs).then(function (response) {
        if (gen !== generation) return null;
        if (response.status === 401 || response.status === 403 || response.status === 404) {
          ended(response.status);
          return null;
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json().then(function (body) {
          if (gen !== generation || stopped) return;
          var batch = o.read ? o.read(body) : { events: body.events, lastId: body.last_id };
          if (state !== "live") live(texts.polling);
          if (lastId === null && batch.lastId != null) lastId = batch.lastId;
          deliver(batch.events || []);
          if (batch.lastId != null && (lastId === null || batch.lastId > lastId)) lastId = batch.lastId;
          setTimeout(function () { poll(gen); }, 50);
        });
      }).catch(function () { retry(gen); });
    }

    connect();
    return handle;
  }

  return { follow: follow, request: request, texts: TEXTS };
})();

window.Wins = (function () {
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.content : "";

  async function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = csrf;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    var response;
    try {
      response = await WinsStream.request(path, {
        method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body)
      }, 15000);
    } catch (err) {
      return { ok: false, status: 0, data: null,
               message: "Could not reach the server. Check the network; the page will reconnect by itself." };
    }
    var data = null;
    if (response.status !== 204) {
      try { data = await response.json(); } catch (err) { data = null; }
    }
    var message = "";
    if (!response.ok) {
      var detail = data && data.detail;
      message = typeof detail === "string" ? detail
        : Array.isArray(detail) ? detail.map(function (d) { return d.msg; }).join("; ")
        : "The server answered " + response.status + ".";
      if (response.status === 401) message = "Your sign-in has ended. Reload the page to sign in again.";
    }
    return { ok: response.ok, status: response.status, data: data, message: message };
  }

  /* follow({since, onEvents, onState, onReconnect}) — the staff pages' stream (WinsStream.follow with the
   * session's connect tickets). onState(state, text): "live", "connecting", "lost" or "ended". */
  function follow(options) {
    return WinsStream.follow(Object.assign({}, options, {
      ticket: function () {
        return api("POST", "/api/v1/events/tickets").then(function (r) {
          if (!r.ok) throw { status: r.status };
          return r.data.ticket;
        });
      }
    }));
  }

  function indicator(element) {
    return function (state, text) {
      element.className = "conn conn-" + state;
      element.textContent = text;
    };
  }

  return { api: api, follow: follow, indicator: indicator, csrf: csrf };
})();
