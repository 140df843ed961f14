// The live event stream (`/api/events?ticket=…`): JSON domain events for the user's
// workspaces. Each (re)connect buys a new single-use ticket (socketAuth.ts) and asks the
// server to replay what was missed (`&since=<last event id>`); `onReconnect` lets callers
// refetch as a fallback. While open, every new access token is sent in band
// (`{"type":"auth","token":…}`, answered by `{"type":"auth.ok","expires_at":…}`), so the
// socket outlives the token its ticket was bought with.
//
// Close codes: 4401 → renew the token, reconnect; 4403 → the session may be over (signed out
// elsewhere, password reset): check by refreshing, stop after repeated refusals; 1008 → back
// off (and renew); 1013 → reconnect; other 44xx → stop.
import { accessTokenVersion, currentAccessToken, keepAccessFresh, onAccessToken, readRefresh, refreshSession, sessionLost, wsOrigin, type DomainEvent } from '../api';
import { CLOSE_ACCESS_LOST, CLOSE_AUTH_EXPIRED, CLOSE_POLICY, CLOSE_TRY_AGAIN, backoff, getTicket } from './socketAuth';

export interface EventStreamOptions {
  onEvent: (ev: DomainEvent) => void;
  /** Called after a reconnect (not the first connect). */
  onReconnect?: () => void;
  onStatus?: (connected: boolean) => void;
}

export class EventStream {
  private ws: WebSocket | null = null;
  private lastId: string | null = null;
  private attempts = 0;
  /** 4403 closes in a row. */
  private refused = 0;
  /** Sockets in a row closed within seconds of opening (whatever the code). */
  private quickCloses = 0;
  private everConnected = false;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastForcedRefresh = 0;
  /** When the server says this socket's access ends (from `auth.ok`), for diagnostics. */
  accessExpiresAt: string | null = null;
  private readonly releaseFresh: () => void;
  private readonly offToken: () => void;

  constructor(private readonly opts: EventStreamOptions) {
    this.releaseFresh = keepAccessFresh();
    this.offToken = onAccessToken((token) => this.sendAuth(token));
    void this.open(false);
  }

  /** Access token version of the open socket (the ticket's, then each sent in band). */
  private usedVersion: number | undefined = undefined;

  private sendAuth(token: string): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    try {
      ws.send(JSON.stringify({ type: 'auth', token }));
      this.usedVersion = accessTokenVersion();
    } catch {
      /* onclose handles it */
    }
  }

  private schedule(delay: number, force: boolean): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.open(force);
    }, delay);
  }

  private async open(force: boolean): Promise<void> {
    if (this.stopped) return;
    if (force) this.lastForcedRefresh = Date.now();
    const t = await getTicket(force, this.usedVersion);
    if (this.stopped) return;
    if (t.kind === 'lost') return this.stop();
    if (t.kind === 'retry') {
      this.attempts++;
      this.schedule(Math.max(t.after ?? 0, backoff(this.attempts, 250, 15_000)), false);
      return;
    }
    const qs = new URLSearchParams({ ticket: t.ticket });
    if (this.lastId !== null) qs.set('since', this.lastId);
    const ws = new WebSocket(`${wsOrigin()}/api/events?${qs}`);
    this.ws = ws;
    this.usedVersion = t.version;
    let opened = false;
    let openedAt = 0;
    ws.onopen = () => {
      opened = true;
      openedAt = Date.now();
      // The token changed while the ticket was on its way: hand over the newer one.
      if (accessTokenVersion() !== t.version) {
        const tok = currentAccessToken();
        if (tok) this.sendAuth(tok);
      }
      this.opts.onStatus?.(true);
      if (this.everConnected) this.opts.onReconnect?.();
      this.everConnected = true;
    };
    ws.onmessage = (m) => {
      if (typeof m.data !== 'string') return;
      let ev: DomainEvent;
      try {
        ev = JSON.parse(m.data) as DomainEvent;
      } catch {
        return;
      }
      if (!ev || typeof ev.type !== 'string') return;
      if (ev.type === 'auth.ok') {
        const exp = (ev as unknown as { expires_at?: unknown }).expires_at;
        this.accessExpiresAt = typeof exp === 'string' ? exp : null;
        this.refused = 0;
        return;
      }
      if (ev.id !== undefined && ev.id !== null) this.lastId = String(ev.id);
      this.opts.onEvent(ev);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (opened) this.opts.onStatus?.(false);
      // Back off unless the socket had been fine for a while (a server that accepts and
      // closes at once is retried like one that refuses).
      if (opened && Date.now() - openedAt > 5000) {
        this.attempts = 0;
        this.refused = 0;
      }
      if (opened && Date.now() - openedAt < 10_000) this.quickCloses++;
      else if (opened) this.quickCloses = 0;
      this.attempts++;
      let delay = backoff(this.attempts, 250, 10_000);
      let force = false;
      if (ev.code === CLOSE_ACCESS_LOST) {
        // Signed out elsewhere or the password was reset (or access to everything gone):
        // a refresh tells. Never loop on it.
        this.refused++;
        void refreshSession().then((ok) => {
          if (this.stopped) return;
          if (!ok && !readRefresh()) {
            this.stop();
            sessionLost();
          } else if (this.refused >= 3) this.stop();
          else this.schedule(Math.max(delay, backoff(this.refused, 2000, 30_000)), false);
        });
        return;
      }
      if (ev.code >= 4400 && ev.code < 4500 && ev.code !== CLOSE_AUTH_EXPIRED) return this.stop();
      if (ev.code === CLOSE_AUTH_EXPIRED) force = true;
      else if (ev.code === CLOSE_POLICY) {
        delay = Math.max(delay, backoff(this.attempts, 1000, 30_000));
        force = Date.now() - this.lastForcedRefresh > 30_000;
      } else if (ev.code === CLOSE_TRY_AGAIN) delay = Math.max(delay, 250);
      // Repeated failures to open (the ticket refused?): renew the token first.
      else if (!opened && this.attempts % 3 === 0) force = true;
      // Sockets that keep closing right after opening (4401 again and again…) back off.
      if (this.quickCloses > 1) delay = Math.max(delay, backoff(this.quickCloses - 1, 500, 30_000));
      this.schedule(delay, force);
    };
  }

  /** True once the stream gave up (access lost, refused) or was closed: it never reopens. */
  get closed(): boolean {
    return this.stopped;
  }

  private stop(notify = true): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.releaseFresh();
    this.offToken();
    if (notify) this.opts.onStatus?.(false);
  }

  close(): void {
    this.stop(false);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.close();
    }
  }
}
