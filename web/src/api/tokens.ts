// Tokens and the session they make.
//
// - The short-lived access token lives only in memory; the refresh token is kept in
//   localStorage so a reload can resume the session.
// - Refresh tokens rotate: every refresh spends the one presented. Tabs share the refresh
//   token (localStorage), so only one refresh may run at a time across all tabs: it runs
//   under the Web Lock `copydesk-refresh` (a localStorage lease where Web Locks are missing),
//   reads the refresh token inside the lock, and the tab that refreshed shares the new
//   access token with the others over a BroadcastChannel. A tab that waited for the lock and
//   got a token that way does not refresh at all; one that did not get it still reads the
//   rotated refresh token, never the spent one.
// - Open sockets keep their access by re-authenticating in band before the access token
//   expires: `keepAccessFresh()` makes the session refresh ~60 s before expiry (a quarter of
//   the lifetime for short ones) while any socket needs it, and `onAccessToken` tells each
//   socket about every new access token.
import type { AuthResponse, User } from './auth';

const REFRESH_KEY = 'copydesk.refresh_token';
const LEASE_KEY = 'copydesk.refresh_lease';
const LOCK_NAME = 'copydesk-refresh';
const CHANNEL_NAME = 'copydesk-auth';

let accessToken: string | null = null;
/** When the access token stops being accepted (ms since epoch), from `expires_in`. */
let accessExpiresAt = 0;
/** Lifetime of the current access token (ms), for the refresh margin. */
let accessLifetime = 0;
/** Bumped whenever the access token changes (a refresh here or in another tab, sign-in). */
let accessVersion = 0;
let refreshInFlight: Promise<boolean> | null = null;
type AuthListener = (user: User | null) => void;
const authListeners = new Set<AuthListener>();
type TokenListener = (token: string) => void;
const tokenListeners = new Set<TokenListener>();
let currentUser: User | null = null;

// ---------------------------------------------------------------- storage

export function readRefresh(): string | null {
  try {
    return localStorage.getItem(REFRESH_KEY);
  } catch {
    return null;
  }
}

function writeRefresh(token: string | null): void {
  try {
    if (token) localStorage.setItem(REFRESH_KEY, token);
    else localStorage.removeItem(REFRESH_KEY);
  } catch {
    /* storage unavailable: session lasts until reload */
  }
}

// ---------------------------------------------------------------- other tabs

interface TokensMessage {
  type: 'tokens';
  access_token: string;
  expires_at: number;
  lifetime: number;
  user: User | null;
}
type TabMessage = TokensMessage | { type: 'logout' };

const channel: BroadcastChannel | null = (() => {
  try {
    return typeof BroadcastChannel === 'function' ? new BroadcastChannel(CHANNEL_NAME) : null;
  } catch {
    return null;
  }
})();

function tellOtherTabs(msg: TabMessage): void {
  try {
    channel?.postMessage(msg);
  } catch {
    /* closed channel: the other tabs will refresh for themselves */
  }
}

function fromOtherTab(msg: TabMessage): void {
  if (!msg || typeof msg !== 'object') return;
  if (msg.type === 'tokens') {
    if (typeof msg.access_token !== 'string' || msg.expires_at <= accessExpiresAt) return;
    if (currentUser && msg.user && msg.user.id !== currentUser.id) {
      // Someone else signed in in another tab: this tab's session is gone (the refresh token
      // is shared). Start over as them rather than mixing two users.
      location.reload();
      return;
    }
    setAccess(msg.access_token, msg.expires_at, msg.lifetime);
    if (msg.user && !currentUser) setCurrentUser(msg.user);
  } else if (msg.type === 'logout') {
    endSessionHere();
  }
}

channel?.addEventListener('message', (e: MessageEvent) => fromOtherTab(e.data as TabMessage));

// Without BroadcastChannel, the refresh token disappearing from storage is how another
// tab's sign-out (or a refused refresh) shows.
if (typeof window !== 'undefined') {
  window.addEventListener('storage', (e) => {
    if (e.key === REFRESH_KEY && e.newValue === null && e.oldValue !== null) endSessionHere();
  });
}

function endSessionHere(): void {
  if (!accessToken && !currentUser) return;
  accessToken = null;
  accessExpiresAt = 0;
  accessVersion++;
  scheduleKeepFresh();
  setCurrentUser(null);
  onSessionExpired();
}

// ---------------------------------------------------------------- state

function setAccess(token: string, expiresAt: number, lifetime: number): void {
  accessToken = token;
  accessExpiresAt = expiresAt;
  accessLifetime = lifetime;
  accessVersion++;
  for (const l of [...tokenListeners]) {
    try {
      l(token);
    } catch {
      /* one socket's trouble is not the session's */
    }
  }
  scheduleKeepFresh();
}

/** The access token held now (may be expired), for the Authorization header. */
export function currentAccessToken(): string | null {
  return accessToken;
}

/** Changes whenever the access token does (to tell whether a socket's token is the latest). */
export function accessTokenVersion(): number {
  return accessVersion;
}

/** Called with every new access token (own refresh, another tab's, a password change). */
export function onAccessToken(listener: TokenListener): () => void {
  tokenListeners.add(listener);
  return () => tokenListeners.delete(listener);
}

/** True when we hold a token that may let us act as a signed-in user. */
export function hasSession(): boolean {
  return accessToken !== null || readRefresh() !== null;
}

export function getCurrentUser(): User | null {
  return currentUser;
}

export function setCurrentUser(user: User | null): void {
  currentUser = user;
  for (const l of authListeners) l(user);
}

export function onAuthChange(listener: AuthListener): () => void {
  authListeners.add(listener);
  return () => authListeners.delete(listener);
}

/** Store the tokens of a successful sign-in / verify / refresh / setup. */
export function applyAuth(res: AuthResponse): void {
  const lifetime = Math.max(0, Number(res.expires_in) || 0) * 1000;
  writeRefresh(res.refresh_token);
  setAccess(res.access_token, Date.now() + lifetime, lifetime);
  if (res.user) setCurrentUser(res.user);
  tellOtherTabs({ type: 'tokens', access_token: res.access_token, expires_at: accessExpiresAt, lifetime, user: res.user ?? currentUser });
}

/**
 * A new access token for this session without a new refresh token (the answer to a
 * password change, which voids the access tokens issued before it).
 */
export function applyAccessToken(token: string, expiresIn: number): void {
  const lifetime = Math.max(0, Number(expiresIn) || 0) * 1000;
  setAccess(token, Date.now() + lifetime, lifetime);
  tellOtherTabs({ type: 'tokens', access_token: token, expires_at: accessExpiresAt, lifetime, user: currentUser });
}

export function clearSession(): void {
  const had = accessToken !== null || readRefresh() !== null;
  accessToken = null;
  accessExpiresAt = 0;
  accessVersion++;
  writeRefresh(null);
  scheduleKeepFresh();
  setCurrentUser(null);
  if (had) tellOtherTabs({ type: 'logout' });
}

/** Called when the session cannot be recovered. Set by the app (router). */
let onSessionExpired: () => void = () => {
  const next = location.pathname + location.search;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
};

export function setSessionExpiredHandler(fn: () => void): void {
  onSessionExpired = fn;
}

/** Tell the app the session is gone (it goes back to sign-in). */
export function sessionExpired(): void {
  onSessionExpired();
}

// ---------------------------------------------------------------- refresh

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface LockManagerLike {
  request<T>(name: string, cb: () => Promise<T>): Promise<T>;
}

/** Run `fn` while holding the cross-tab refresh lock. */
async function withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
  const locks = (typeof navigator !== 'undefined' ? (navigator as Navigator & { locks?: LockManagerLike }).locks : undefined) ?? null;
  if (locks && typeof locks.request === 'function') {
    try {
      return await locks.request(LOCK_NAME, fn);
    } catch (e) {
      // A lock manager that refuses (e.g. an opaque origin) falls through to the lease.
      if (e instanceof DOMException && e.name === 'SecurityError') return withLease(fn);
      throw e;
    }
  }
  return withLease(fn);
}

/** Fallback lock: a short lease in localStorage (write, wait, check that it is still ours). */
async function withLease<T>(fn: () => Promise<T>): Promise<T> {
  const me = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const read = (): { id: string; until: number } | null => {
    try {
      const v = JSON.parse(localStorage.getItem(LEASE_KEY) ?? 'null') as { id?: unknown; until?: unknown } | null;
      return v && typeof v.id === 'string' && typeof v.until === 'number' ? { id: v.id, until: v.until } : null;
    } catch {
      return null;
    }
  };
  let mine = false;
  const giveUp = Date.now() + 15_000;
  try {
    while (!mine && Date.now() < giveUp) {
      const cur = read();
      if (!cur || cur.until < Date.now()) {
        try {
          localStorage.setItem(LEASE_KEY, JSON.stringify({ id: me, until: Date.now() + 10_000 }));
        } catch {
          break; // no storage: no other tab to coordinate with either
        }
        await sleep(30);
        mine = read()?.id === me;
      } else await sleep(50 + Math.random() * 100);
    }
    return await fn();
  } finally {
    if (mine && read()?.id === me) {
      try {
        localStorage.removeItem(LEASE_KEY);
      } catch {
        /* ignore */
      }
    }
  }
}

/** The refresh itself, inside the lock. `seen`: the access token version when it was asked for. */
async function refreshLocked(seen: number, seenRefresh: string | null): Promise<boolean> {
  // Another tab refreshed while we waited and shared its token: nothing to do.
  if (accessVersion !== seen && accessToken && accessExpiresAt - Date.now() > 5000) return true;
  let rt = readRefresh();
  if (!rt) return false;
  if (rt !== seenRefresh && channel) {
    // The refresh token rotated while we waited: its new access token is on its way.
    const until = Date.now() + 1000;
    while (Date.now() < until && accessVersion === seen) await sleep(25);
    if (accessVersion !== seen && accessToken && accessExpiresAt - Date.now() > 5000) return true;
    rt = readRefresh();
    if (!rt) return false;
  }
  try {
    const res = await fetch('/api/auth/refresh', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ refresh_token: rt }),
    });
    if (!res.ok) {
      // Only drop the refresh token when the server rejected it (and no other tab has
      // stored a newer one meanwhile).
      if ((res.status === 401 || res.status === 400) && readRefresh() === rt) writeRefresh(null);
      return false;
    }
    applyAuth((await res.json()) as AuthResponse);
    return true;
  } catch {
    return false;
  }
}

/** Refresh the access token; concurrent callers (and tabs) share one request. */
export function refreshSession(): Promise<boolean> {
  if (!refreshInFlight) {
    const seen = accessVersion;
    const seenRefresh = readRefresh();
    refreshInFlight = withRefreshLock(() => refreshLocked(seen, seenRefresh)).finally(() => {
      refreshInFlight = null;
    });
  }
  return refreshInFlight;
}

/** How long before expiry the access token is renewed for open sockets (ms). */
export function refreshMargin(): number {
  return Math.min(60_000, Math.max(1000, accessLifetime / 4));
}

/**
 * An access token good for at least `minValidMs` more (default: the refresh margin),
 * refreshing first when needed (`force`: always). Null when the session cannot be
 * recovered; the old token when a refresh failed for a network reason.
 */
export async function freshAccessToken(minValidMs = refreshMargin(), force = false): Promise<string | null> {
  if (!force && accessToken && accessExpiresAt - Date.now() > minValidMs) return accessToken;
  if (await refreshSession()) return accessToken;
  return readRefresh() ? accessToken : null;
}

// ---------------------------------------------------------------- keeping sockets' access

let keepers = 0;
let keepTimer: ReturnType<typeof setTimeout> | null = null;
let keepFailures = 0;

function scheduleKeepFresh(): void {
  if (keepTimer) clearTimeout(keepTimer);
  keepTimer = null;
  if (keepers <= 0 || !readRefresh()) return;
  // A little jitter so that tabs do not all wake at the same instant (the lock sorts them out).
  const due = accessToken ? accessExpiresAt - refreshMargin() - Math.random() * 2000 - Date.now() : 0;
  const backoff = keepFailures ? Math.min(30_000, 1000 * 2 ** keepFailures) : 0;
  keepTimer = setTimeout(() => void keepFreshNow(), Math.max(backoff, due, accessToken ? 500 : 0));
}

async function keepFreshNow(): Promise<void> {
  keepTimer = null;
  if (keepers <= 0) return;
  const before = accessVersion;
  const ok = await refreshSession();
  if (ok) {
    keepFailures = 0;
    if (accessVersion === before) scheduleKeepFresh();
    return; // setAccess rescheduled
  }
  if (!readRefresh()) {
    sessionLost();
    return;
  }
  keepFailures++;
  scheduleKeepFresh();
}

/**
 * Keep the access token fresh (renewed before it expires) until the returned function is
 * called: for open sockets, which re-authenticate in band with each new token.
 */
export function keepAccessFresh(): () => void {
  keepers++;
  if (keepers === 1) scheduleKeepFresh();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    keepers--;
    if (keepers <= 0 && keepTimer) {
      clearTimeout(keepTimer);
      keepTimer = null;
    }
  };
}

// ---------------------------------------------------------------- sockets

/** ws:// or wss:// origin of this page, for the API's WebSocket endpoints. */
export function wsOrigin(): string {
  return location.origin.replace(/^http/, 'ws');
}

/** Called when a WebSocket finds the session gone for good: back to sign-in. */
export function sessionLost(): void {
  clearSession();
  onSessionExpired();
}
