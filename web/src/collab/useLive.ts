// Preact glue for the live post document and the event stream.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { DomainEvent, User } from '../api';
import { CollabConnection, type CollabState, type PresenceUser } from './connection';
import { subscribeEvents } from './eventHub';

export interface LivePost {
  conn: CollabConnection | null;
  state: CollabState;
  presence: PresenceUser[];
  /** Bumped (at most once per frame) whenever the document changes. */
  tick: number;
}

const IDLE: CollabState = { status: 'connecting', loaded: false, denied: null, closedReason: null, accessLost: false };

/** Opens the post's live document while `postId` is set (and closes it after). */
export function useLivePost(postId: string | null, user: User | null): LivePost {
  const [conn, setConn] = useState<CollabConnection | null>(null);
  const [state, setState] = useState<CollabState>(IDLE);
  const [presence, setPresence] = useState<PresenceUser[]>([]);
  const [tick, setTick] = useState(0);
  const userKey = user ? `${user.id}\u0000${user.name}` : '';

  useEffect(() => {
    if (!postId || !user) return;
    const c = new CollabConnection(postId, { id: user.id, name: user.name || user.email });
    setConn(c);
    setState(c.snapshot);
    const offState = c.subscribe(setState);
    // At most one re-render per frame; a timer too, since a hidden tab gets no frames (and
    // its page must still follow the document, e.g. the inputs bound to it).
    let frame = 0;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const fire = () => {
      if (frame) cancelAnimationFrame(frame);
      if (timer) clearTimeout(timer);
      frame = 0;
      timer = null;
      setTick((t) => t + 1);
    };
    const bump = () => {
      if (frame || timer) return;
      frame = requestAnimationFrame(fire);
      timer = setTimeout(fire, 100);
    };
    c.doc.on('update', bump);
    const onAwareness = () => setPresence(c.presence());
    c.awareness.on('change', onAwareness);
    onAwareness();
    return () => {
      if (frame) cancelAnimationFrame(frame);
      if (timer) clearTimeout(timer);
      offState();
      c.doc.off('update', bump);
      c.awareness.off('change', onAwareness);
      c.destroy();
      setConn(null);
      setState(IDLE);
      setPresence([]);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [postId, userKey]);

  return { conn, state, presence, tick };
}

/** Listens to the live event stream while `enabled` (one socket per tab, see eventHub.ts). */
export function useEvents(enabled: boolean, onEvent: (ev: DomainEvent) => void, onReconnect: () => void): boolean {
  const handlers = useRef({ onEvent, onReconnect });
  handlers.current = { onEvent, onReconnect };
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    if (!enabled) return;
    const off = subscribeEvents({
      onEvent: (ev) => handlers.current.onEvent(ev),
      onReconnect: () => handlers.current.onReconnect(),
      onStatus: setConnected,
    });
    return () => {
      off();
      setConnected(false);
    };
  }, [enabled]);
  return connected;
}
