// Notifications (issue #9): the in-app list, unread count, preferences per type × channel,
// and Web Push subscriptions of the caller's browsers.
import { request } from './client';

export type NotificationType =
  | 'approval_requested'
  | 'approved'
  | 'rejected'
  | 'changes_requested'
  | 'mentioned'
  | 'deadline_near'
  | 'published'
  | 'failed';

export interface AppNotification {
  id: string;
  type: NotificationType | string;
  workspace_id: string;
  post_id: string | null;
  title: string;
  body: string;
  url: string;
  read_at: string | null;
  created_at: string;
  actor: { user_id: string | null; name: string } | null;
}

export interface NotificationPage {
  notifications: AppNotification[];
  next_before: string | null;
  unread_count: number;
}

export interface TypePreference {
  type: NotificationType | string;
  label: string;
  in_app: boolean;
  email: boolean;
  push: boolean;
}

export interface NotificationPreferences {
  types: TypePreference[];
  email_digest: 'off' | 'daily';
}

export interface PushSubscriptionInfo {
  id: string;
  endpoint_origin: string;
  user_agent: string | null;
  created_at: string;
}

export function listNotifications(query: { unread?: boolean; limit?: number; before?: string } = {}): Promise<NotificationPage> {
  return request('/api/notifications', {
    query: { unread: query.unread ? 'true' : undefined, limit: query.limit, before: query.before },
  });
}

export async function unreadCount(): Promise<number> {
  const res = await request<{ unread_count: number }>('/api/notifications/unread-count');
  return Number(res?.unread_count) || 0;
}

export function markNotificationRead(id: string): Promise<void> {
  return request(`/api/notifications/${encodeURIComponent(id)}/read`, { method: 'POST', body: {} });
}

export function markAllNotificationsRead(): Promise<{ marked: number }> {
  return request('/api/notifications/read-all', { method: 'POST', body: {} });
}

export function getNotificationPreferences(): Promise<NotificationPreferences> {
  return request('/api/notifications/preferences');
}

/** Save preferences (only the settable fields are sent: type and the three channels). */
export function updateNotificationPreferences(input: Partial<NotificationPreferences>): Promise<NotificationPreferences> {
  const body: { types?: Omit<TypePreference, 'label'>[]; email_digest?: string } = {};
  if (input.types) body.types = input.types.map(({ type, in_app, email, push }) => ({ type, in_app, email, push }));
  if (input.email_digest) body.email_digest = input.email_digest;
  return request('/api/notifications/preferences', { method: 'PUT', body });
}

export async function vapidPublicKey(): Promise<string> {
  const res = await request<{ public_key: string }>('/api/push/vapid-public-key');
  return res.public_key;
}

export function addPushSubscription(input: { endpoint: string; keys: { p256dh: string; auth: string }; user_agent?: string }): Promise<{ id: string }> {
  return request('/api/push/subscriptions', { method: 'POST', body: input });
}

export async function listPushSubscriptions(): Promise<PushSubscriptionInfo[]> {
  const res = await request<{ subscriptions: PushSubscriptionInfo[] }>('/api/push/subscriptions');
  return res?.subscriptions ?? [];
}

export function removePushSubscription(id: string): Promise<void> {
  return request(`/api/push/subscriptions/${encodeURIComponent(id)}`, { method: 'DELETE' });
}

export function sendTestPush(): Promise<void> {
  return request('/api/push/test', { method: 'POST', body: {} });
}
