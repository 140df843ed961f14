// Web Push in this browser: the service worker (public/sw.js), permission (asked only from
// a user gesture), subscribing with the server's VAPID public key and registering the
// subscription with the server.
import { addPushSubscription, removePushSubscription, vapidPublicKey } from './api';

export type PushSupport = 'supported' | 'unsupported' | 'insecure';

export function pushSupport(): PushSupport {
  if (!window.isSecureContext) return 'insecure';
  if (!('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window)) return 'unsupported';
  return 'supported';
}

export function permission(): NotificationPermission | 'unsupported' {
  return 'Notification' in window ? Notification.permission : 'unsupported';
}

function urlBase64ToUint8Array(base64: string): Uint8Array<ArrayBuffer> {
  const pad = '='.repeat((4 - (base64.length % 4)) % 4);
  const raw = atob((base64 + pad).replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function b64url(buf: ArrayBuffer | null): string {
  if (!buf) return '';
  let s = '';
  for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function registerServiceWorker(): Promise<ServiceWorkerRegistration> {
  return navigator.serviceWorker.register('/sw.js', { scope: '/' });
}

/** This browser's current subscription, if any (without asking anything). */
export async function currentSubscription(): Promise<PushSubscription | null> {
  if (pushSupport() !== 'supported') return null;
  const reg = await navigator.serviceWorker.getRegistration('/');
  return (await reg?.pushManager.getSubscription()) ?? null;
}

/**
 * Turn push on in this browser. Call from a click handler: the permission prompt needs a
 * user gesture. Returns the server's id of the subscription.
 */
export async function enablePush(): Promise<string> {
  if (pushSupport() === 'insecure') throw new Error('Push needs the site to be served over HTTPS.');
  if (pushSupport() !== 'supported') throw new Error('This browser does not support push notifications.');
  const perm = await Notification.requestPermission();
  if (perm !== 'granted') throw new Error(perm === 'denied' ? 'Notifications are blocked for this site in the browser settings.' : 'Permission was not given.');
  const reg = await registerServiceWorker();
  await navigator.serviceWorker.ready;
  const key = await vapidPublicKey();
  let sub = await reg.pushManager.getSubscription();
  // A subscription made with another key (the server's key changed) cannot be reused.
  const oldKey = sub?.options.applicationServerKey ? b64url(sub.options.applicationServerKey) : null;
  if (sub && oldKey && oldKey !== key.replace(/=+$/, '')) {
    await sub.unsubscribe();
    sub = null;
  }
  sub ??= await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: urlBase64ToUint8Array(key) });
  const res = await addPushSubscription({
    endpoint: sub.endpoint,
    keys: { p256dh: b64url(sub.getKey('p256dh')), auth: b64url(sub.getKey('auth')) },
    user_agent: navigator.userAgent,
  });
  return res.id;
}

/** Remove a registered browser; when it is this one, unsubscribe here too. */
export async function disablePush(id: string, isThisBrowser: boolean): Promise<void> {
  await removePushSubscription(id);
  if (isThisBrowser) await (await currentSubscription())?.unsubscribe();
}
