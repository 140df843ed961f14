// Token storage: the short-lived access token lives only in memory; the refresh token is
// kept in localStorage so a reload can resume the session.
import type { AuthResponse, User } from './auth';

const REFRESH_KEY = 'copydesk.refresh_token';

let accessToken: string | null = null;
/** When the access token stops being accepted (ms since epoch), from `expires_in`. */
let accessExpiresAt = 0;
let refreshInFlight: Promise<boolean> | null = null;
type AuthListener = (user: User | null) => void;
const authListeners = new Set<AuthListener>();
let currentUser: User | null = null;

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

/** The access token held now (may be expired), for the Authorization header. */
export function currentAccessToken(): string | null {
  return accessToken;
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

/** Store the tokens of a successful sign-in / verify / refresh. */
export function applyAuth(res: AuthResponse): void {
  accessToken = res.access_token;
  accessExpiresAt = Date.now() + Math.max(0, Number(res.expires_in) || 0) * 1000;
  writeRefresh(res.refresh_token);
  setCurrentUser(res.user);
}

export function clearSession(): void {
  accessToken = null;
  accessExpiresAt = 0;
  writeRefresh(null);
  setCurrentUser(null);
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

async function doRefresh(): Promise<boolean> {
  const rt = readRefresh();
  if (!rt) return false;
  try {
    const res = await fetch('/api/auth/refresh', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ refresh_token: rt }),
    });
    if (!res.ok) {
      // Only drop the refresh token when the server rejected it.
      if (res.status === 401 || res.status === 400) writeRefresh(null);
      return false;
    }
    applyAuth((await res.json()) as AuthResponse);
    return true;
  } catch {
    return false;
  }
}

/** Refresh the access token; concurrent callers share one request. */
export function refreshSession(): Promise<boolean> {
  if (!refreshInFlight) {
    refreshInFlight = doRefresh().finally(() => {
      refreshInFlight = null;
    });
  }
  return refreshInFlight;
}

/**
 * An access token for a WebSocket (`?token=`): the current one while it stays valid for at
 * least `minValidSecs` more, else a fresh one (`force` always refreshes). Null when the
 * session cannot be recovered.
 */
export async function freshAccessToken(minValidSecs = 30, force = false): Promise<string | null> {
  if (!force && accessToken && accessExpiresAt - Date.now() > minValidSecs * 1000) return accessToken;
  if (await refreshSession()) return accessToken;
  // A refresh that failed for a network reason leaves the old token in place.
  return readRefresh() ? accessToken : null;
}

/** ws:// or wss:// origin of this page, for the API's WebSocket endpoints. */
export function wsOrigin(): string {
  return location.origin.replace(/^http/, 'ws');
}

/** Called when a WebSocket finds the session gone for good: back to sign-in. */
export function sessionLost(): void {
  clearSession();
  onSessionExpired();
}
