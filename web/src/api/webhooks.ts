// Outgoing webhooks: endpoints, secrets, the message and attempt log (workspace admins).
import { request } from './client';

export interface WebhookEndpoint {
  id: string;
  workspace_id: string;
  url: string;
  description: string;
  /** Catalogue event types or `prefix.*` patterns; empty: every event. */
  event_types: string[];
  enabled: boolean;
  disabled_reason: string | null;
  rate_limit: number | null;
  headers: Record<string, string>;
  previous_secret_expires_at: string | null;
  failing_since: string | null;
  /** Only when just created (or in reveal/rotate answers). */
  secret?: string;
  created_at: string;
  updated_at: string;
}

export interface WebhookInput {
  url?: string;
  description?: string;
  event_types?: string[];
  enabled?: boolean;
  rate_limit?: number | null;
  headers?: Record<string, string>;
}

export interface WebhookMessage {
  id: string;
  endpoint_id: string;
  event_id: string | null;
  event_type: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  next_attempt_at: string | null;
  payload: unknown;
  created_at: string;
  updated_at: string;
}

export interface WebhookAttempt {
  id: string;
  attempt: number;
  status: 'succeeded' | 'failed';
  http_status: number | null;
  response: string;
  error: string | null;
  duration_ms: number;
  next_attempt_at: string | null;
  created_at: string;
}

export interface WebhookStats {
  attempts: number;
  succeeded: number;
  failed: number;
  success_rate: number | null;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  pending_messages: number;
}

export interface CatalogueEntry {
  type: string;
  description: string;
  payload: string;
  audience: string;
}

const base = (ws: string) => `/api/workspaces/${encodeURIComponent(ws)}/webhooks`;
const one = (ws: string, id: string) => `${base(ws)}/${encodeURIComponent(id)}`;

export function eventCatalogue(): Promise<{ events: CatalogueEntry[] }> {
  return request('/api/events/catalogue');
}

export function listWebhooks(ws: string): Promise<WebhookEndpoint[]> {
  return request(base(ws));
}

export function createWebhook(ws: string, input: WebhookInput & { url: string }): Promise<WebhookEndpoint> {
  return request(base(ws), { method: 'POST', body: input });
}

export function updateWebhook(ws: string, id: string, input: WebhookInput): Promise<WebhookEndpoint> {
  return request(one(ws, id), { method: 'PATCH', body: input });
}

export function deleteWebhook(ws: string, id: string): Promise<void> {
  return request(one(ws, id), { method: 'DELETE' });
}

export function revealWebhookSecret(ws: string, id: string): Promise<{ secret: string }> {
  return request(`${one(ws, id)}/secret/reveal`, { method: 'POST', body: {} });
}

export function rotateWebhookSecret(
  ws: string,
  id: string,
): Promise<{ secret: string; previous_secret_expires_at: string | null }> {
  return request(`${one(ws, id)}/secret/rotate`, { method: 'POST', body: {} });
}

export function webhookStats(ws: string, id: string): Promise<WebhookStats> {
  return request(`${one(ws, id)}/stats`);
}

export function listWebhookMessages(
  ws: string,
  id: string,
  query: { status?: string; before?: string } = {},
): Promise<{ items: WebhookMessage[]; next_cursor: string | null }> {
  return request(`${one(ws, id)}/messages`, { query });
}

export function listWebhookAttempts(ws: string, id: string, msg: string): Promise<{ items: WebhookAttempt[] }> {
  return request(`${one(ws, id)}/messages/${encodeURIComponent(msg)}/attempts`);
}

export function retryWebhookMessage(ws: string, id: string, msg: string): Promise<WebhookMessage> {
  return request(`${one(ws, id)}/messages/${encodeURIComponent(msg)}/retry`, { method: 'POST', body: {} });
}

export function replayWebhook(ws: string, id: string, since: string): Promise<{ messages: number }> {
  return request(`${one(ws, id)}/replay`, { method: 'POST', body: { since } });
}

export function testWebhook(ws: string, id: string): Promise<WebhookMessage> {
  return request(`${one(ws, id)}/test`, { method: 'POST', body: {} });
}
