// WINS push service worker: shows the notification a push carries, opens the tracking page when tapped.
// Served by WINS itself (/push/sw.js); no library, nothing from elsewhere.
"use strict";

self.addEventListener("install", (event) => { event.waitUntil(self.skipWaiting()); });
self.addEventListener("activate", (event) => { event.waitUntil(self.clients.claim()); });

self.addEventListener("push", (event) => {
  let message = { title: "WINS", body: "" };
  try {
    if (event.data) message = Object.assign(message, event.data.json());
  } catch (_) {
    if (event.data) message.body = event.data.text();
  }
  const options = {
    body: message.body,
    tag: message.tag || "wins",
    renotify: true,
    requireInteraction: Boolean(message.called),
    data: { url: typeof message.url === "string" && message.url.startsWith("/t/") ? message.url : "/" },
  };
  event.waitUntil(self.registration.showNotification(message.title, options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL(event.notification.data && event.notification.data.url || "/", self.location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      for (const w of windows) if (w.url === url && "focus" in w) return w.focus();
      return self.clients.openWindow(url);
    })
  );
});
