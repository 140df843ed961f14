// The bell in the app header: unread count, a dropdown of recent notifications, mark one /
// all read, live through `notification.created` on the event stream; a click opens the post.
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  listNotifications,
  markAllNotificationsRead,
  markNotificationRead,
  toApiError,
  unreadCount,
  type AppNotification,
} from '../api';
import { useEvents } from '../collab/useLive';
import { Link, navigate } from '../router';
import { useUser } from '../session';
import { timeAgo } from './ui';

/** Where a notification leads: its `url` when in-app, else the post. */
export function notificationHref(n: AppNotification): string {
  if (n.url) {
    try {
      const u = new URL(n.url, window.location.origin);
      if (u.origin === window.location.origin) return u.pathname + u.search + u.hash;
    } catch {
      /* not a URL */
    }
  }
  if (n.post_id && n.workspace_id) return `/w/${n.workspace_id}/posts/${n.post_id}`;
  return n.workspace_id ? `/w/${n.workspace_id}/posts` : '/';
}

export function NotificationBell() {
  const me = useUser();
  const [count, setCount] = useState<number | null>(null);
  const [items, setItems] = useState<AppNotification[] | null>(null);
  const [more, setMore] = useState<string | null>(null);
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const wrap = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);

  const loadCount = () =>
    unreadCount().then(
      (n) => setCount(n),
      () => setCount((c) => c), // notifications not available: keep quiet
    );
  const loadList = async (before?: string) => {
    try {
      const page = await listNotifications({ limit: 20, before });
      setItems((prev) => (before ? [...(prev ?? []), ...page.notifications] : page.notifications));
      setMore(page.next_before);
      setCount(page.unread_count);
      setError(null);
    } catch (e) {
      setError(toApiError(e).message);
    }
  };

  useEffect(() => {
    if (me) void loadCount();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [me?.id]);

  useEvents(
    !!me,
    (ev) => {
      if (ev.type !== 'notification.created') return;
      // data: {user_id, notification: {…}} (the notification as listed), or the notification
      // itself with user_id beside its fields.
      const data = ev.data as { user_id?: string; notification?: AppNotification };
      if (data.user_id && me && data.user_id !== me.id) return;
      const n = (data.notification && typeof data.notification === 'object' ? data.notification : data) as AppNotification;
      if (!n.id) {
        void loadCount();
        return;
      }
      setItems((prev) => (prev && !prev.some((x) => x.id === n.id) ? [n, ...prev] : prev));
      if (!n.read_at) setCount((c) => (c ?? 0) + 1);
    },
    () => {
      void loadCount();
      if (open) void loadList();
    },
  );

  // Close on Escape (focus back on the bell) and on a click outside.
  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        setOpen(false);
        button.current?.focus();
      }
    };
    const onClick = (e: MouseEvent) => {
      if (wrap.current && !wrap.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('keydown', onKey);
    document.addEventListener('mousedown', onClick);
    return () => {
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('mousedown', onClick);
    };
  }, [open]);

  const toggle = () => {
    const next = !open;
    setOpen(next);
    if (next) void loadList();
  };

  const openOne = async (n: AppNotification) => {
    setOpen(false);
    if (!n.read_at) {
      setItems((prev) => prev?.map((x) => (x.id === n.id ? { ...x, read_at: new Date().toISOString() } : x)) ?? prev);
      setCount((c) => Math.max(0, (c ?? 1) - 1));
      markNotificationRead(n.id).catch(() => void loadCount());
    }
    navigate(notificationHref(n));
  };

  const markOne = async (n: AppNotification) => {
    try {
      await markNotificationRead(n.id);
      setItems((prev) => prev?.map((x) => (x.id === n.id ? { ...x, read_at: new Date().toISOString() } : x)) ?? prev);
      setCount((c) => Math.max(0, (c ?? 1) - 1));
    } catch (e) {
      setError(toApiError(e).message);
    }
  };

  const markAll = async () => {
    try {
      await markAllNotificationsRead();
      const at = new Date().toISOString();
      setItems((prev) => prev?.map((x) => (x.read_at ? x : { ...x, read_at: at })) ?? prev);
      setCount(0);
    } catch (e) {
      setError(toApiError(e).message);
    }
  };

  if (!me) return null;
  const unread = count ?? 0;
  const label = unread ? `Notifications, ${unread} unread` : 'Notifications';

  return (
    <div class="bell" ref={wrap}>
      <button
        type="button"
        ref={button}
        class="btn btn-ghost btn-sm bell-button"
        aria-label={label}
        aria-expanded={open}
        aria-controls="bell-panel"
        aria-haspopup="true"
        onClick={toggle}
        data-testid="bell"
        data-unread={String(unread)}
      >
        <svg aria-hidden="true" width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
          <path d="M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9" />
          <path d="M13.7 21a2 2 0 0 1-3.4 0" />
        </svg>
        {unread > 0 && (
          <span class="bell-count" data-testid="bell-count" aria-hidden="true">
            {unread > 99 ? '99+' : unread}
          </span>
        )}
      </button>
      {open && (
        <div class="bell-panel card" id="bell-panel" role="region" aria-label="Notifications" data-testid="bell-panel">
          <div class="bell-head">
            <strong>Notifications</strong>
            <button type="button" class="btn btn-ghost btn-sm" onClick={markAll} disabled={unread === 0} data-testid="bell-read-all">
              Mark all read
            </button>
          </div>
          {error && (
            <p class="alert alert-error" role="alert">
              {error}
            </p>
          )}
          {items === null ? (
            <p class="muted small">Loading…</p>
          ) : items.length === 0 ? (
            <p class="muted small" data-testid="bell-empty">
              Nothing yet.
            </p>
          ) : (
            <ul class="bell-list">
              {items.map((n) => (
                <li key={n.id} class={`bell-item${n.read_at ? '' : ' unread'}`} data-testid="notification" data-type={n.type} data-read={n.read_at ? 'true' : 'false'}>
                  <a
                    href={notificationHref(n)}
                    class="bell-open"
                    onClick={(e) => {
                      if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
                      e.preventDefault();
                      void openOne(n);
                    }}
                    data-testid="notification-open"
                  >
                    <span class="bell-title">{n.title}</span>
                    {n.body && <span class="bell-body small">{n.body}</span>}
                    <span class="muted small">
                      {n.actor?.name ? `${n.actor.name} · ` : ''}
                      {timeAgo(n.created_at)}
                    </span>
                  </a>
                  {!n.read_at && (
                    <button type="button" class="btn btn-ghost btn-sm" onClick={() => void markOne(n)} aria-label={`Mark “${n.title}” read`} data-testid="notification-read">
                      ✓
                    </button>
                  )}
                </li>
              ))}
            </ul>
          )}
          <div class="bell-foot">
            {more && (
              <button type="button" class="btn btn-ghost btn-sm" onClick={() => void loadList(more)}>
                Older
              </button>
            )}
            <Link href="/settings/notifications" class="small" onClick={() => setOpen(false)} data-testid="bell-settings">
              Notification settings
            </Link>
          </div>
        </div>
      )}
    </div>
  );
}
