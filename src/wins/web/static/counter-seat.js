/* Counter seats in the workspace (issue 13): when the server refuses to move, close or call because a ticket
 * would be stranded (409 ticket_held) or the counter is someone else's (409 counter_occupied), a real dialog
 * asks what to do; the choice is sent again with the same request. Esc or Cancel changes nothing.
 * Also tells the person whose counter was taken over (event counter.taken_over).
 *
 * staff.js calls WinsSeat.settle(answer, send, context) with each counter request's answer, and
 * WinsSeat.takenFrom(events, userId) with each batch of events. */
"use strict";

window.WinsSeat = (function () {
  const $ = (id) => document.getElementById(id);
  const dialog = $("seat-dialog");
  const CODES = new Set(["ticket_held", "counter_occupied"]);

  function handles(r) {
    return !r.ok && r.status === 409 && r.data && CODES.has(r.data.code);
  }

  function option(value, text) {
    const el = document.createElement("option");
    el.value = value;
    el.textContent = text;
    return el;
  }

  function group(label, options) {
    const el = document.createElement("optgroup");
    el.label = label;
    el.append(...options);
    return el;
  }

  // One question at a time; resolves with the fields to add to the request, or null (cancelled).
  function ask(r, context) {
    const held = r.data.code === "ticket_held";
    $("seat-title").textContent = held ? "A customer is still at the counter" : "This counter is taken";
    $("seat-message").textContent = r.message;
    $("seat-held").hidden = !held;
    $("seat-confirm").textContent = held ? "Do it and carry on" : "Take over the counter";
    const transfer = $("seat-transfer");
    if (held) {
      const counters = context.counters.filter((c) => c.is_open && !c.ticket && c.staff_id !== context.userId);
      transfer.replaceChildren(option("", "Choose…"),
        ...(counters.length ? [group("An open counter (the customer is called there)",
          counters.map((c) => option(`counter:${c.id}`, `Counter ${c.name}${c.staff_name ? ` (${c.staff_name})` : ""}`)))] : []),
        group("Another service's queue", context.services.filter((s) => s.active).map((s) => option(`service:${s.id}`, s.name))));
      dialog.querySelectorAll('input[name="seat-held"]').forEach((input) => { input.checked = false; });
    }
    $("seat-error").textContent = "";
    return new Promise((resolve) => {
      const form = $("seat-form");
      const done = (value) => {
        form.removeEventListener("submit", onSubmit);
        $("seat-cancel").removeEventListener("click", onCancel);
        dialog.removeEventListener("cancel", onCancel);
        if (dialog.open) dialog.close();
        resolve(value);
      };
      const onCancel = (e) => { e.preventDefault(); done(null); };
      const onSubmit = (e) => {
        e.preventDefault();
        if (!held) { done({ take_over: true }); return; }
        const picked = dialog.querySelector('input[name="seat-held"]:checked');
        if (!picked) { $("seat-error").textContent = "Choose what happens to the ticket."; dialog.querySelector('input[name="seat-held"]').focus(); return; }
        if (picked.value !== "transfer") { done({ held_ticket: picked.value }); return; }
        const [kind, id] = transfer.value.split(":");
        if (!id) { $("seat-error").textContent = "Choose where to transfer the ticket."; transfer.focus(); return; }
        done({ held_ticket: "transfer", [kind === "counter" ? "to_counter_id" : "to_service_id"]: Number(id) });
      };
      form.addEventListener("submit", onSubmit);
      $("seat-cancel").addEventListener("click", onCancel);
      dialog.addEventListener("cancel", onCancel); // Esc
      dialog.showModal();
      (held ? dialog.querySelector('input[name="seat-held"]') : $("seat-confirm")).focus();
    });
  }

  /* answer: what the first request got; send(extra): the same request with fields added. Resolves with the
   * final answer; a cancelled dialog gives the refusal back, marked `cancelled`. */
  async function settle(answer, send, context) {
    let r = answer;
    let extra = {};
    for (let round = 0; round < 3 && handles(r); round++) {
      const more = await ask(r, context());
      if (!more) return { ...r, cancelled: true, message: `Nothing changed. ${r.message}` };
      extra = { ...extra, ...more };
      r = await send(extra);
    }
    return r;
  }

  // The person whose counter someone took over reads it on their screen until they dismiss it.
  function takenFrom(events, userId) {
    const lost = events.find((e) => e.type === "counter.taken_over" && e.data.previous_staff_id === userId);
    if (!lost) return null;
    Wins.api("GET", "/api/v1/counters").then((r) => {
      const counter = r.ok ? r.data.find((c) => c.id === lost.data.counter_id) : null;
      const who = counter && counter.staff_name ? counter.staff_name : "a colleague";
      const notice = $("seat-notice");
      $("seat-notice-text").textContent = `Counter ${lost.data.counter_name} was taken over by ${who} at ` +
        `${new Date(lost.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}. ` +
        "You no longer sit there: choose a counter to carry on.";
      notice.hidden = false;
      $("seat-notice-close").focus();
    });
    return lost.data;
  }

  if ($("seat-notice-close")) {
    $("seat-notice-close").addEventListener("click", () => { $("seat-notice").hidden = true; $("counter").focus(); });
  }

  return { settle, takenFrom, handles };
})();
