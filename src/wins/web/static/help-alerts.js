/* "Help needed at <kiosk>": a customer pressed "I need help" on a kiosk. Shown on the counter workspace and
 * the dashboard until a member of staff says "On my way" (POST …/help/acknowledge), which clears it on every
 * staff screen through the event stream (device.help_acknowledged). "Hide" only hides it on this screen.
 * The page's own script passes its stream events to WinsHelp.onEvents (one stream per page). */
"use strict";

window.WinsHelp = (function () {
  const box = document.getElementById("help-alerts");
  const open = new Map(); // device_id -> {device_id, name, at}
  const hidden = new Set();
  const note = document.createElement("p");

  function time(at) {
    const d = new Date(at);
    return Number.isNaN(d.getTime()) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function button(text, cls, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = cls;
    b.textContent = text;
    b.addEventListener("click", onClick);
    return b;
  }

  function render() {
    if (!box) return;
    const alerts = [...open.values()].filter((a) => !hidden.has(a.device_id)).map((a) => {
      const el = document.createElement("div");
      el.className = "help-alert";
      el.setAttribute("role", "alert");
      el.dataset.device = String(a.device_id);
      const text = document.createElement("strong");
      text.textContent = `Help needed at ${a.name}`; // textContent: a kiosk's name is never HTML
      const since = document.createElement("span");
      since.textContent = time(a.at) ? ` since ${time(a.at)}` : "";
      el.append(text, since,
        button("On my way", "btn btn-primary", () => acknowledge(a.device_id)),
        button("Hide", "btn", () => { hidden.add(a.device_id); render(); }));
      return el;
    });
    box.replaceChildren(...alerts, ...(note.textContent ? [note] : []));
  }

  async function acknowledge(id) {
    const r = await Wins.api("POST", `/api/v1/devices/${id}/help/acknowledge`);
    note.textContent = r.ok || r.status === 409 ? "" : r.message;
    if (r.ok || r.status === 409) open.delete(id); // 409: a colleague was quicker
    render();
  }

  async function load(attempt = 0) {
    const r = await Wins.api("GET", "/api/v1/devices/help");
    if (!r.ok) {
      // A blip at page load must not hide a customer waiting for help: try again, more slowly each time.
      if (attempt < 8) setTimeout(() => load(attempt + 1), 1000 * (attempt + 1));
      return;
    }
    open.clear();
    for (const a of r.data) open.set(a.device_id, a);
    render();
  }

  function onEvents(events) {
    let changed = false;
    for (const e of events) {
      if (e.type === "device.help_requested") {
        open.set(e.data.device_id, e.data);
        hidden.delete(e.data.device_id);
        changed = true;
      } else if (e.type === "device.help_acknowledged") {
        open.delete(e.data.device_id);
        changed = true;
      }
    }
    if (changed) render();
  }

  load();
  return { onEvents, reload: () => load() };
})();
