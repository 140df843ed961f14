// What the app's two WebSockets (the collab document and the event stream) share about
// authentication and reconnecting:
//
// - Opening: every (re)connect buys a single-use ticket (`POST /api/auth/ws-ticket`) with
//   an access token that is good for a while yet, and puts it in the URL (`?ticket=`). A
//   ticket is never reused; the access token never goes into a URL.
// - Staying open: a socket's access lasts until the `exp` of the access token its ticket
//   was bought with. While a socket is open the session renews the access token before it
//   expires (`keepAccessFresh`) and the socket sends every new token in band.
// - Close codes: 4401 the access ran out (renew, reconnect with a new ticket); 4403 access
//   lost (no reconnecting); 1008 policy (too many messages or connections: back off, renew);
//   1013 try again (reconnect); other 44xx permanent; anything else transient.
import { ApiError, accessTokenVersion, freshAccessToken, readRefresh, sessionLost, wsTicket } from '../api';

export const CLOSE_AUTH_EXPIRED = 4401;
export const CLOSE_ACCESS_LOST = 4403;
export const CLOSE_POLICY = 1008;
export const CLOSE_TRY_AGAIN = 1013;

export type TicketResult =
  /** `version`: the access token version the ticket was bought with. */
  | { kind: 'ok'; ticket: string; version: number }
  /** The session is over (the app is on its way to sign-in). */
  | { kind: 'lost' }
  /** Could not get one now (offline, throttled, server trouble): try again after `after` ms. */
  | { kind: 'retry'; after: number | null };

/**
 * A ticket for one socket, renewing the access token first when it is near expiry, or when
 * `force` — unless the token has changed since `usedVersion` (the version the closed socket
 * had: another socket or tab renewed it meanwhile, so it is new enough).
 */
export async function getTicket(force = false, usedVersion?: number): Promise<TicketResult> {
  const renew = force && (usedVersion === undefined || accessTokenVersion() === usedVersion);
  const token = await freshAccessToken(undefined, renew);
  if (!token) {
    if (!readRefresh()) {
      sessionLost();
      return { kind: 'lost' };
    }
    return { kind: 'retry', after: null };
  }
  try {
    const version = accessTokenVersion();
    const t = await wsTicket();
    if (!t || typeof t.ticket !== 'string' || !t.ticket) return { kind: 'retry', after: null };
    // The version from before the request: if the token changed meanwhile, the socket sends
    // the newer one in band as soon as it opens (harmless if the ticket already had it).
    return { kind: 'ok', ticket: t.ticket, version };
  } catch (e) {
    if (e instanceof ApiError) {
      // request() has already sent the app to sign-in if the session is gone.
      if (e.status === 401 && !readRefresh()) return { kind: 'lost' };
      return { kind: 'retry', after: e.retryAfter != null ? e.retryAfter * 1000 : null };
    }
    return { kind: 'retry', after: null };
  }
}

/** Exponential backoff with jitter: `attempt` 0 → ~base, doubling up to `max`. */
export function backoff(attempt: number, base = 250, max = 10_000): number {
  const d = Math.min(max, base * 2 ** Math.min(Math.max(0, attempt), 10));
  return Math.round(d * (0.75 + Math.random() * 0.5));
}
