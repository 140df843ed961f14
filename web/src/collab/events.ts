// The live event stream (`/api/events?token=…`): JSON domain events for the user's
// workspaces. Reconnects with backoff and a fresh token, asking the server to replay what
// was missed (`?since=<last event id>`); `onReconnect` lets callers refetch as a fallback.
import { freshAccessToken, sessionLost, wsOrigin, type DomainEvent } from '../api';

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
  private everConnected = false;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly opts: EventStreamOptions) {
    void this.open(false);
  }

  private async open(force: boolean): Promise<void> {
    const token = await freshAccessToken(60, force);
    if (this.stopped) return;
    if (!token) {
      sessionLost();
      return;
    }
    const qs = new URLSearchParams({ token });
    if (this.lastId !== null) qs.set('since', this.lastId);
    const ws = new WebSocket(`${wsOrigin()}/api/events?${qs}`);
    this.ws = ws;
    let opened = false;
    let openedAt = 0;
    ws.onopen = () => {
      opened = true;
      openedAt = Date.now();
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
      if (opened && Date.now() - openedAt > 5000) this.attempts = 0;
      this.attempts++;
      const delay = Math.min(10_000, 250 * 2 ** Math.min(this.attempts, 6));
      // A refused or expired token (4401, 1008) or repeated failures to open: renew it first.
      const force = ev.code === 4401 || ev.code === 1008 || (!opened && this.attempts % 3 === 0);
      this.timer = setTimeout(() => void this.open(force), delay);
    };
  }

  close(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.close();
    }
  }
}
