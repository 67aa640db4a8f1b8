/* Parts of the counter workspace that stand on their own (staff.js wires them in): the Undo toast, issuing a
 * ticket at the desk, the single-letter-shortcuts preference and "called 2 min ago". Each talks to the REST
 * API itself; none decides a rule the server owns. */
"use strict";

window.WinsDesk = (function () {
  const $ = (id) => document.getElementById(id);

  // -- time since ------------------------------------------------------------------------------------------
  /* "just now", "1 min ago", "1 h 05 min ago", from an ISO time and the page's clock offset to the server's. */
  function ago(iso, offsetMs) {
    if (!iso) return "";
    const s = Math.max(0, Math.round((Date.now() - offsetMs - Date.parse(iso)) / 1000));
    if (s < 45) return "just now";
    const m = Math.max(1, Math.round(s / 60));
    if (m < 60) return `${m} min ago`;
    return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min ago`;
  }

  // -- undo --------------------------------------------------------------------------------------------------
  /* One offer at a time: the last Done, No-show, Requeue or Transfer, for `seconds`. The server checks the window
   * and that nothing changed since; this only shows the button while it can work. */
  function makeUndo(options) {
    const toast = $("undo-toast");
    const text = $("undo-text");
    const left = $("undo-left");
    const button = $("undo");
    let offer = null; // { ticketId, number, until }
    let timer = null;

    function hide() {
      offer = null;
      clearInterval(timer);
      if (toast) toast.hidden = true;
    }

    function tick() {
      if (!offer) return;
      const remaining = Math.ceil((offer.until - Date.now()) / 1000);
      if (remaining <= 0) {
        const wasFocused = document.activeElement === button;
        hide();
        if (wasFocused) options.focusAfter();
        return;
      }
      left.textContent = `${remaining} s`;
    }

    function show(ticketId, number, message) {
      if (!toast) return;
      offer = { ticketId, number, until: Date.now() + options.seconds * 1000 };
      text.textContent = message;
      toast.hidden = false;
      clearInterval(timer);
      timer = setInterval(tick, 250);
      tick();
    }

    async function undo() {
      if (!offer) {
        options.say("There is nothing to undo right now (Undo lasts a few seconds after Done, No-show, Requeue or Transfer).", "err");
        return;
      }
      const { ticketId, number } = offer;
      hide();
      options.focusAfter();
      const r = await Wins.api("POST", `/api/v1/tickets/${ticketId}/undo`);
      await options.refresh();
      options.say(r.ok ? `Undone: ${number} is ${r.data.status === "waiting" ? "waiting again" : `back at your counter (${r.data.status})`}.` : r.message,
                  r.ok ? "ok" : "err");
    }

    if (button) button.addEventListener("click", undo);
    return { show, hide, undo, active: () => offer !== null };
  }

  // -- issuing at the desk -----------------------------------------------------------------------------------
  /* Reception (and any staff member) issues a ticket for a customer at the desk, with a named priority category
   * if they qualify; the slip is printed on the branch printer when one is set up. */
  function makeIssuing(options) {
    const form = $("issue-form");
    const result = $("issue-result");
    if (!form) return { focus: () => {} };
    let busy = false;
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (busy) { result.textContent = "Still issuing the previous ticket…"; return; }
      const serviceId = Number($("issue-service").value);
      if (!serviceId) { result.textContent = "Choose a service first."; $("issue-service").focus(); return; }
      const category = $("issue-category").value || null;
      const body = { service_id: serviceId };
      if (category) body.priority_category = category;
      busy = true;
      $("issue").setAttribute("aria-busy", "true");
      result.className = "issue-result";
      result.textContent = "Issuing…";
      try {
        const r = await Wins.api("POST", "/api/v1/tickets", body);
        if (!r.ok) { result.className = "issue-result feedback-err"; result.textContent = r.message; return; }
        const label = category ? ` (${$("issue-category").selectedOptions[0].textContent})` : "";
        let text = `Issued ${r.data.number}${label} for ${r.data.service_name}: ${r.data.people_ahead} ahead.`;
        if (options.print) {
          const printed = await Wins.api("POST", `/api/v1/tickets/${r.data.id}/reprint`);
          text += printed.ok ? " Slip printed." : ` Slip not printed: ${printed.message} Tell the customer their number.`;
        } else {
          text += " This server prints no slips: tell the customer their number.";
        }
        result.className = "issue-result feedback-ok";
        result.textContent = text;
        $("issue-category").value = ""; // the next customer starts without a priority
      } finally {
        busy = false;
        $("issue").removeAttribute("aria-busy");
      }
    });
    return { focus: () => $("issue-service").focus() };
  }

  // -- shortcuts preference ----------------------------------------------------------------------------------
  /* WCAG 2.1.4: single-letter shortcuts can be turned off; the choice is kept on the server for the account. */
  function makeShortcuts(options) {
    const box = $("shortcuts-enabled");
    let enabled = options.enabled;
    function apply() {
      document.body.classList.toggle("no-shortcuts", !enabled);
      document.querySelectorAll("[aria-keyshortcuts]").forEach((el) => {
        if (!el.dataset.keys) el.dataset.keys = el.getAttribute("aria-keyshortcuts");
      });
      document.querySelectorAll("[data-keys]").forEach((el) => {
        if (enabled) el.setAttribute("aria-keyshortcuts", el.dataset.keys);
        else el.removeAttribute("aria-keyshortcuts");
      });
    }
    if (box) {
      box.addEventListener("change", async () => {
        const wanted = box.checked;
        const r = await Wins.api("PUT", "/api/v1/auth/me/preferences", { shortcuts_enabled: wanted });
        if (!r.ok) { box.checked = enabled; options.say(r.message, "err"); return; }
        enabled = r.data.shortcuts_enabled;
        apply();
        options.say(enabled ? "Single-letter shortcuts are on." : "Single-letter shortcuts are off. Use the buttons, or Tab to them.", "ok");
      });
    }
    apply();
    return { enabled: () => enabled };
  }

  return { ago, makeUndo, makeIssuing, makeShortcuts };
})();
