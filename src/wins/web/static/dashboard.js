/* The manager dashboard: the server renders the body; this swaps in a fresh copy when the stream says
 * something changed (and every 20 s, so the waiting times keep moving). */
"use strict";

(function () {
  const body = document.getElementById("dashboard-body");
  let timer = null;
  let loading = false;

  async function reload() {
    if (loading) return;
    loading = true;
    try {
      const r = await fetch("/dashboard/live", { credentials: "same-origin" });
      if (r.ok && !r.redirected) body.innerHTML = await r.text();
    } catch (err) {
      /* the stream indicator already says the connection is lost */
    } finally {
      loading = false;
    }
  }
  const soon = () => { clearTimeout(timer); timer = setTimeout(reload, 150); };
  setInterval(reload, 20000);
  Wins.follow({
    since: Number(body.dataset.lastEventId),
    onEvents: (events) => { if (window.WinsHelp) WinsHelp.onEvents(events); soon(); },
    onReconnect: () => { if (window.WinsHelp) WinsHelp.reload(); soon(); },
    onState: Wins.indicator(document.getElementById("conn")),
  });
})();
