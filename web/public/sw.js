// Copydesk service worker: shows Web Push notifications and opens the post on a click
// (focusing a tab already showing the app if there is one). Payload (JSON):
// {title, body, url, tag?, icon?} — anything else is shown as plain text.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { body: event.data ? event.data.text() : '' };
  }
  const n = data.notification && typeof data.notification === 'object' ? { ...data, ...data.notification } : data;
  const title = n.title || 'Copydesk';
  const url = n.url || '/';
  event.waitUntil(
    self.registration.showNotification(title, {
      body: n.body || '',
      icon: n.icon || '/favicon.svg',
      badge: '/favicon.svg',
      tag: n.tag || n.id || undefined,
      data: { url },
      actions: [{ action: 'open', title: n.post_id || /\/posts\//.test(url) ? 'Open post' : 'Open' }],
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const raw = (event.notification.data && event.notification.data.url) || '/';
  const target = new URL(raw, self.location.origin);
  // Only ever navigate within this app.
  const url = target.origin === self.location.origin ? target.href : self.location.origin + '/';
  event.waitUntil(
    (async () => {
      const tabs = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const same = tabs.find((c) => c.url === url);
      if (same) return same.focus();
      const any = tabs.find((c) => new URL(c.url).origin === self.location.origin);
      if (any) {
        await any.focus();
        if ('navigate' in any) return any.navigate(url).catch(() => self.clients.openWindow(url));
        return undefined;
      }
      return self.clients.openWindow(url);
    })(),
  );
});
