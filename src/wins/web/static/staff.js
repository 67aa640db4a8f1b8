/* The counter workspace. It shows what /api/v1/queue says, acts through the REST API, and re-reads the queue
 * whenever the event stream reports a change. It decides nothing itself: the server says what is allowed. */
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("wins-config").textContent);
  const $ = (id) => document.getElementById(id);
  const services = new Map(config.services.map((s) => [s.id, s]));
  const kiosks = new Map(config.kiosks.map((k) => [k.id, k]));
  let counters = new Map(config.counters.map((c) => [c.id, c]));
  let counterId = config.last_counter_id && counters.has(config.last_counter_id) && counters.get(config.last_counter_id).active
    ? config.last_counter_id : null;
  let snapshot = null;
  let fetchedAt = 0;
  let busy = false;
  let refreshTimer = null;

  const feedback = $("feedback");
  function say(text, kind) {
    feedback.textContent = text;
    feedback.className = `feedback feedback-${kind || "ok"}`;
    feedback.setAttribute("role", kind === "err" ? "alert" : "status");
  }

  function waited(seconds) {
    const s = Math.max(0, Math.round(seconds + (Date.now() - fetchedAt) / 1000));
    if (s < 60) return "just now";
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min`;
    return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
  }

  function element(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") el.className = v;
      else if (k.startsWith("data-")) el.setAttribute(k, v);
      else if (k === "text") el.textContent = v;
      else el.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) el.append(c);
    return el;
  }

  // -- reading -------------------------------------------------------------------------------------------
  // Reads run one after another, each starting after the previous ended: a read that began before an action
  // can never be the one that "confirms" it.
  let reads = Promise.resolve();
  function refresh() {
    reads = reads.then(async () => {
      const r = await Wins.api("GET", "/api/v1/queue");
      if (r.ok) {
        snapshot = r.data;
        fetchedAt = Date.now();
        counters = new Map(snapshot.counters.map((c) => [c.id, c]));
        for (const s of snapshot.services) services.set(s.id, s);
        render();
      } else if (r.status === 401) {
        say(r.message, "err");
      }
    }).catch((err) => console.error("could not redraw the queue", err));
    return reads;
  }

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 30); // several events in a burst → one read
  }

  function current() {
    const c = counterId && counters.get(counterId);
    return c ? c.ticket : null;
  }

  // -- drawing -------------------------------------------------------------------------------------------
  function render() {
    const counter = counterId ? counters.get(counterId) : null;
    $("no-counter").hidden = !!counter;
    $("desk").hidden = !counter;
    $("counter").value = counter ? String(counter.id) : "";
    const names = counter ? counter.service_ids.map((id) => services.get(id)).filter(Boolean).map((s) => s.name) : [];
    $("counter-services").textContent = counter ? (names.length ? `Calls ${names.join(", ")}` : "This counter calls no service yet") : "";

    const ticket = current();
    const actions = document.querySelectorAll("[data-action], #transfer-open");
    actions.forEach((b) => { b.disabled = !ticket; });
    if (ticket) {
      $("current-number").textContent = ticket.number;
      const state = ticket.status === "serving" ? "Serving" : `Called${ticket.call_count > 1 ? ` (${ticket.call_count}×)` : ""}`;
      $("current-detail").textContent = `${state} · ${ticket.service_name || ""}${ticket.priority ? " · priority" : ""}`;
      $("current-number").className = `ticket-number status-${ticket.status}`;
    } else {
      $("current-number").textContent = "—";
      $("current-number").className = "ticket-number";
      $("current-detail").textContent = counter ? "Nobody at your counter. Press N or “Call next” for the next customer." : "";
    }
    renderQueues(counter);
    renderKiosks();
  }

  function renderQueues(counter) {
    const box = $("queues");
    const other = $("other-queues");
    if (!snapshot) return;
    const focused = document.activeElement && document.activeElement.id;
    const mine = counter ? counter.service_ids : [];
    const lists = [];
    let total = 0;
    for (const id of mine) {
      const s = snapshot.services.find((x) => x.id === id);
      if (!s) continue;
      total += s.tickets.length;
      const heading = element("h3", {}, element("span", { class: "swatch", style: `background:${s.colour}`, "aria-hidden": "true" }),
        `${s.name} `, element("span", { class: "count", text: `${s.tickets.length} waiting` }));
      let body;
      if (!s.tickets.length) {
        body = element("p", { class: "empty-line", text: `No one is waiting for ${s.name}.` });
      } else {
        body = element("ol", { class: "waiting", "aria-label": `Waiting for ${s.name}` });
        for (const t of s.tickets) {
          body.append(element("li", { "data-ticket": t.number },
            element("span", { class: "num", text: t.number }),
            t.priority ? element("span", { class: "badge", text: "priority" }) : null,
            t.transfer_count ? element("span", { class: "badge badge-quiet", text: "transferred" }) : null,
            element("span", { class: "waited", "data-waited": t.waited_seconds, text: `waiting ${waited(t.waited_seconds)}` }),
            element("button", { type: "button", class: "btn btn-small", id: `call-${t.id}`, "data-call": t.id,
                                "aria-label": `Call ${t.number}`, text: "Call" })));
        }
      }
      lists.push(element("section", { class: "queue", "data-service": s.name }, heading, body));
    }
    if (!counter) lists.push(element("p", { class: "muted", text: "Choose your counter to see its queue." }));
    else if (!mine.length) lists.push(element("p", { class: "empty-line", text: "This counter calls no service. A manager can add some under Counters." }));
    box.replaceChildren(...lists);
    $("waiting-total").textContent = counter ? `(${total})` : "";
    const rest = snapshot.services.filter((s) => !mine.includes(s.id) && s.active);
    other.replaceChildren(...(rest.length ? [element("h3", { text: "Other queues" }),
      element("ul", {}, ...rest.map((s) => element("li", { text: `${s.name}: ${s.waiting_count ? `${s.waiting_count} waiting` : "no one waiting"}` })))] : []));
    if (focused && $(focused) && document.activeElement !== $(focused)) $(focused).focus();
  }

  function renderKiosks() {
    const box = $("kiosks");
    if (!kiosks.size) { box.replaceChildren(); return; }
    const items = [...kiosks.values()].map((k) => {
      const entries = Object.entries(k.status || {});
      const text = entries.length ? entries.map(([key, v]) => `${key}: ${String(v).replace(/_/g, " ")}`).join(", ") : "no report yet";
      const bad = entries.some(([, v]) => !["ok", "online", "ready", "true", "idle"].includes(String(v).toLowerCase()));
      return element("li", { class: bad ? "warn" : "" }, element("strong", { text: k.name }), ` — ${text}`);
    });
    box.replaceChildren(element("h3", { text: "Kiosk printers" }), element("ul", {}, ...items));
  }

  setInterval(() => {
    document.querySelectorAll("[data-waited]").forEach((el) => {
      el.textContent = `waiting ${waited(Number(el.dataset.waited))}`;
    });
  }, 15000);

  // -- acting --------------------------------------------------------------------------------------------
  const DONE_TEXT = {
    recall: (t) => `Called ${t.number} again.`,
    start: (t) => `Serving ${t.number}.`,
    complete: (t) => `${t.number} is done.`,
    "no-show": (t) => `${t.number} marked as no-show.`,
    requeue: (t) => `${t.number} is back in the queue.`,
  };

  async function act(label, method, path, body, success) {
    if (busy) return;
    busy = true;
    document.body.classList.add("busy");
    try {
      const r = await Wins.api(method, path, body);
      await refresh(); // first redraw, then tell: the message never describes a screen not yet shown
      if (r.ok) say(success(r), "ok");
      else say(r.message, "err");
    } finally {
      busy = false;
      document.body.classList.remove("busy");
    }
  }

  function needCounter() {
    if (!counterId) { say("Choose your counter first.", "err"); $("counter").focus(); return false; }
    return true;
  }

  function callNext() {
    if (!needCounter()) return;
    const counter = counters.get(counterId);
    act("call-next", "POST", `/api/v1/counters/${counterId}/call-next`, undefined, (r) => {
      if (r.status === 204) {
        const names = counter.service_ids.map((id) => services.get(id)).filter(Boolean).map((s) => s.name);
        return `No one is waiting for ${names.join(" or ") || "this counter"}.`;
      }
      return `Called ${r.data.number} to counter ${r.data.counter_name}.`;
    });
  }

  function ticketAction(action) {
    const ticket = current();
    if (!ticket) { say("There is no ticket at your counter. Call one first.", "err"); return; }
    act(action, "POST", `/api/v1/tickets/${ticket.id}/${action}`, undefined,
      (r) => action === "reprint" ? `${ticket.number}: ${r.data.message}` : DONE_TEXT[action](r.data));
  }

  function callTicket(ticketId, number) {
    if (!needCounter()) return;
    act("call", "POST", `/api/v1/counters/${counterId}/call/${ticketId}`, undefined, (r) => `Called ${r.data.number} to counter ${r.data.counter_name}.`);
  }

  function callByNumber(number) {
    number = number.trim().toUpperCase();
    if (!number) return;
    for (const s of (snapshot ? snapshot.services : [])) {
      const t = s.tickets.find((x) => x.number === number);
      if (t) {
        $("call-number").value = "";
        $("call-next").focus(); // out of the text field, so the letter shortcuts work again
        callTicket(t.id, t.number);
        return;
      }
    }
    say(`${number} is not waiting (it may have been called already, or the number is mistyped).`, "err");
  }

  async function chooseCounter(id) {
    if (!id) { counterId = null; render(); return; }
    const r = await Wins.api("POST", `/api/v1/counters/${id}/open`);
    if (!r.ok) { say(r.message, "err"); $("counter").value = counterId ? String(counterId) : ""; return; }
    counterId = id;
    say(`You are at counter ${r.data.name}.`, "ok");
    await refresh();
  }

  // -- transfer dialog ------------------------------------------------------------------------------------
  const dialog = $("transfer-dialog");
  function openTransfer() {
    const ticket = current();
    if (!ticket) { say("There is no ticket at your counter to transfer.", "err"); return; }
    $("transfer-number").textContent = ticket.number;
    const select = $("transfer-service");
    select.replaceChildren(...[...services.values()].filter((s) => s.active && s.id !== ticket.service_id)
      .map((s) => element("option", { value: s.id, text: s.name })));
    dialog.showModal();
    select.focus();
  }
  $("transfer-open").addEventListener("click", openTransfer);
  $("transfer-cancel").addEventListener("click", () => dialog.close());
  $("transfer-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const ticket = current();
    const target = Number($("transfer-service").value);
    dialog.close();
    if (!ticket || !target) return;
    const name = services.get(target) ? services.get(target).name : "the other service";
    act("transfer", "POST", `/api/v1/tickets/${ticket.id}/transfer`, { service_id: target, to_end: $("transfer-end").checked },
      (r) => `${r.data.number} sent to ${name}.`);
  });

  // -- wiring --------------------------------------------------------------------------------------------
  $("call-next").addEventListener("click", callNext);
  document.querySelectorAll("[data-action]").forEach((b) => b.addEventListener("click", () => ticketAction(b.dataset.action)));
  $("queues").addEventListener("click", (e) => {
    const button = e.target.closest("[data-call]");
    if (button) callTicket(Number(button.dataset.call));
  });
  $("counter").addEventListener("change", (e) => chooseCounter(Number(e.target.value) || null));
  $("call-specific").addEventListener("submit", (e) => { e.preventDefault(); callByNumber($("call-number").value); });

  const KEYS = { n: callNext, r: () => ticketAction("recall"), s: () => ticketAction("start"), d: () => ticketAction("complete"),
                 x: () => ticketAction("no-show"), q: () => ticketAction("requeue"), t: openTransfer,
                 f: () => { $("call-number").focus(); } };
  if (config.reprint) KEYS.p = () => ticketAction("reprint");
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || dialog.open) return;
    const tag = (e.target.tagName || "").toLowerCase();
    if (["input", "select", "textarea"].includes(tag) || e.target.isContentEditable) return;
    const handler = KEYS[e.key.toLowerCase()];
    if (handler) { e.preventDefault(); handler(); }
  });

  // -- start ---------------------------------------------------------------------------------------------
  function onEvents(events) {
    for (const e of events) {
      if (e.type === "device.status" && kiosks.has(e.data.device_id)) {
        kiosks.get(e.data.device_id).status = e.data.status;
      } else if (e.type === "device.status" && e.data.kind === "kiosk") {
        kiosks.set(e.data.device_id, { id: e.data.device_id, name: e.data.name, status: e.data.status });
      }
    }
    scheduleRefresh();
  }

  (async () => {
    render();
    await refresh();
    const remembered = counterId && counters.get(counterId);
    if (remembered && remembered.staff_id === null) {
      await chooseCounter(counterId); // sit back down at the remembered counter
    } else if (remembered && remembered.staff_id !== config.user.id) {
      say(`Counter ${remembered.name} is taken by ${remembered.staff_name}. Choose your counter.`, "err");
      counterId = null;
      render();
    }
    Wins.follow({
      since: snapshot ? snapshot.last_event_id : null,
      onEvents,
      onReconnect: scheduleRefresh,
      onState: Wins.indicator($("conn")),
    });
  })();
})();
