/* The dashboard's "Stranded tickets": Requeue and Reassign buttons call the REST API (manager). The body is
 * redrawn by dashboard.js when the stream reports the change, so this only acts and says what happened. */
"use strict";

(function () {
  const body = document.getElementById("dashboard-body");
  const feedback = document.getElementById("stranded-feedback");
  if (!body || !feedback) return;

  function say(text, ok) {
    feedback.textContent = text;
    feedback.className = `feedback feedback-${ok ? "ok" : "err"}`;
    feedback.setAttribute("role", ok ? "status" : "alert");
  }

  body.addEventListener("click", async (e) => {
    const button = e.target.closest("[data-fix]");
    if (!button) return;
    const row = button.closest("[data-stranded]");
    const id = row.dataset.stranded;
    const number = row.dataset.number;
    button.disabled = true;
    let r;
    if (button.dataset.fix === "requeue") {
      r = await Wins.api("POST", `/api/v1/tickets/${id}/requeue`);
      if (r.ok) say(`${number} is back at the front of its queue.`, true);
    } else {
      const select = row.querySelector("[data-reassign-to]");
      r = await Wins.api("POST", `/api/v1/tickets/${id}/reassign`, { counter_id: Number(select.value) });
      if (r.ok) say(`${number} is called to counter ${r.data.counter_name}.`, true);
    }
    if (!r.ok) { say(r.message, false); button.disabled = false; } else { feedback.focus(); }
  });
})();
