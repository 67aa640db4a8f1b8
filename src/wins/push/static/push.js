// "Notify me" on the tracking page (/t/{token}): asks the server whether push works here, then subscribes this
// phone through its own service worker (/push/sw.js). Without internet for push, says so instead of a button.
"use strict";
(function () {
  const box = document.getElementById("push-box");
  if (!box) return;
  const token = location.pathname.split("/")[2] || "";
  const api = "/api/v1/public/tickets/" + encodeURIComponent(token) + "/push";
  const text = document.getElementById("push-text");
  const button = document.getElementById("push-button");
  const lang = (document.documentElement.lang || "en").slice(0, 8);
  // The page's words (wins.display.i18n, in the page's language), English if the page has none.
  let said = {};
  try { said = JSON.parse(document.getElementById("wins-config").textContent).strings || {}; } catch (e) { said = {}; }
  const w = {
    ask: said.push_ask || "Notify me when it is nearly my turn",
    on: said.push_on || "Notifications are on for this ticket.",
    denied: said.push_denied || "Notifications are blocked in this browser's settings.",
    unsupported: said.push_unsupported || "This browser cannot show notifications; keep this page open.",
    failed: said.push_failed || "Could not switch notifications on; keep this page open."
  };

  // The worker's scope is /push/, not this page, so navigator.serviceWorker.ready would never resolve here:
  // wait for this registration's own worker to be active (subscribe() needs an active worker).
  function activated(reg) {
    return new Promise((resolve) => {
      if (reg.active) { resolve(reg); return; }
      const worker = reg.installing || reg.waiting;
      worker.addEventListener("statechange", () => { if (worker.state === "activated") resolve(reg); });
    });
  }
  function say(message) { text.textContent = message; text.hidden = false; }
  function key(b64) {
    const raw = atob(b64.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((b64.length + 3) % 4));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }

  fetch(api, { headers: { Accept: "application/json" } }).then((r) => r.json()).then((state) => {
    box.hidden = false;
    if (!state.available) { say(state.reason); return; }
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) { say(w.unsupported); return; }
    if (state.subscribed > 0) { say(w.on); return; }
    button.textContent = w.ask;
    button.hidden = false;
    button.addEventListener("click", () => {
      button.disabled = true;
      Notification.requestPermission().then((permission) => {
        if (permission !== "granted") throw new Error("denied");
        return navigator.serviceWorker.register("/push/sw.js", { scope: "/push/" });
      }).then(activated)
        .then((reg) => reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key(state.public_key) }))
        .then((sub) => fetch(api, {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify(Object.assign(sub.toJSON(), { language: lang })),
        })).then((r) => {
          if (!r.ok) return r.json().then((e) => { throw new Error(e.detail || "failed"); });
          button.hidden = true; say(w.on);
        }).catch((err) => {
          button.disabled = false;
          say(err && err.message === "denied" ? w.denied : (err && typeof err.message === "string" && err.message.length > 12 ? err.message : w.failed));
        });
    });
  }).catch(() => {});
})();
