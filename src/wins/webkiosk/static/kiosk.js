/* The web kiosk: the Kivy kiosk's screens and behaviour (wins_kiosk.state) for a tablet.
 *
 * It talks to the same REST API as the Kivy kiosk, with the same words, keys and timeouts (they come from the
 * server in #kiosk-config). A tap gets a new Idempotency-Key, and every retry of that tap (Wi-Fi drop) sends
 * the same key, so the customer gets one ticket however the network behaves. The server prints the slip.
 */
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("kiosk-config").textContent);
  const $ = (id) => document.getElementById(id);

  // Keys as the browser names them -> the names the Kivy kiosk uses (config.keys maps those to actions).
  const BROWSER_KEYS = {
    Tab: "tab", ArrowDown: "down", ArrowRight: "right", ArrowUp: "up", ArrowLeft: "left", Enter: "enter",
    " ": "spacebar", F1: "f1", F2: "f2", r: "r", R: "r", "+": "+", "=": "=", "-": "-", F9: "f9", h: "h", H: "h",
    Escape: "escape", Backspace: "backspace",
  };
  const RETRY_PAUSES = [300, 1000, 2000, 3000, 5000]; // then every 5 s
  const RESULT_MIN_MS = 1500;

  const state = {
    screen: "unavailable",
    online: false,
    language: config.default_language,
    big: false,
    branch: null,
    services: [],
    serving: [],
    categories: [],
    stopped: [], // services that stopped issuing (shown, not tappable)
    priority: null, // the chosen category
    ticket: null,
    print: "none", // none, printing, printed, failed
    printMessage: "",
    pending: null, // {serviceId, key, category, language}
    notice: null,
    issuing: false,
    help: null, // sending, sent, acknowledged, failed
    warning: false,
    speech: false,
    volume: 70,
    keysUsed: false,
    lastTouch: Date.now(),
    resultUntil: Infinity,
    resultShownAt: 0,
    lastEventId: null,
    announceTicket: null,
    lastSpoken: "",
  };

  // -- words --------------------------------------------------------------------------------------------
  function t(key, values) {
    const table = config.texts[state.language] || config.texts[config.default_language];
    let text = table[key] || config.texts[config.default_language][key] || key;
    for (const [k, v] of Object.entries(values || {})) text = text.split(`{${k}}`).join(String(v));
    return text;
  }
  function sentences(...parts) {
    return parts.map((p) => String(p || "").trim()).filter(Boolean)
      .map((p) => (/[.!?…:]$/.test(p) ? p : p + ".")).join(" ");
  }
  function spokenNumber(number) {
    const m = /^([A-Za-z]{0,4})0*([0-9]{1,5})$/.exec(String(number).trim());
    if (!m) return String(number).split("").join(" ");
    return [...m[1].toUpperCase().split(""), String(Number(m[2]))].join(" ");
  }
  function peopleAhead(n) {
    return n === 0 ? t("people_ahead_0") : n === 1 ? t("people_ahead_1") : t("people_ahead_n", { n });
  }
  // The server's words for the wait (one wording for kiosk, slip and phone: wins/wait_text.py).
  function waitText(tk) {
    const range = tk.estimated_wait_range || [0, 0];
    if (!(range[1] > 0)) return t("wait_none");
    return t("wait", { wait: tk.estimated_wait_text || `${Math.floor(range[0] / 60)}–${Math.ceil(range[1] / 60)} min` });
  }
  function categoryLabel(c) {
    if (c.label && typeof c.label === "object") return c.label[state.language] || c.label.en || Object.values(c.label)[0] || c.key;
    return c.label || c.key;
  }

  // -- speech (the browser's own voices; works offline on iPad and Android) ----------------------------------
  const synth = window.speechSynthesis || null;
  function say(text) {
    if (!state.speech || !text) return;
    state.lastSpoken = text;
    document.body.dataset.spoken = text; // what was said, for tests and for a sighted helper with the inspector
    if (!synth) return;
    synth.cancel(); // a new utterance stops the old one
    const u = new SpeechSynthesisUtterance(text);
    u.lang = state.language;
    u.volume = state.volume / 100;
    u.rate = 0.95;
    synth.speak(u);
  }

  // -- server -------------------------------------------------------------------------------------------------
  async function api(method, path, body, extraHeaders) {
    // The tablet's HttpOnly pairing cookie signs the request in; this header (which a page of another site
    // cannot send) lets the server accept that cookie for changes too. No token is in this page.
    const headers = { Accept: "application/json", "X-Requested-With": "wins-kiosk", ...(extraHeaders || {}) };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method, headers, cache: "no-store", credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      return { ok: false, status: 0, data: null };
    }
    let data = null;
    try { data = await response.json(); } catch (err) { data = null; }
    return { ok: response.ok, status: response.status, data };
  }
  const unreachable = (r) => r.status === 0 || r.status >= 500 || r.status === 429;

  async function load() {
    const [branch, services, queue, setup] = await Promise.all([
      api("GET", "/api/v1/branch"),
      api("GET", "/api/v1/services"), // archived ones are left out; the stopped ones are shown as not issuing
      api("GET", "/api/v1/queue"),
      api("GET", "/api/v1/devices/me/kiosk"),
    ]);
    if (!branch.ok || !services.ok || !queue.ok) {
      if ([branch, services, queue].some((r) => r.status === 401)) location.reload(); // token revoked: show why
      return false;
    }
    state.branch = branch.data;
    state.services = services.data.filter((s) => s.active !== false);
    state.stopped = services.data.filter((s) => s.active === false && !s.archived);
    applyQueue(queue.data);
    if (setup.ok) state.categories = (setup.data.priority_categories || []).filter((c) => c && c.key);
    return true;
  }

  function applyQueue(queue) {
    const held = [];
    for (const c of queue.counters || []) {
      if (c.ticket) held.push({ number: c.ticket.number, counter: c.name, at: c.ticket.called_at || "" });
    }
    held.sort((a, b) => (a.at < b.at ? 1 : -1));
    state.serving = held.slice(0, 4);
    if (state.lastEventId === null) state.lastEventId = queue.last_event_id || 0;
  }

  let refreshTimer = null;
  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(async () => { if (await load()) render(); }, 200);
  }

  async function followEvents() {
    // Long-poll: works through any proxy, resumes from the last event seen after a drop.
    for (;;) {
      if (!state.online) { await pause(1000); continue; }
      const since = state.lastEventId === null ? "" : `&since=${state.lastEventId}`;
      const r = await api("GET", `/api/v1/events?timeout=20${since}`);
      if (!r.ok) { await pause(2000); checkHealth(); continue; }
      state.lastEventId = r.data.last_id;
      let stale = false;
      for (const e of r.data.events) {
        hear(e);
        const kind = e.type.split(".")[0];
        if (["ticket", "counter", "service", "branch"].includes(kind)) stale = true;
      }
      if (stale) refreshSoon();
    }
  }

  function hear(e) {
    if (e.type === "device.help_acknowledged" && e.data.device_id === config.device_id && state.help) {
      state.help = "acknowledged";
      render();
    } else if ((e.type === "ticket.called" || e.type === "ticket.recalled") && e.data.id === state.announceTicket) {
      say(sentences(t("speech_called", { number: spokenNumber(e.data.number), counter: t("counter", { counter: e.data.counter_name }) })));
    }
  }

  let healthBusy = false;
  async function checkHealth() {
    if (healthBusy) return;
    healthBusy = true;
    try {
      let ok = false;
      try {
        const r = await fetch("/health", { cache: "no-store" });
        ok = r.ok;
      } catch (err) { ok = false; }
      if (ok && !state.online) ok = await load();
      if (ok !== state.online) {
        state.online = ok;
        if (!ok && ["start", "priority"].includes(state.screen)) state.screen = "unavailable";
        if (ok && state.screen === "unavailable") state.screen = "start";
        render();
      }
    } finally {
      healthBusy = false;
    }
  }
  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // -- customer actions -----------------------------------------------------------------------------------------
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function tapService(serviceId) {
    touched();
    if (state.screen !== "start" || state.issuing) return; // a double tap: the first is under way
    const category = state.priority ? state.priority.key : null;
    const p = state.pending;
    if (!p || p.serviceId !== serviceId || p.language !== state.language || p.category !== category) {
      state.pending = { serviceId, key: newKey(), category, language: state.language };
    }
    const pending = state.pending;
    state.issuing = true;
    state.screen = "issuing";
    render();
    const body = { service_id: serviceId, language: pending.language };
    // The category's key: the server records it (staff screens and reports show it) and makes the ticket priority.
    if (pending.category) body.priority_category = pending.category;
    let r;
    for (let attempt = 0; ; attempt++) {
      r = await api("POST", "/api/v1/tickets", body, { "Idempotency-Key": pending.key });
      if (!unreachable(r)) break;
      $("issuing-retry").hidden = false; // the Wi-Fi dropped: keep trying with the same key
      if (attempt > 40) break;
      await pause(RETRY_PAUSES[Math.min(attempt, RETRY_PAUSES.length - 1)]);
    }
    $("issuing-retry").hidden = true;
    state.issuing = false;
    if (!r.ok) {
      if (!unreachable(r)) state.pending = null;
      state.notice = unreachable(r) ? null : r.data && r.data.code === "service_closed" ? "service_closed" : "refused";
      if (!unreachable(r)) reloadServices();
      if (!unreachable(r) && state.priority) { // the category may have been withdrawn meanwhile: choose again
        if (r.data && r.data.code === "invalid_input") state.notice = "priority_refused";
        state.priority = null;
        reloadCategories();
      }
      state.screen = unreachable(r) ? "unavailable" : "start";
      if (unreachable(r)) { state.online = false; }
      render();
      return;
    }
    state.pending = null;
    state.priority = null;
    showTicket(r.data);
  }

  async function showTicket(ticket) {
    state.ticket = ticket;
    state.announceTicket = ticket.id;
    state.screen = "result";
    state.resultShownAt = Date.now();
    state.print = config.printer ? "printing" : "none";
    state.resultUntil = config.printer ? Infinity : Date.now() + config.result_seconds * 1000;
    render();
    if (!config.printer) return;
    let r;
    for (let attempt = 0; attempt < 20; attempt++) {
      r = await api("POST", `/kiosk/tickets/${ticket.id}/print`, {});
      if (!unreachable(r)) break;
      await pause(RETRY_PAUSES[Math.min(attempt, RETRY_PAUSES.length - 1)]);
    }
    if (state.ticket !== ticket) return;
    const ok = r.ok && r.data && r.data.ok;
    state.print = ok ? "printed" : (r.data && r.data.printer_state === "none") ? "none" : "failed";
    state.printMessage = (r.data && (r.data.message || r.data.detail)) || "";
    // A customer who must note the number gets more time.
    state.resultUntil = Date.now() + config.result_seconds * 1000 * (ok ? 1 : 2);
    render();
  }

  function tapResult() {
    touched();
    if (state.screen !== "result") return;
    if (state.warning) { extendTime(); return; }
    if (state.print !== "printing" && Date.now() - state.resultShownAt >= RESULT_MIN_MS) backToStart();
  }

  function backToStart() {
    state.ticket = null;
    state.print = "none";
    state.resultUntil = Infinity;
    state.language = config.default_language;
    state.big = false;
    state.notice = null;
    state.warning = false;
    state.help = null;
    state.priority = null;
    if (state.speech && synth) synth.cancel();
    state.speech = false;
    state.volume = 70;
    state.keysUsed = false;
    state.screen = state.online ? "start" : "unavailable";
    render();
  }

  async function requestHelp() {
    touched();
    if (["sending", "sent", "acknowledged"].includes(state.help)) { spokenContext = ""; render(); return; }
    state.help = "sending";
    render();
    const r = await api("POST", "/api/v1/devices/me/help", {});
    if (state.help === "sending") state.help = r.ok ? "sent" : "failed";
    render();
  }

  function setLanguage(code) { touched(); if (code !== state.language) { state.language = code; render(); } }
  function toggleBig() { touched(); state.big = !state.big; render(); }
  function openPriority() { touched(); if (state.screen === "start" && state.categories.length) { state.screen = "priority"; render(); } }
  function choosePriority(key) {
    touched();
    const chosen = state.categories.find((c) => c.key === key);
    if (state.screen === "priority" && chosen) { state.priority = chosen; state.screen = "start"; render(); }
  }
  function cancelPriority() { touched(); state.priority = null; if (state.screen === "priority") state.screen = "start"; render(); }

  // -- timeouts the customer can extend -----------------------------------------------------------------------------
  function customised() {
    return ["priority"].includes(state.screen) || state.language !== config.default_language || state.big
      || state.notice || state.help || state.priority || state.speech;
  }
  function deadline() {
    if (state.screen === "issuing") return null;
    if (state.screen === "result") return state.print === "printing" ? null : state.resultUntil;
    if (customised()) return state.lastTouch + config.idle_seconds * 1000 * (state.speech ? 2 : 1);
    return null;
  }
  function warns() {
    if (state.screen === "result") return state.speech || state.print === "failed";
    return true;
  }
  function warningMs() {
    const total = state.screen === "result" ? config.result_seconds : config.idle_seconds;
    return Math.min(config.warning_seconds, total / 2) * 1000;
  }
  function secondsLeft() { const d = deadline(); return d === null ? 0 : Math.max(0, Math.ceil((d - Date.now()) / 1000)); }
  function extendTime() {
    state.lastTouch = Date.now();
    if (state.screen === "result") state.resultUntil = Date.now() + Math.max(config.result_seconds, config.idle_seconds) * 1000;
    state.warning = false;
    spokenContext = "";
    render();
  }
  // Only "More time" (or a tap on the dialog, or Enter) closes the warning: were a touch to close it as the
  // finger goes down, the click would land on the button under the dialog.
  function touched() { state.lastTouch = Date.now(); }
  function tick() {
    const d = deadline();
    const now = Date.now();
    if (d !== null && now >= d) backToStart();
    else if (d !== null && warns() && now >= d - warningMs()) {
      if (!state.warning) { state.warning = true; render(); }
      $("warning-body").textContent = t("time_warning_body", { seconds: secondsLeft() });
    }
  }

  // -- focus and keys --------------------------------------------------------------------------------------------
  function focusables() {
    if (state.warning) return [$("more-time")];
    const screen = $(`screen-${state.screen}`);
    return screen ? [...screen.querySelectorAll("[data-focus]")].filter((el) => !el.hidden && el.offsetParent !== null) : [];
  }
  function moveFocus(step) {
    const items = focusables();
    if (!items.length) return;
    const index = items.indexOf(document.activeElement);
    const next = index < 0 ? (step > 0 ? 0 : items.length - 1) : (index + step + items.length) % items.length;
    items[next].focus();
  }
  document.addEventListener("focusin", (e) => {
    const items = focusables();
    const index = items.indexOf(e.target);
    if (index >= 0) say(sentences(t("speech_button", { label: e.target.textContent.trim(), index: index + 1, count: items.length })));
  });

  document.addEventListener("keydown", (e) => {
    const action = config.keys[BROWSER_KEYS[e.key]];
    if (!action) return;
    e.preventDefault(); // no browser shortcut (Backspace = back, F1 = browser help …)
    if (e.repeat) return;
    touched();
    if (action === "next" || action === "previous" || action === "activate") {
      state.keysUsed = true;
      document.body.classList.add("keys");
    }
    if (state.warning && (action === "activate" || action === "back")) extendTime(); // its one answer
    else if (action === "guide") { state.speech = true; spokenContext = ""; render(); }
    else if (action === "repeat") { state.speech = true; say(state.lastSpoken || screenSpeech()); }
    else if (action === "louder" || action === "softer") {
      state.volume = Math.max(10, Math.min(100, state.volume + (action === "louder" ? 10 : -10)));
      say(sentences(t("speech_volume", { volume: state.volume })));
    } else if (action === "help") requestHelp();
    else if (action === "back") { if (state.screen === "priority" || state.priority) cancelPriority(); }
    else if (action === "next") moveFocus(1);
    else if (action === "previous") moveFocus(-1);
    else if (action === "activate") {
      if (focusables().includes(document.activeElement)) document.activeElement.click();
      else moveFocus(1); // the first Enter shows where the focus is
    }
  });

  // -- spoken guidance ---------------------------------------------------------------------------------------------
  let spokenContext = "";
  function screenSpeech() {
    if (state.warning) return sentences(t("time_warning_title"), t("time_warning_body", { seconds: secondsLeft() }));
    const parts = [];
    if (state.help) parts.push(t(`help_${state.help}`));
    if (state.screen === "start") {
      parts.push(state.branch ? state.branch.name : t("welcome"));
      if (state.notice) parts.push(t(state.notice));
      parts.push(state.priority ? t("priority_chosen", { label: categoryLabel(state.priority) }) : t("choose_service"));
      if (state.services.length) parts.push(t("speech_services", { count: state.services.length, names: state.services.map((s) => s.name).join(", ") }));
      else parts.push(t("no_services"));
      parts.push(t("speech_keys"));
    } else if (state.screen === "priority") {
      parts.push(t("priority_title"), state.categories.map(categoryLabel).join(", "), t("speech_keys"));
    } else if (state.screen === "issuing") {
      parts.push(t("issuing"));
    } else if (state.screen === "result" && state.ticket) {
      const tk = state.ticket;
      parts.push(t("speech_your_number", { number: spokenNumber(tk.number) }), tk.service_name,
        peopleAhead(tk.people_ahead), waitText(tk));
      if (state.print === "failed") parts.push(t("printer_fault_title"), t("printer_fault_note", { number: spokenNumber(tk.number) }));
      else if (state.print === "printed") parts.push(t("take_ticket"));
      else if (state.print === "printing") parts.push(t("issuing"));
    } else if (state.screen === "unavailable") {
      parts.push(t("unavailable_title"), t("unavailable_body"));
    }
    return sentences(...parts);
  }
  function startSpeech() { touched(); state.speech = true; spokenContext = ""; render(); }

  // A long press anywhere turns speech on; the click that ends it does not also press the button under it.
  let holdTimer = null;
  let held = false;
  document.addEventListener("pointerdown", (e) => {
    touched();
    held = false;
    clearTimeout(holdTimer);
    const x = e.clientX, y = e.clientY;
    holdTimer = setTimeout(() => { held = true; startSpeech(); }, config.long_press_seconds * 1000);
    const cancel = (ev) => { if (Math.hypot(ev.clientX - x, ev.clientY - y) > 40) clearTimeout(holdTimer); };
    document.addEventListener("pointermove", cancel, { once: false });
    document.addEventListener("pointerup", () => { clearTimeout(holdTimer); document.removeEventListener("pointermove", cancel); }, { once: true });
  });
  document.addEventListener("click", (e) => { if (held) { held = false; e.stopPropagation(); e.preventDefault(); } }, true);

  // -- no accidental navigation ------------------------------------------------------------------------------------
  document.addEventListener("contextmenu", (e) => e.preventDefault());
  document.addEventListener("selectstart", (e) => e.preventDefault());
  document.addEventListener("dragstart", (e) => e.preventDefault());
  document.addEventListener("gesturestart", (e) => e.preventDefault()); // iOS pinch zoom
  history.pushState({ kiosk: true }, "", location.href);
  window.addEventListener("popstate", () => { history.pushState({ kiosk: true }, "", location.href); backToStart(); });
  // Full screen after the first tap has done its job (bubbling phase): the layout shift must not move a button
  // under the finger between the press and the click.
  document.addEventListener("click", () => {
    const el = document.documentElement;
    if (!document.fullscreenElement && el.requestFullscreen) el.requestFullscreen().catch(() => {});
  }, { once: true });

  // -- drawing ------------------------------------------------------------------------------------------------------
  function button(text, cls, focus, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = cls;
    b.textContent = text;
    b.dataset.focus = focus;
    b.addEventListener("click", onClick);
    return b;
  }

  function render() {
    document.documentElement.lang = state.language;
    document.documentElement.classList.toggle("big", state.big);
    document.body.dataset.screen = state.screen;
    document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
    $("branch").textContent = state.branch ? state.branch.name : t("welcome");
    for (const name of ["start", "priority", "issuing", "result", "unavailable"]) $(`screen-${name}`).hidden = state.screen !== name;

    const focusedKey = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.focus : null;
    if (state.screen === "start") drawStart();
    if (state.screen === "priority") drawPriority();
    if (state.screen === "result") drawResult();

    const banner = $("help-banner");
    banner.hidden = !state.help;
    banner.className = `help-banner${state.help === "failed" ? " failed" : ""}`;
    banner.textContent = state.help ? t(`help_${state.help}`) : "";

    $("warning").hidden = !state.warning;
    if (state.warning) $("warning-body").textContent = t("time_warning_body", { seconds: secondsLeft() });

    // Keep the focus where it was (same item redrawn), or on the first item of a new screen.
    const items = focusables();
    if (state.keysUsed && items.length) {
      const again = items.find((el) => el.dataset.focus === focusedKey);
      if (again) { if (document.activeElement !== again) again.focus({ preventScroll: true }); }
      else items[0].focus({ preventScroll: true });
    }
    const context = [state.screen, state.warning, state.help, state.print, state.ticket && state.ticket.id,
      state.language, state.notice, !!state.priority].join("|");
    if (state.speech && context !== spokenContext) { spokenContext = context; say(screenSpeech()); }
  }

  // "Closed · opens at 13:00" (or "… opens 13/01 at 08:00") under a service outside its opening hours; the time is
  // the branch's local time as the server wrote it, so the kiosk's own clock and zone do not matter.
  function closedText(s) {
    if (s.open_now !== false) return "";
    if (!s.opens_at) return t("closed");
    const time = s.opens_at.slice(11, 16);
    const day = s.opens_at.slice(0, 10);
    const local = new Date(); // the kiosk sits in the branch: its date is the branch's
    const today = [local.getFullYear(), String(local.getMonth() + 1).padStart(2, "0"), String(local.getDate()).padStart(2, "0")].join("-");
    return day === today ? t("closed_opens_at", { time }) : t("closed_opens_on", { date: `${day.slice(8, 10)}/${day.slice(5, 7)}`, time });
  }

  async function reloadCategories() {
    const r = await api("GET", "/api/v1/devices/me/kiosk");
    if (!r.ok) return;
    state.categories = (r.data.priority_categories || []).filter((c) => c && c.key);
    if (state.screen === "start") render();
  }

  async function reloadServices() {
    const r = await api("GET", "/api/v1/services?active_only=true");
    if (!r.ok) return;
    state.services = r.data.filter((s) => s.active !== false);
    if (state.screen === "start") render();
  }

  function drawStart() {
    const services = $("services");
    const stopped = (state.stopped || []).map((s) => {
      // Stopped issuing (issue 13): named, so nobody looks for it, but not a button.
      const note = document.createElement("p");
      note.className = "tile service off";
      note.textContent = `${s.name}: ${t("service_not_issuing")}`;
      return note;
    });
    services.replaceChildren(...state.services.map((s) => {
      const name = state.priority ? `${s.name} (${categoryLabel(state.priority)})` : s.name;
      const closed = closedText(s);
      const b = button(closed ? `${name} — ${closed}` : name, `tile service${closed ? " closed" : ""}`, `service:${s.id}`, () => tapService(s.id));
      paint(b, s.colour);
      return b;
    }), ...stopped);
    services.classList.toggle("two", state.services.length > 3);
    $("no-services").hidden = state.services.length > 0;
    const notice = $("notice");
    notice.hidden = !state.notice;
    notice.textContent = state.notice ? t(state.notice) : "";
    const chosen = $("priority-chosen");
    chosen.hidden = !state.priority;
    chosen.textContent = state.priority ? t("priority_chosen", { label: categoryLabel(state.priority) }) : "";
    const priority = $("priority");
    priority.hidden = state.categories.length === 0;
    priority.textContent = state.priority ? t("priority_cancel") : t("priority_button");
    $("big-text").textContent = state.big ? `A   ${t("normal_text")}` : `A+  ${t("big_text")}`;
    $("languages").replaceChildren(...config.languages.map((code) => {
      const b = button(config.language_names[code], `tile lang${code === state.language ? " chosen" : ""}`, `lang:${code}`, () => setLanguage(code));
      b.lang = code;
      b.setAttribute("aria-pressed", String(code === state.language));
      return b;
    }));
    const rows = $("serving-rows");
    if (!state.serving.length) {
      const li = document.createElement("li");
      li.className = "nobody";
      li.textContent = t("nobody_called");
      rows.replaceChildren(li);
    } else {
      rows.replaceChildren(...state.serving.map((s) => {
        const li = document.createElement("li");
        const number = document.createElement("span");
        number.className = "num";
        number.textContent = s.number;
        const counter = document.createElement("span");
        counter.className = "ctr";
        counter.textContent = t("counter", { counter: s.counter });
        li.append(number, counter);
        return li;
      }));
    }
  }

  // Service colours come from the server: set through the CSSOM (allowed by the CSP), text black or white,
  // whichever contrasts more.
  function paint(el, colour) {
    if (!/^#[0-9a-fA-F]{6}$/.test(colour || "")) return;
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16) / 255)
      .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
    const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    el.style.backgroundColor = colour;
    el.style.color = (lum + 0.05) / 0.05 > 1.05 / (lum + 0.05) ? "#000" : "#fff";
  }

  function drawPriority() {
    $("priority-choices").replaceChildren(...state.categories.map((c) =>
      button(t("priority_choice", { label: categoryLabel(c) }), "tile tile-accent", `priority:${c.key}`, () => choosePriority(c.key))));
  }

  let qrFor = null;
  function drawResult() {
    const tk = state.ticket;
    $("ticket-number").textContent = tk.number;
    $("ticket-service").textContent = tk.service_name || "";
    $("ticket-ahead").textContent = peopleAhead(tk.people_ahead);
    $("ticket-wait").textContent = waitText(tk);
    if (qrFor !== tk.id) { qrFor = tk.id; $("ticket-qr").src = `/kiosk/qr/${tk.id}.svg`; }
    $("ticket-qr").alt = t("scan_to_follow");
    const failed = state.print === "failed";
    $("fault").hidden = !failed;
    $("fault-note").textContent = failed ? t("printer_fault_note", { number: tk.number }) : "";
    const status = $("print-status");
    status.hidden = failed;
    status.className = `status-line status-${state.print}`;
    status.textContent = state.print === "printing" ? t("issuing") : state.print === "printed" ? t("take_ticket") : "";
    $("finish").hidden = state.print === "printing";
  }

  // -- wiring -------------------------------------------------------------------------------------------------------
  $("help").addEventListener("click", requestHelp);
  $("priority").addEventListener("click", () => (state.priority ? cancelPriority() : openPriority()));
  $("priority-back").addEventListener("click", cancelPriority);
  $("big-text").addEventListener("click", toggleBig);
  $("finish").addEventListener("click", (e) => { e.stopPropagation(); tapResult(); });
  $("screen-result").addEventListener("click", tapResult);
  $("more-time").addEventListener("click", (e) => { e.stopPropagation(); extendTime(); });
  $("warning").addEventListener("click", extendTime);
  window.addEventListener("online", checkHealth);
  window.addEventListener("offline", () => { state.online = false; if (["start", "priority"].includes(state.screen)) state.screen = "unavailable"; render(); });

  render();
  checkHealth();
  setInterval(checkHealth, 5000);
  setInterval(reloadServices, 60000); // a service opens or closes by the clock, with no event
  setInterval(tick, 250);
  followEvents();
})();
