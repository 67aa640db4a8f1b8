/* The counter workspace. It shows what /api/v1/queue says, acts through the REST API, and re-reads the queue
 * whenever the event stream reports a change. It decides nothing itself: the server says what is allowed, and
 * whom "Call next" takes (each counter's `next_ticket_id`, computed by call-next's own rule).
 * The Undo toast, desk issuing, the shortcuts preference and "called … ago" live in desk-parts.js (WinsDesk).
 * Reception accounts (config.can_call false) get the queue and issuing only. */
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("wins-config").textContent);
  const $ = (id) => document.getElementById(id);
  const services = new Map(config.services.map((s) => [s.id, s]));
  const kiosks = new Map(config.kiosks.map((k) => [k.id, k]));
  let counters = new Map(config.counters.map((c) => [c.id, c]));
  const canCall = config.can_call;
  const categoryLabels = new Map(config.priority_categories.map((c) => [c.key, c.label]));
  let clockOffset = 0; // this computer's clock minus the server's, so "called 2 min ago" is right on a wrong clock
  let counterId = config.last_counter_id && counters.has(config.last_counter_id) && counters.get(config.last_counter_id).active
    ? config.last_counter_id : null;
  let sitting = null; // a counter chosen, not yet confirmed by the server
  let snapshot = null;
  let fetchedAt = 0;
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
      // Through the CSSOM, not a style attribute: the CSP allows no inline style.
      else if (k === "colour") el.style.backgroundColor = v;
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
        clockOffset = fetchedAt - Date.parse(snapshot.generated_at);
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
    if (!canCall) { renderQueues(null); renderKiosks(); return; }
    const counter = counterId ? counters.get(counterId) : null;
    $("no-counter").hidden = !!counter || sitting !== null;
    $("desk").hidden = !counter;
    markCounterChoices();
    $("leave-counter").hidden = !counter;
    const names = counter ? counter.service_ids.map((id) => services.get(id)).filter(Boolean).map((s) => s.name) : [];
    $("counter-services").textContent = counter ? (names.length ? `Calls ${names.join(", ")}` : "This counter calls no service yet") : "";

    const ticket = current();
    const actions = document.querySelectorAll("[data-action], #transfer-open");
    actions.forEach((b) => { b.disabled = !ticket; });
    if (ticket) {
      $("current-number").textContent = ticket.number;
      // The call count and the time since the call are on the line below (renderTiming).
      const state = ticket.status === "serving" ? "Serving" : "Called";
      const category = ticket.priority_category ? categoryLabels.get(ticket.priority_category) || ticket.priority_category : "";
      $("current-detail").textContent = `${state} · ${ticket.service_name || ""}${ticket.priority ? ` · priority${category ? `: ${category}` : ""}` : ""}`;
      $("current-number").className = `ticket-number status-${ticket.status}`;
    } else {
      $("current-number").textContent = "—";
      $("current-number").className = "ticket-number";
      $("current-detail").textContent = counter ? "Nobody at your counter. Press N or “Call next” for the next customer." : "";
    }
    renderTiming();
    renderPause(counter);
    renderNextUp(counter);
    renderQueues(counter);
    renderKiosks();
  }

  // The counter list says which counters are taken (and by whom), paused or switched off. Choosing one is a
  // separate, deliberate step ("Sit here"): arrowing through the list seats you nowhere.
  function markCounterChoices() {
    for (const option of $("counter").options) {
      const c = option.value && counters.get(Number(option.value));
      if (!c) continue;
      let note = "";
      if (!c.active) note = " (switched off)";
      else if (c.staff_id === config.user.id) note = " — you";
      else if (c.staff_id) note = ` — taken by ${c.staff_name || "someone"}`;
      if (c.active && c.is_paused) note += " (paused)";
      option.textContent = `Counter ${c.name}${note}`;
      option.disabled = !c.active;
    }
  }

  function renderTiming() {
    const ticket = current();
    const line = $("current-timing");
    line.hidden = !ticket || !ticket.called_at;
    if (line.hidden) return;
    $("called-ago").textContent = `Called ${WinsDesk.ago(ticket.called_at, clockOffset)}`;
    const recall = $("recall-count");
    recall.hidden = ticket.call_count < 2;
    recall.textContent = `called ${ticket.call_count} times`;
  }

  function renderPause(counter) {
    const paused = !!(counter && counter.is_paused);
    $("paused-banner").hidden = !paused;
    $("pause-form").hidden = paused;
    $("call-next").classList.toggle("is-paused", paused);
    if (paused) {
      const reason = $("pause-reason").querySelector(`option[value="${counter.pause_reason}"]`);
      $("paused-text").textContent = `(${reason ? reason.textContent.toLowerCase() : counter.pause_reason}, since ${WinsDesk.ago(counter.paused_at, clockOffset)}). Nobody is called to this counter until you resume.`;
    }
  }

  function findWaiting(ticketId) {
    for (const s of (snapshot ? snapshot.services : [])) {
      const t = s.tickets.find((x) => x.id === ticketId);
      if (t) return { ticket: t, service: s };
    }
    return null;
  }

  function renderNextUp(counter) {
    const line = $("next-up");
    if (!counter || !snapshot) { line.textContent = ""; return; }
    if (counter.is_paused) { line.textContent = "Paused: resume to call the next customer."; return; }
    const found = counter.next_ticket_id ? findWaiting(counter.next_ticket_id) : null;
    if (!found) { line.textContent = "Nobody is waiting for this counter."; return; }
    const t = found.ticket;
    const why = t.priority ? ` · priority${t.priority_label ? `: ${t.priority_label}` : ""}` : "";
    line.textContent = `Next: ${t.number} · ${found.service.name}${why}`;
  }

  // A phone ticket of a service with arrival check-in, not checked in yet: call-next passes it over.
  const notHere = (t) => t.arrival === "needed" || t.arrival === "passed_over";

  function renderQueues(counter) {
    const box = $("queues");
    const other = $("other-queues");
    if (!snapshot) return;
    const focused = document.activeElement && document.activeElement.id;
    // Reception sees every queue; a counter sees the queues it calls, in its order.
    const mine = !canCall ? snapshot.services.filter((s) => s.active).map((s) => s.id) : counter ? counter.service_ids : [];
    const nextId = counter && !counter.is_paused ? counter.next_ticket_id : null;
    const lists = [];
    let total = 0;
    for (const id of mine) {
      const s = snapshot.services.find((x) => x.id === id);
      if (!s) continue;
      total += s.tickets.length;
      const heading = element("h3", {}, element("span", { class: "swatch", colour: s.colour, "aria-hidden": "true" }),
        `${s.name} `, element("span", { class: "count", text: `${s.tickets.length} waiting` }));
      const alert = s.over_target ? element("p", { class: "over-target", role: "note",
        text: `Longest wait ${waited(s.longest_wait_seconds)}: over the ${s.target_wait_minutes} min target.` }) : null;
      let body;
      if (!s.tickets.length) {
        body = element("p", { class: "empty-line", text: `No one is waiting for ${s.name}.` });
      } else {
        body = element("ol", { class: "waiting", "aria-label": `Waiting for ${s.name}` });
        for (const t of s.tickets) {
          const isNext = t.id === nextId;
          body.append(element("li", { "data-ticket": t.number, class: isNext ? "is-next" : "" },
            isNext ? element("span", { class: "next-marker", text: "Next" }) : null,
            element("span", { class: "num", text: t.number }),
            t.priority ? element("span", { class: "badge", text: t.priority_label || "priority" }) : null,
            t.transfer_count ? element("span", { class: "badge badge-quiet", text: "transferred" }) : null,
            notHere(t) ? element("span", { class: "badge badge-quiet", text: t.arrival === "passed_over" ? "passed over: not here yet" : "not here yet" }) : null,
            element("span", { class: "waited", "data-waited": t.waited_seconds, text: `waiting ${waited(t.waited_seconds)}` }),
            notHere(t) ? element("button", { type: "button", class: "btn btn-small", id: `checkin-${t.id}`, "data-checkin": t.id,
                                             "aria-label": `${t.number} has arrived (check in)`, text: "Arrived" }) : null,
            canCall ? element("button", { type: "button", class: "btn btn-small", id: `call-${t.id}`, "data-call": t.id,
                                          "aria-label": `Call ${t.number}${isNext ? " (next in line)" : ""}`, text: "Call" }) : null));
        }
      }
      lists.push(element("section", { class: `queue${s.over_target ? " queue-late" : ""}`, "data-service": s.name }, heading, alert, body));
    }
    if (!canCall) { /* reception: every queue above */ }
    else if (!counter) lists.push(element("p", { class: "muted", text: "Choose your counter to see its queue." }));
    else if (!mine.length) lists.push(element("p", { class: "empty-line", text: "This counter calls no service. A manager can add some under Counters." }));
    box.replaceChildren(...lists);
    $("waiting-total").textContent = counter || !canCall ? `(${total})` : "";
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
  setInterval(() => { if (canCall) { renderTiming(); renderPause(counterId ? counters.get(counterId) : null); } }, 5000);

  // -- acting --------------------------------------------------------------------------------------------
  // Staff type ahead, so no key is ever lost. An action asked for while another is in flight waits its turn
  // (one at the most) and runs as soon as the first ends; the buttons and the working line show both. A key
  // that cannot follow what is in flight is refused in words on the working line, never dropped unseen: a
  // third key, a ticket action where no ticket will be, or one that would change a ticket nobody has seen yet.
  const DONE_TEXT = {
    recall: (t) => `Called ${t.number} again.`,
    start: (t) => `Serving ${t.number}.`,
    complete: (t) => `${t.number} is done.`,
    "no-show": (t) => `${t.number} marked as no-show.`,
    requeue: (t) => `${t.number} is back in the queue.`,
  };
  const LABEL = { recall: "Recall", start: "Start serving", complete: "Done", "no-show": "No-show", requeue: "Requeue",
                  transfer: "Transfer", reprint: "Reprint" };
  // What an action leaves at the counter: a ticket just called ("new"), the same ticket, or none.
  const LEAVES = { "call-next": "new", call: "new", recall: "same", start: "same", reprint: "same",
                   complete: "none", "no-show": "none", requeue: "none", transfer: "none" };
  // Ticket actions that may follow a call before its ticket is shown (N then S: call the next and serve them).
  // Done, no-show, requeue and transfer may not: they would end a ticket the staff member has not seen.
  const BLIND_OK = new Set(["recall", "start", "reprint"]);
  const SHOW_AFTER_MS = 150; // a quick answer shows no "Working…", so the screen does not flicker at every key

  let running = null; // { job, ticketId (at the counter when it began), shown (its working state is visible) }
  let queued = null; // the job to run when `running` ends
  let refused = ""; // the last key refused while working; said until the next action starts
  let showTimer = null;

  function showWorking() {
    const line = $("working");
    const parts = [];
    if (running && running.shown) parts.push(`Working: ${running.job.label}…${queued ? ` then ${queued.label}.` : ""}`);
    if (refused) parts.push(refused);
    line.textContent = parts.join(" ");
    line.className = `working-line${refused ? " working-refused" : ""}`;
    line.setAttribute("role", refused ? "alert" : "status");
  }

  function mark(job, state) { // state: "working", "queued" or null
    const button = job.button();
    if (!button) return;
    button.classList.toggle("working", state === "working");
    button.classList.toggle("queued", state === "queued");
    if (state === "working") button.setAttribute("aria-busy", "true");
    else button.removeAttribute("aria-busy");
  }

  function refuse(text) {
    if (!running) { say(text, "err"); return; }
    refused = text;
    running.shown = true;
    mark(running.job, "working");
    showWorking();
  }

  // The ticket a ticket action asked for now is aimed at: the one on screen, or (asked for while a call is in
  // flight and its ticket not shown yet) whichever ticket that call brings. `refuse` says why there is none.
  function aimFor(name) {
    const shown = current();
    const onScreen = shown ? { id: shown.id, number: shown.number } : { refuse: "There is no ticket at your counter. Call one first." };
    if (!running || (shown ? shown.id : null) !== running.ticketId) return onScreen; // the screen is up to date
    const what = LEAVES[running.job.name];
    if (what === "same") return onScreen;
    if (what === "none") return { refuse: `“${LABEL[name]}” was not taken: after ${running.job.label} no ticket is at your counter.` };
    if (BLIND_OK.has(name)) return { any: true };
    return { refuse: `“${LABEL[name]}” was not taken: it came before the ticket ${running.job.label} was calling showed, so which ticket it was for is unclear.` };
  }

  function refuseFull(label) {
    refuse(`“${label}” was not taken: one key may wait behind ${running.job.label}, and ${queued.label} already does. Press it again if you still need it.`);
  }

  // job: { name, label, button(), path(ticket), body, success(r, ticket), aim (ticket actions only) }
  function request(job) {
    if (running && queued) { refuseFull(job.label); return; }
    if (job.aim === null) { // a ticket action not aimed yet
      job.aim = aimFor(job.name);
      if (job.aim.refuse) { refuse(job.aim.refuse); return; }
    }
    if (!running) { run(job); return; }
    queued = job;
    running.shown = true; // something waits on it: show it now, however quick it turns out to be
    mark(running.job, "working");
    mark(job, "queued");
    showWorking();
  }

  async function run(first) {
    document.body.classList.add("busy");
    refused = "";
    let job = first;
    let before = ""; // what the action just ended said, when `job` was waiting behind it
    try {
      while (job) {
        const ticket = current();
        if (job.aim) { // aimed at a ticket: is it (still) the one at the counter?
          const off = !ticket ? "no ticket is at your counter"
            : job.aim.id !== undefined && job.aim.id !== ticket.id ? `${job.aim.number} is no longer at your counter` : "";
          if (off) { mark(job, null); say(`${before}“${job.label}” was not done: ${off}.`, "err"); break; }
        }
        running = { job, ticketId: ticket ? ticket.id : null, shown: false };
        clearTimeout(showTimer);
        showTimer = setTimeout(() => { if (running) { running.shown = true; mark(running.job, "working"); showWorking(); } }, SHOW_AFTER_MS);
        const r = await seatApi(job.path(ticket), job.body);
        await refresh(); // first redraw, then tell: the message never describes a screen not yet shown
        mark(job, null);
        const text = r.ok ? job.success(r, ticket) : r.message;
        const next = queued;
        queued = null;
        running = null;
        if (next && !r.ok) { // what waited was asked for on the strength of this one: do not guess
          mark(next, null);
          say(`${text} “${next.label}” was not done.`, "err");
          break;
        }
        say(text, r.ok ? "ok" : "err");
        before = `${text} `;
        job = next;
      }
    } finally {
      clearTimeout(showTimer);
      if (running) mark(running.job, null);
      if (queued) mark(queued, null);
      running = null;
      queued = null;
      document.body.classList.remove("busy");
      showWorking();
      keepFocus();
    }
  }

  // A button pressed with Enter or Space may be disabled or redrawn by what it did (Done leaves no ticket, so the
  // ticket buttons switch off): focus then goes to "Call next", the usual next step, never to the page body.
  function keepFocus() {
    const active = document.activeElement;
    if (!active || active === document.body || active.disabled || active.closest("[hidden]")) {
      const target = $("call-next");
      if (target && !target.closest("[hidden]")) target.focus();
    }
  }

  function needCounter() {
    if (sitting !== null) {
      const name = counters.get(sitting) ? counters.get(sitting).name : sitting;
      say(`Still sitting down at counter ${name}: press it again in a moment.`, "err");
      return false;
    }
    if (!counterId) { say("Choose your counter first.", "err"); $("counter").focus(); return false; }
    return true;
  }

  function callNext() {
    if (!needCounter()) return;
    request({
      name: "call-next", label: "Call next", button: () => $("call-next"),
      path: () => `/api/v1/counters/${counterId}/call-next`,
      success: (r) => {
        if (r.status === 204) {
          const counter = counters.get(counterId);
          const names = counter ? counter.service_ids.map((id) => services.get(id)).filter(Boolean).map((s) => s.name) : [];
          return `No one is waiting for ${names.join(" or ") || "this counter"}.`;
        }
        return `Called ${r.data.number} to counter ${r.data.counter_name}.`;
      },
    });
  }

  const UNDOABLE = new Set(["complete", "no-show", "requeue", "transfer"]);
  function ticketAction(action) {
    request({
      name: action, label: LABEL[action], aim: null, button: () => document.querySelector(`[data-action="${action}"]`),
      path: (ticket) => `/api/v1/tickets/${ticket.id}/${action}`,
      success: (r, ticket) => {
        if (action === "reprint") return `${ticket.number}: ${r.data.message}`;
        const text = DONE_TEXT[action](r.data);
        if (UNDOABLE.has(action)) undo.show(r.data.id, r.data.number, text);
        return text;
      },
    });
  }

  function callTicket(ticketId, number, button) {
    if (!needCounter()) return;
    request({
      name: "call", label: `Call ${number}`, button,
      path: () => `/api/v1/counters/${counterId}/call/${ticketId}`,
      success: (r) => `Called ${r.data.number} to counter ${r.data.counter_name}.`,
    });
  }

  function callByNumber(number) {
    number = number.trim().toUpperCase();
    if (!number) return;
    for (const s of (snapshot ? snapshot.services : [])) {
      const t = s.tickets.find((x) => x.number === number);
      if (t) {
        $("call-number").value = "";
        $("call-next").focus(); // out of the text field, so the letter shortcuts work again
        callTicket(t.id, t.number, () => document.querySelector("#call-specific [type=submit]"));
        return;
      }
    }
    say(`${number} is not waiting (it may have been called already, or the number is mistyped).`, "err");
  }

  // Counter choices are sent one after another and only the latest counts, so the page and the server agree
  // where this person sits. Until the server has seated them the page acts on no counter: a key pressed just
  // after picking counter 4 must not call a customer to counter 3.
  let seated = counterId; // the counter the server last confirmed
  let seats = Promise.resolve();
  function chooseCounter(id) {
    sitting = id;
    counterId = null;
    render();
    seats = seats.then(() => sitDown(id)).catch((err) => console.error("could not sit down", err));
    return seats;
  }

  async function sitDown(id) {
    if (id !== sitting) return; // a later choice replaced this one before it was sent
    if (!id) { await leave(); return; }
    const r = await seatApi(`/api/v1/counters/${id}/open`);
    if (id !== sitting) return; // replaced while it was under way: the later one is sent next
    sitting = null;
    if (!r.ok) { counterId = seated; $("counter").value = seated ? String(seated) : ""; render(); say(r.message, "err"); return; }
    counterId = seated = id;
    $("counter").value = String(id);
    say(`You are at counter ${r.data.name}.`, "ok");
    await refresh();
  }

  // Leaving: the server may ask (in counter-seat.js's dialog) what happens to a ticket still at the counter.
  async function leave() {
    const from = seated;
    if (!from) { sitting = null; render(); return; }
    const r = await seatApi(`/api/v1/counters/${from}/close`);
    sitting = null;
    if (!r.ok) { counterId = seated; render(); say(r.message, "err"); return; }
    counterId = seated = null;
    say(`You left counter ${r.data.name}.`, "ok");
    await refresh();
  }

  // Counter requests answered 409 ticket_held / counter_occupied are settled in a dialog (counter-seat.js).
  const seatContext = () => ({ services: [...services.values()], counters: [...counters.values()], userId: config.user.id });
  async function seatApi(path, body) {
    const send = (extra) => Wins.api("POST", path, extra ? { ...(body || {}), ...extra } : body);
    const r = await send(null);
    return window.WinsSeat ? WinsSeat.settle(r, send, seatContext) : r;
  }

  // -- transfer dialog ------------------------------------------------------------------------------------
  // The dialog is aimed when it opens: the transfer goes to that ticket or, if it has left the counter, nowhere.
  const dialog = $("transfer-dialog");
  let transferAim = null;
  function openTransfer() {
    if (running && queued) { refuseFull("Transfer"); return; }
    const aim = aimFor("transfer");
    if (aim.refuse) { refuse(aim.refuse); return; }
    const ticket = current();
    transferAim = aim;
    $("transfer-number").textContent = ticket.number;
    const select = $("transfer-service");
    select.replaceChildren(...[...services.values()].filter((s) => s.active && s.id !== ticket.service_id)
      .map((s) => element("option", { value: s.id, text: s.name })));
    dialog.showModal();
    select.focus();
  }
  if (canCall) $("transfer-open").addEventListener("click", openTransfer);
  $("transfer-cancel").addEventListener("click", () => dialog.close());
  $("transfer-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const target = Number($("transfer-service").value);
    dialog.close();
    if (!transferAim || !target) return;
    const name = services.get(target) ? services.get(target).name : "the other service";
    request({
      name: "transfer", label: "Transfer", aim: transferAim, button: () => $("transfer-open"),
      path: (ticket) => `/api/v1/tickets/${ticket.id}/transfer`, body: { service_id: target, to_end: $("transfer-end").checked },
      success: (r) => {
        const text = `${r.data.number} sent to ${name}.`;
        undo.show(r.data.id, r.data.number, text);
        return text;
      },
    });
    transferAim = null;
  });

  // -- wiring --------------------------------------------------------------------------------------------
  // -- pause ----------------------------------------------------------------------------------------------
  async function pauseOrResume(path, body, done) {
    if (!needCounter()) return;
    const r = await Wins.api("POST", `/api/v1/counters/${counterId}/${path}`, body);
    await refresh();
    say(r.ok ? done : r.message, r.ok ? "ok" : "err");
    const target = r.ok ? (path === "pause" ? $("resume") : $("call-next")) : null;
    if (target) target.focus(); else keepFocus();
  }

  // -- wiring --------------------------------------------------------------------------------------------
  const undo = WinsDesk.makeUndo({ seconds: config.undo_seconds, say, refresh, focusAfter: () => keepFocus() });
  const issuing = WinsDesk.makeIssuing({ print: config.reprint });
  const shortcuts = WinsDesk.makeShortcuts({ enabled: config.shortcuts, say });

  // "Arrived": the customer of a phone ticket is at the desk (reception and up): it is then called in its turn.
  $("queues").addEventListener("click", async (e) => {
    const button = e.target.closest("[data-checkin]");
    if (!button) return;
    const number = button.closest("li").dataset.ticket;
    button.disabled = true;
    const r = await Wins.api("POST", `/api/v1/tickets/${Number(button.dataset.checkin)}/check-in`);
    await refresh();
    const text = r.ok ? `${number} checked in: it is called in its turn.` : r.message;
    if (canCall) { say(text, r.ok ? "ok" : "err"); return; }
    const line = $("issue-result"); // reception's page has no counter feedback line: its issuing line says it
    line.textContent = text;
    line.setAttribute("role", r.ok ? "status" : "alert");
  });

  if (canCall) {
    $("call-next").addEventListener("click", callNext);
    document.querySelectorAll("[data-action]").forEach((b) => b.addEventListener("click", () => ticketAction(b.dataset.action)));
    $("queues").addEventListener("click", (e) => {
      const button = e.target.closest("[data-call]");
      if (!button) return;
      const id = Number(button.dataset.call);
      callTicket(id, button.closest("li").dataset.ticket, () => $(`call-${id}`)); // the list is redrawn: find it anew
    });
    // A button, not a form submit: pressed before this script runs, it must not reload the page.
    $("counter-choice").addEventListener("submit", (e) => e.preventDefault());
    $("sit-down").addEventListener("click", () => {
      const id = Number($("counter").value) || null;
      if (!id) { say("Choose a counter in the list first, then press “Sit here”.", "err"); $("counter").focus(); return; }
      if (id === seated && sitting === null) { say(`You are already at counter ${counters.get(id).name}.`, "ok"); return; }
      chooseCounter(id);
    });
    $("leave-counter").addEventListener("click", () => chooseCounter(null));
    $("call-specific").addEventListener("submit", (e) => { e.preventDefault(); callByNumber($("call-number").value); });
    $("pause-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const reason = $("pause-reason").value;
      pauseOrResume("pause", { reason }, `Counter paused (${$("pause-reason").selectedOptions[0].textContent.toLowerCase()}). Nobody is called here until you resume.`);
    });
    $("resume").addEventListener("click", () => pauseOrResume("resume", undefined, "Counter resumed: call the next customer when ready."));
  }

  const KEYS = { i: () => issuing.focus() };
  if (canCall) {
    Object.assign(KEYS, { n: callNext, r: () => ticketAction("recall"), s: () => ticketAction("start"), d: () => ticketAction("complete"),
                          x: () => ticketAction("no-show"), q: () => ticketAction("requeue"), t: openTransfer, u: () => undo.undo(),
                          f: () => { $("call-number").focus(); } });
    if (config.reprint) KEYS.p = () => ticketAction("reprint");
  }
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || document.querySelector("dialog[open]") || !shortcuts.enabled()) return;
    const tag = (e.target.tagName || "").toLowerCase();
    const typing = tag === "input" ? !["checkbox", "radio", "button", "submit"].includes(e.target.type) : ["select", "textarea"].includes(tag);
    if (typing || e.target.isContentEditable) return; // letters typed into a field are text, not commands
    const handler = KEYS[e.key.toLowerCase()];
    if (handler && !e.repeat) { e.preventDefault(); handler(); }
  });

  // -- start ---------------------------------------------------------------------------------------------
  function onEvents(events) {
    if (window.WinsHelp) WinsHelp.onEvents(events);
    const lost = window.WinsSeat && WinsSeat.takenFrom(events, config.user.id);
    if (lost && lost.counter_id === seated) { counterId = seated = null; render(); }
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
    if (!canCall) { startStream(); return; }
    const remembered = counterId && counters.get(counterId);
    if (remembered && remembered.staff_id === null) {
      await chooseCounter(counterId); // sit back down at the remembered counter
    } else if (remembered && remembered.staff_id !== config.user.id) {
      say(`Counter ${remembered.name} is taken by ${remembered.staff_name}. Choose your counter.`, "err");
      counterId = seated = null;
      render();
    }
    if (seated) $("counter").value = String(seated);
    startStream();
  })();

  function startStream() {
    Wins.follow({
      since: snapshot ? snapshot.last_event_id : null,
      onEvents,
      onReconnect: () => { scheduleRefresh(); if (window.WinsHelp) WinsHelp.reload(); },
      onState: Wins.indicator($("conn")),
    });
  }
})();
