// One `/api/events` socket per tab, shared by everything that listens (the post page, the
// notification bell, the approvals inbox): opened with the first listener, closed a few
// seconds after the last one leaves (so moving between pages keeps the socket), and closed
// at once when the signed-in user changes.
import { getCurrentUser, onAuthChange, type DomainEvent } from '../api';
import { EventStream } from './events';

export interface HubListener {
  onEvent: (ev: DomainEvent) => void;
  onReconnect?: () => void;
  onStatus?: (connected: boolean) => void;
}

const listeners = new Set<HubListener>();
let stream: EventStream | null = null;
let connected = false;
let userId: string | null = null;
let closeTimer: ReturnType<typeof setTimeout> | null = null;
const LINGER_MS = 5000;

function setConnected(c: boolean): void {
  connected = c;
  for (const l of [...listeners]) l.onStatus?.(c);
}

function open(): void {
  // A stream that gave up (e.g. access refused) is replaced when someone listens again.
  if (stream && !stream.closed) return;
  stream = null;
  userId = getCurrentUser()?.id ?? null;
  stream = new EventStream({
    onEvent: (ev) => {
      for (const l of [...listeners]) l.onEvent(ev);
    },
    onReconnect: () => {
      for (const l of [...listeners]) l.onReconnect?.();
    },
    onStatus: setConnected,
  });
}

function close(): void {
  if (closeTimer) clearTimeout(closeTimer);
  closeTimer = null;
  const s = stream;
  stream = null;
  if (s) s.close();
  if (connected) setConnected(false);
}

onAuthChange((user) => {
  if (!stream) return;
  if (!user || user.id !== userId) {
    close();
    if (user && listeners.size) open();
  }
});

/** Listen to the event stream; returns the unsubscribe function. */
export function subscribeEvents(l: HubListener): () => void {
  listeners.add(l);
  if (closeTimer) {
    clearTimeout(closeTimer);
    closeTimer = null;
  }
  open();
  l.onStatus?.(connected);
  return () => {
    listeners.delete(l);
    if (listeners.size === 0 && !closeTimer) {
      closeTimer = setTimeout(() => {
        closeTimer = null;
        if (listeners.size === 0) close();
      }, LINGER_MS);
    }
  };
}

/** Close the socket now (signing out). */
export function closeEvents(): void {
  close();
}
