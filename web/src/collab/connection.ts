// One live post document: a Y.Doc synced over the server's y-websocket endpoint
// (`/api/collab/<postId>?ticket=…`), with awareness (who is here, cursors).
//
// - Tickets (see socketAuth.ts): the stock WebsocketProvider reconnects by itself with the
//   same URL, which would present a spent ticket. So we drive it: on every close we stop its
//   own reconnect (`shouldConnect = false`, set before its retry timer fires), buy a new
//   ticket, put it in `provider.params` just for the `connect()` call (the provider builds the
//   URL from `params` synchronously there) and clear it again. The Y.Doc and the provider
//   stay the same across reconnects, so edits made while disconnected are synced on the
//   next connection (sync step 1/2 both ways).
// - In-band re-authentication: every new access token is sent on the open socket as
//   y-protocols message 2 (auth), subtype 1 (token), so the server keeps it open past the
//   ticket's token expiry.
// - Close codes: 4401 → renew the token (signed out elsewhere or password reset: the
//   refresh fails and the app goes to sign-in), reconnect with a new ticket; 4403 → access
//   lost (removed from the workspace, post deleted or unshared): no reconnecting; 1008 →
//   back off (and renew; three in a row right after connecting → stop, the page holds an
//   edit the server refuses); 1013 → reconnect; other 44xx → permanent.
// - Read-only: the server answers refused updates, and a demotion to a read-only role while
//   connected, with the y-protocols auth message "permission denied" (message 2, subtype 0):
//   that turns `denied` on, and the editors go read-only.
import * as Y from 'yjs';
import type { Awareness } from 'y-protocols/awareness';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { WebsocketProvider, messageAuth } from 'y-websocket';
import { ApiError, accessTokenVersion, currentAccessToken, getPost, keepAccessFresh, onAccessToken, wsOrigin } from '../api';
import { userColor, userColorLight } from './colors';
import { CLOSE_ACCESS_LOST, CLOSE_AUTH_EXPIRED, CLOSE_POLICY, CLOSE_TRY_AGAIN, backoff, getTicket } from './socketAuth';

export type CollabStatus = 'connecting' | 'connected' | 'synced' | 'offline' | 'closed';

export interface CollabState {
  status: CollabStatus;
  /** The document has been synced with the server at least once (its content is real). */
  loaded: boolean;
  /** The server refused our updates (read-only role, or demoted while here): the reason it gave. */
  denied: string | null;
  /** Why the connection ended for good. */
  closedReason: string | null;
  /** The user no longer has access to this post (4403): nothing will reconnect. */
  accessLost: boolean;
}

export interface PresenceUser {
  id: string;
  name: string;
  color: string;
  /** Awareness client ids of this user (one per open editor tab). */
  clients: number[];
  self: boolean;
}

/** y-protocols auth message subtypes. */
const AUTH_PERMISSION_DENIED = 0;
const AUTH_TOKEN = 1;

export const ACCESS_LOST_TEXT = 'You no longer have access to this post.';

/** The in-band re-authentication frame: varUint(2) varUint(1) varString(access token). */
export function authTokenFrame(token: string): Uint8Array<ArrayBuffer> {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, messageAuth);
  encoding.writeVarUint(enc, AUTH_TOKEN);
  encoding.writeVarString(enc, token);
  return new Uint8Array(encoding.toUint8Array(enc));
}

export class CollabConnection {
  readonly doc = new Y.Doc();
  readonly provider: WebsocketProvider;
  readonly awareness: Awareness;
  private state: CollabState = { status: 'connecting', loaded: false, denied: null, closedReason: null, accessLost: false };
  private listeners = new Set<(s: CollabState) => void>();
  private destroyed = false;
  private finished = false;
  private openedThisAttempt = false;
  /** Connections in a row that closed before they opened (the ticket may be refused, or the post gone). */
  private failedOpens = 0;
  /** Connections in a row that closed before they synced (for the backoff). */
  private unsynced = 0;
  private lastForcedRefresh = 0;
  /** When the current socket opened (ms), to tell a socket closed at once from one that lived. */
  private openedAt = 0;
  /** Sockets in a row closed within seconds of opening (backoff, so nothing spins). */
  private quickCloses = 0;
  /** 1008 closes in a row soon after opening: the server keeps refusing something we send. */
  private policyStrikes = 0;
  /** Access token version the current socket's ticket was bought with. */
  private ticketVersion = -1;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private connecting = false;
  private releaseFresh: () => void;
  private offToken: () => void;

  constructor(
    readonly postId: string,
    readonly user: { id: string; name: string },
  ) {
    this.provider = new WebsocketProvider(`${wsOrigin()}/api/collab`, postId, this.doc, {
      connect: false,
      params: {},
      // Every change goes through the server, which checks the role (no tab-to-tab shortcut).
      disableBc: true,
      // Reconnecting is ours (each attempt needs a new ticket); see onClose.
      shouldReconnect: () => true,
    });
    this.awareness = this.provider.awareness;
    this.awareness.setLocalStateField('user', {
      id: user.id,
      name: user.name,
      color: userColor(user.id),
      colorLight: userColorLight(user.id),
    });

    // Auth messages: "permission denied" makes the editors read-only (y-websocket only logs it).
    this.provider.messageHandlers[messageAuth] = (_enc: unknown, decoder: decoding.Decoder) => {
      const sub = decoding.readVarUint(decoder);
      if (sub === AUTH_PERMISSION_DENIED) {
        let reason = '';
        try {
          reason = decoding.readVarString(decoder);
        } catch {
          /* no reason given */
        }
        this.set({ denied: reason || 'permission denied' });
      }
    };

    this.provider.on('status', ({ status }) => {
      if (status === 'connected') {
        this.openedThisAttempt = true;
        this.openedAt = Date.now();
        this.failedOpens = 0;
        this.set({ status: 'connected' });
        // The token changed between buying the ticket and now: hand the new one over at once.
        if (accessTokenVersion() !== this.ticketVersion) {
          const t = currentAccessToken();
          if (t) this.sendAuth(t);
        }
      } else if (status === 'connecting') {
        if (this.state.status !== 'offline') this.set({ status: 'connecting' });
      } else if (this.state.status !== 'closed') {
        this.set({ status: 'offline' });
      }
    });
    this.provider.on('sync', (synced: boolean) => {
      if (!synced) return;
      this.unsynced = 0;
      this.set({ status: 'synced', loaded: true });
    });
    this.provider.on('connection-close', (ev: CloseEvent | null) => this.onClose(ev));

    this.releaseFresh = keepAccessFresh();
    this.offToken = onAccessToken((token) => this.sendAuth(token));
    void this.connect(false);
  }

  get snapshot(): CollabState {
    return this.state;
  }

  subscribe(fn: (s: CollabState) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private set(patch: Partial<CollabState>): void {
    if (this.destroyed) return;
    if (Object.entries(patch).every(([k, v]) => this.state[k as keyof CollabState] === v)) return;
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l(this.state);
  }

  /** Send a fresh access token on the open socket (in-band re-authentication). */
  private sendAuth(token: string): void {
    const ws = this.provider.ws;
    if (!ws || !this.provider.wsconnected || ws.readyState !== WebSocket.OPEN) return;
    try {
      ws.send(authTokenFrame(token));
      this.ticketVersion = accessTokenVersion();
    } catch {
      /* the close handler takes it from here */
    }
  }

  /** Buy a ticket (renewing the token first if `force` or near expiry), then connect with it. */
  private async connect(force: boolean): Promise<void> {
    if (this.destroyed || this.finished || this.connecting) return;
    this.connecting = true;
    try {
      if (force) this.lastForcedRefresh = Date.now();
      const t = await getTicket(force, this.ticketVersion);
      if (this.destroyed || this.finished) return;
      if (t.kind === 'lost') {
        this.finish('Your session has ended.', false);
        return;
      }
      if (t.kind === 'retry') {
        this.unsynced++;
        this.schedule(Math.max(t.after ?? 0, backoff(this.unsynced, 500, 15_000)), false);
        return;
      }
      if (this.provider.ws) return; // still (or already) connected
      this.ticketVersion = t.version;
      // The provider reads `url` (built from params) synchronously in connect(); the
      // ticket is gone from params right after, so nothing can present it twice.
      this.provider.params = { ticket: t.ticket };
      this.provider.connect();
      this.provider.params = {};
    } finally {
      this.connecting = false;
    }
  }

  private schedule(delay: number, force: boolean): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect(force);
    }, delay);
  }

  /** Stop for good: no more reconnecting. */
  private finish(reason: string, accessLost: boolean): void {
    this.finished = true;
    this.provider.shouldConnect = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.releaseFresh();
    this.set({ status: 'closed', closedReason: reason, accessLost });
  }

  private onClose(ev: CloseEvent | null): void {
    if (this.destroyed) return;
    // Hold the provider's own reconnect (it would reuse the spent ticket): ours buys a new one.
    this.provider.shouldConnect = false;
    if (this.finished) return;
    const opened = this.openedThisAttempt;
    this.openedThisAttempt = false;
    if (!opened) this.failedOpens++;
    if (this.state.status !== 'synced') this.unsynced++;
    const code = ev?.code ?? 0;
    const lived = opened ? Date.now() - this.openedAt : 0;
    if (opened && lived < 10_000) this.quickCloses++;
    else if (opened && lived > 30_000) {
      this.quickCloses = 0;
      this.policyStrikes = 0;
    }

    if (code === CLOSE_ACCESS_LOST) {
      // Removed from the workspace, post deleted or no longer shared. (Signing out elsewhere
      // or a password reset closes with 4401: the refresh then fails and sign-in follows.)
      this.finish(ACCESS_LOST_TEXT, true);
      return;
    }
    if (code >= 4400 && code < 4500 && code !== CLOSE_AUTH_EXPIRED) {
      this.finish(ev?.reason || `Closed by the server (${code}).`, code === 4404);
      return;
    }

    let force = false;
    let delay = backoff(this.unsynced, 100, 10_000);
    if (code === CLOSE_AUTH_EXPIRED) {
      force = true; // our access ran out: renew it, then a new ticket
    } else if (code === CLOSE_POLICY) {
      // Too many messages or connections, or an edit the server refuses: back off properly;
      // renew the token unless just done. If it keeps refusing right after each resync, it is
      // something this page holds (the Y.Doc resends it every time): stop, say so.
      if (opened && lived < 10_000 && ++this.policyStrikes >= 3) {
        this.finish(`The server keeps refusing this page's changes${ev?.reason ? ` (${ev.reason})` : ''}. Reload the page to continue.`, false);
        return;
      }
      delay = Math.max(delay, backoff(this.unsynced, 1000, 30_000));
      force = Date.now() - this.lastForcedRefresh > 30_000;
    } else if (code === CLOSE_TRY_AGAIN) {
      delay = Math.max(delay, 250);
    }
    // Sockets that keep closing right after opening (e.g. 4401 again and again) back off.
    if (this.quickCloses > 1) delay = Math.max(delay, backoff(this.quickCloses - 1, 500, 30_000));

    // Sockets that never open (the upgrade was refused): is the post still there for us?
    if (!opened && this.failedOpens >= 3 && this.failedOpens % 3 === 0) {
      void this.probeAccess().then((lost) => {
        if (lost) this.finish(ACCESS_LOST_TEXT, true);
        else if (!this.destroyed && !this.finished) this.schedule(delay, true);
      });
      return;
    }
    this.schedule(delay, force);
  }

  /** True when the post answers 404/403 to us: access lost, stop trying. */
  private async probeAccess(): Promise<boolean> {
    try {
      await getPost(this.postId);
      return false;
    } catch (e) {
      return e instanceof ApiError && (e.status === 404 || e.status === 403);
    }
  }

  /** Who is here: one entry per user (a user may have several tabs open). */
  presence(): PresenceUser[] {
    const byId = new Map<string, PresenceUser>();
    const selfId = this.doc.clientID;
    for (const [client, st] of this.awareness.getStates()) {
      const u = (st as { user?: { id?: string; name?: string; color?: string } }).user;
      if (!u || !u.id) continue;
      const e = byId.get(u.id) ?? { id: u.id, name: u.name || 'Someone', color: u.color || userColor(u.id), clients: [], self: false };
      e.clients.push(client);
      if (client === selfId) e.self = true;
      byId.set(u.id, e);
    }
    return [...byId.values()].sort((a, b) => Number(b.self) - Number(a.self) || a.name.localeCompare(b.name));
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.timer) clearTimeout(this.timer);
    this.releaseFresh();
    this.offToken();
    this.listeners.clear();
    this.provider.destroy();
    this.doc.destroy();
  }
}
