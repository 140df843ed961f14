// One live post document: a Y.Doc synced over the server's y-websocket endpoint
// (`/api/collab/<postId>?token=…`), with awareness (who is here, cursors).
//
// - The access token expires (15 min): before every (re)connect the socket gets a token that
//   is valid for a while yet, refreshing the session first when needed. A socket that closes
//   without ever opening twice in a row forces a refresh (the server may have refused it).
// - Read-only roles: the server answers refused updates with a y-protocols auth message
//   ("permission denied"); that turns `denied` on, and the editors go read-only.
import * as Y from 'yjs';
import * as authProtocol from 'y-protocols/auth';
import type { Awareness } from 'y-protocols/awareness';
import type * as decoding from 'lib0/decoding';
import { WebsocketProvider, messageAuth } from 'y-websocket';
import { freshAccessToken, sessionLost, wsOrigin } from '../api';
import { userColor, userColorLight } from './colors';

export type CollabStatus = 'connecting' | 'connected' | 'synced' | 'offline' | 'closed';

export interface CollabState {
  status: CollabStatus;
  /** The document has been synced with the server at least once (its content is real). */
  loaded: boolean;
  /** The server refused our updates (read-only role): the reason it gave. */
  denied: string | null;
  /** Why the server closed the connection for good (e.g. the post was deleted). */
  closedReason: string | null;
}

export interface PresenceUser {
  id: string;
  name: string;
  color: string;
  /** Awareness client ids of this user (one per open editor tab). */
  clients: number[];
  self: boolean;
}

export class CollabConnection {
  readonly doc = new Y.Doc();
  readonly provider: WebsocketProvider;
  readonly awareness: Awareness;
  private state: CollabState = { status: 'connecting', loaded: false, denied: null, closedReason: null };
  private listeners = new Set<(s: CollabState) => void>();
  private destroyed = false;
  private openedThisAttempt = false;
  /** Connections in a row that closed before they opened (the token may be refused). */
  private failedOpens = 0;
  /** Connections in a row that closed before they synced (for the backoff). */
  private unsynced = 0;
  private lastForcedRefresh = 0;

  constructor(
    readonly postId: string,
    readonly user: { id: string; name: string },
  ) {
    this.provider = new WebsocketProvider(`${wsOrigin()}/api/collab`, postId, this.doc, {
      connect: false,
      params: {},
      // Every change goes through the server, which checks the role (no tab-to-tab shortcut).
      disableBc: true,
      // 4401 / 1008: our token was refused or ran out — renew it and come back.
      // Other 44xx: permanent (e.g. the post was deleted or access revoked).
      shouldReconnect: (ev) => ev.code === 4401 || !(ev.code >= 4400 && ev.code < 4500),
    });
    this.awareness = this.provider.awareness;
    this.awareness.setLocalStateField('user', {
      id: user.id,
      name: user.name,
      color: userColor(user.id),
      colorLight: userColorLight(user.id),
    });

    // Refused updates come back as an auth message; y-websocket only logs them.
    this.provider.messageHandlers[messageAuth] = (_enc: unknown, decoder: decoding.Decoder) => {
      authProtocol.readAuthMessage(decoder, this.doc, (_doc, reason) => {
        this.set({ denied: reason || 'permission denied' });
      });
    };

    this.provider.on('status', ({ status }) => {
      if (status === 'connected') {
        this.openedThisAttempt = true;
        this.failedOpens = 0;
        this.set({ status: 'connected' });
      } else if (status === 'connecting') {
        if (this.state.status !== 'offline') this.set({ status: 'connecting' });
      } else {
        this.set({ status: 'offline' });
      }
    });
    this.provider.on('sync', (synced: boolean) => {
      if (!synced) return;
      this.unsynced = 0;
      this.set({ status: 'synced', loaded: true });
    });
    this.provider.on('connection-close', (ev: CloseEvent | null) => this.onClose(ev));
    this.provider.on('closed', ({ code, reason }: { code: number; reason: string }) => {
      if (code === 4401) return;
      this.set({ status: 'closed', closedReason: reason || `closed by the server (${code})` });
    });

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
    const next = { ...this.state, ...patch };
    if (Object.entries(patch).every(([k, v]) => this.state[k as keyof CollabState] === v)) return;
    this.state = next;
    for (const l of this.listeners) l(next);
  }

  /** Get a token that is still good, then (re)connect. */
  private async connect(force: boolean): Promise<void> {
    if (force) this.lastForcedRefresh = Date.now();
    const token = await freshAccessToken(60, force);
    if (this.destroyed) return;
    if (!token) {
      this.set({ status: 'closed', closedReason: 'Your session has ended.' });
      sessionLost();
      return;
    }
    this.provider.params = { ...this.provider.params, token };
    this.provider.connect();
  }

  private onClose(ev: CloseEvent | null): void {
    if (this.destroyed) return;
    if (!this.openedThisAttempt) this.failedOpens++;
    this.openedThisAttempt = false;
    if (this.state.status !== 'synced') this.unsynced++;
    const refused = ev?.code === 4401 || ev?.code === 1008;
    const suspicious = this.failedOpens >= 2 && Date.now() - this.lastForcedRefresh > 60_000;
    // Hold the provider's own reconnect; ours goes with a token checked (or renewed) first.
    this.provider.shouldConnect = false;
    // Back off until a connection gets as far as syncing (a server that accepts and then
    // closes at once — e.g. while shutting down — is retried like one that refuses).
    const delay = Math.min(5000, 100 * 2 ** Math.min(this.unsynced, 6));
    setTimeout(() => {
      if (!this.destroyed && this.state.status !== 'closed') void this.connect(refused || suspicious);
    }, delay);
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
    this.listeners.clear();
    this.provider.destroy();
    this.doc.destroy();
  }
}
