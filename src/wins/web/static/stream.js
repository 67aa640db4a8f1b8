/* WINS staff pages: talk to the REST API with the session cookie + CSRF header, and follow the event stream.
 *
 * The stream is a WebSocket (/api/v1/events/ws?since=ID&ticket=TICKET); the one-time ticket is fetched
 * (session cookie + CSRF header) right before every connect, so no token of the session is ever in a URL.
 * If the socket never opens (a proxy without WebSocket support), it falls back to long-polling
 * GET /api/v1/events. Either way, after a drop it reconnects by itself with growing pauses and asks for
 * everything since the last event id it saw, so nothing is missed. Close code 4401 means the sign-in ended
 * (signed out, password changed, account deactivated): the page says so and stops reconnecting.
 */
"use strict";

window.Wins = (function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  async function api(method, path, body) {
    const headers = { "Accept": "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = csrf;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method, headers, credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      return { ok: false, status: 0, data: null,
               message: "Could not reach the server. Check the network; the page will reconnect by itself." };
    }
    let data = null;
    if (response.status !== 204) {
      try { data = await response.json(); } catch (err) { data = null; }
    }
    let message = "";
    if (!response.ok) {
      const detail = data && data.detail;
      message = typeof detail === "string" ? detail
        : Array.isArray(detail) ? detail.map((d) => d.msg).join("; ")
        : `The server answered ${response.status}.`;
      if (response.status === 401) message = "Your sign-in has ended. Reload the page to sign in again.";
    }
    return { ok: response.ok, status: response.status, data, message };
  }

  /* follow({since, onEvents, onState}) — onState(state, text): state is "live", "connecting", "lost" or "ended". */
  function follow(options) {
    let lastId = options.since;
    let socketEverOpened = false;
    let socketFailures = 0;
    let longPoll = false;
    let delay = 500;
    let stopped = false;

    const setState = (state, text) => options.onState && options.onState(state, text);
    const deliver = (events) => {
      const fresh = events.filter((e) => typeof e.id === "number" && (lastId === null || e.id > lastId));
      if (!fresh.length) return;
      lastId = fresh[fresh.length - 1].id;
      options.onEvents(fresh);
    };
    let refusals = 0; // 4401 closes in a row
    const signedOut = () => {
      stopped = true;
      setState("ended", "Signed out — reload the page to sign in again");
    };
    const retry = (why) => {
      if (stopped) return;
      setState("lost", why || "Connection lost — reconnecting…");
      const wait = delay;
      delay = Math.min(delay * 2, 8000);
      setTimeout(connect, wait);
    };

    async function connect() {
      if (stopped) return;
      if (longPoll) return poll();
      setState("connecting", "Connecting…");
      const r = await api("POST", "/api/v1/events/tickets");
      if (r.status === 401 || r.status === 403) return signedOut();
      if (!r.ok) return retry();
      const ticket = r.data.ticket;
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const since = lastId === null ? "" : `since=${lastId}&`;
      const socket = new WebSocket(`${scheme}//${location.host}/api/v1/events/ws?${since}ticket=${encodeURIComponent(ticket)}`);
      let opened = false;
      socket.onopen = () => {
        opened = true;
        socketEverOpened = true;
        socketFailures = 0;
        delay = 500;
        setState("live", "Live");
        if (options.onReconnect) options.onReconnect();
      };
      socket.onmessage = (message) => {
        let event;
        try { event = JSON.parse(message.data); } catch (err) { return; }
        if (event.type === "hello") {
          if (lastId === null) lastId = event.last_id;
          return;
        }
        if (event.type === "ping") return;
        deliver([event]);
      };
      socket.onclose = (closing) => {
        // 4401: the sign-in ended (or the ticket did not work): the next ticket request tells which, at once.
        if (closing.code === 4401 && ++refusals < 3) return connect();
        if (closing.code === 4401 || closing.code === 4403) return signedOut();
        if (closing.code === 4429 || closing.code === 1013) return retry("Too many live connections — retrying…");
        if (opened) refusals = 0;
        if (!opened && !socketEverOpened && ++socketFailures >= 3) {
          longPoll = true; // this network does not pass WebSockets: long-poll instead
        }
        retry();
      };
    }

    async function poll() {
      setState(delay > 500 ? "connecting" : "live", delay > 500 ? "Connecting…" : "Live (polling)");
      while (!stopped) {
        const since = lastId === null ? "" : `since=${lastId}&`;
        const r = await api("GET", `/api/v1/events?${since}timeout=25`);
        if (r.status === 401) return signedOut();
        if (!r.ok) return retry();
        if (delay > 500) {
          delay = 500;
          if (options.onReconnect) options.onReconnect();
        }
        setState("live", "Live (polling)");
        if (lastId === null) lastId = r.data.last_id;
        deliver(r.data.events);
      }
    }

    connect();
    return { stop() { stopped = true; }, get lastId() { return lastId; } };
  }

  function indicator(element) {
    return (state, text) => {
      element.className = `conn conn-${state}`;
      element.textContent = text;
    };
  }

  return { api, follow, indicator, csrf };
})();
