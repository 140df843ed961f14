import { useCallback, useEffect, useState } from 'preact/hooks';
import {
  deleteWebhook,
  listWebhookAttempts,
  listWebhookMessages,
  replayWebhook,
  revealWebhookSecret,
  retryWebhookMessage,
  rotateWebhookSecret,
  testWebhook,
  toApiError,
  updateWebhook,
  webhookStats,
  type ApiError,
  type CatalogueEntry,
  type WebhookAttempt,
  type WebhookEndpoint,
  type WebhookMessage,
  type WebhookStats,
} from '../api';
import { EventFilter, headersToText, textToHeaders } from './EventFilter';
import { ErrorBanner, Field, Notice, formatDateTime, timeAgo } from './ui';

interface Props {
  workspaceId: string;
  endpoint: WebhookEndpoint;
  catalogue: CatalogueEntry[];
  onChanged: () => Promise<void> | void;
  onDeleted: () => void;
}

/** One endpoint: settings, secret, stats, test/replay, and the message + attempt log. */
export function WebhookDetail({ workspaceId, endpoint: ep, catalogue, onChanged, onDeleted }: Props) {
  const [description, setDescription] = useState(ep.description);
  const [url, setUrl] = useState(ep.url);
  const [types, setTypes] = useState(ep.event_types);
  const [rate, setRate] = useState(ep.rate_limit?.toString() ?? '');
  const [headers, setHeaders] = useState(headersToText(ep.headers));
  const [secret, setSecret] = useState<string | null>(null);
  const [stats, setStats] = useState<WebhookStats | null>(null);
  const [messages, setMessages] = useState<WebhookMessage[]>([]);
  const [open, setOpen] = useState<string | null>(null);
  const [attempts, setAttempts] = useState<WebhookAttempt[]>([]);
  const [since, setSince] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      const [s, m] = await Promise.all([webhookStats(workspaceId, ep.id), listWebhookMessages(workspaceId, ep.id)]);
      setStats(s);
      setMessages(m.items);
      if (open) setAttempts((await listWebhookAttempts(workspaceId, ep.id, open)).items);
    } catch (e) {
      setError(toApiError(e));
    }
  }, [workspaceId, ep.id, open]);

  useEffect(() => {
    void refresh();
    const t = setInterval(() => void refresh(), 5000);
    return () => clearInterval(t);
  }, [refresh]);

  const run = async (fn: () => Promise<unknown>, ok?: string) => {
    setError(null);
    setNotice(null);
    try {
      await fn();
      if (ok) setNotice(ok);
      await onChanged();
      await refresh();
    } catch (e) {
      setError(toApiError(e));
    }
  };

  const save = (e: Event) => {
    e.preventDefault();
    void run(
      () =>
        updateWebhook(workspaceId, ep.id, {
          url: url.trim(),
          description,
          event_types: types,
          rate_limit: rate.trim() ? Number(rate) : null,
          headers: textToHeaders(headers),
        }),
      'Saved.',
    );
  };

  return (
    <section class="card mt" aria-labelledby="detail-h" data-testid="webhook-detail">
      <h2 id="detail-h">{ep.description || ep.url}</h2>
      {notice && <Notice testid="webhook-notice">{notice}</Notice>}
      <ErrorBanner error={error} testid="webhook-error" />
      {!ep.enabled && ep.disabled_reason && <p class="alert alert-error">Disabled: {ep.disabled_reason}</p>}
      <div class="grid-2">
        <form class="stack" onSubmit={save} data-testid="webhook-edit">
          <Field label="URL" name="edit-url">
            <input id="f-edit-url" type="url" value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
          </Field>
          <Field label="Description" name="edit-description">
            <input id="f-edit-description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
          </Field>
          <EventFilter catalogue={catalogue} value={types} onChange={setTypes} idPrefix="edit" />
          <Field label="Rate limit (per second)" name="edit-rate">
            <input id="f-edit-rate" type="number" min={1} max={1000} value={rate} onInput={(e) => setRate(e.currentTarget.value)} />
          </Field>
          <Field label="Extra headers" name="edit-headers">
            <textarea id="f-edit-headers" rows={2} value={headers} onInput={(e) => setHeaders(e.currentTarget.value)} />
          </Field>
          <div class="row">
            <button type="submit" class="btn btn-primary btn-sm" data-testid="webhook-save">Save</button>
            <button type="button" class="btn btn-sm" data-testid="webhook-toggle" onClick={() => void run(() => updateWebhook(workspaceId, ep.id, { enabled: !ep.enabled }), ep.enabled ? 'Disabled.' : 'Enabled.')}>
              {ep.enabled ? 'Disable' : 'Enable'}
            </button>
            <button type="button" class="btn btn-danger-ghost btn-sm" data-testid="webhook-delete" onClick={() => {
              if (confirm('Delete this endpoint and its message log?')) void deleteWebhook(workspaceId, ep.id).then(onDeleted, (e) => setError(toApiError(e)));
            }}>
              Delete
            </button>
          </div>
        </form>
        <div class="stack">
          <h3>Signing secret</h3>
          {secret ? <code data-testid="webhook-secret">{secret}</code> : <p class="muted">Hidden.</p>}
          {ep.previous_secret_expires_at && <p class="small muted">The previous secret also signs until {formatDateTime(ep.previous_secret_expires_at)}.</p>}
          <div class="row">
            <button type="button" class="btn btn-sm" data-testid="webhook-reveal" onClick={() => void run(async () => setSecret((await revealWebhookSecret(workspaceId, ep.id)).secret))}>Reveal secret</button>
            <button type="button" class="btn btn-sm" data-testid="webhook-rotate" onClick={() => {
              if (confirm('Rotate the secret? The current one keeps signing alongside for 24 hours.'))
                void run(async () => setSecret((await rotateWebhookSecret(workspaceId, ep.id)).secret), 'Rotated: update your receiver within 24 hours.');
            }}>Rotate</button>
          </div>
          <h3>Delivery</h3>
          {stats && (
            <p class="small" data-testid="webhook-stats">
              {stats.attempts} recent attempts · success {stats.success_rate === null ? '—' : `${Math.round(stats.success_rate * 100)} %`} · latency p50 {stats.latency_p50_ms ?? '—'} ms, p95 {stats.latency_p95_ms ?? '—'} ms · {stats.pending_messages} pending
            </p>
          )}
          <div class="row">
            <button type="button" class="btn btn-sm" data-testid="webhook-test" onClick={() => void run(() => testWebhook(workspaceId, ep.id), 'Test message queued.')}>Send test event</button>
          </div>
          <div class="row">
            <label for="replay-since" class="small">Replay since</label>
            <input id="replay-since" type="datetime-local" value={since} onInput={(e) => setSince(e.currentTarget.value)} />
            <button type="button" class="btn btn-sm" data-testid="webhook-replay" disabled={!since} onClick={() =>
              void run(async () => {
                const r = await replayWebhook(workspaceId, ep.id, new Date(since).toISOString());
                setNotice(`${r.messages} messages queued again.`);
              })
            }>Replay</button>
          </div>
        </div>
      </div>
      <h3 class="mt">Messages</h3>
      <table class="table" data-testid="webhook-messages">
        <thead>
          <tr>
            <th scope="col">Event</th>
            <th scope="col">Status</th>
            <th scope="col">Attempts</th>
            <th scope="col">Next try</th>
            <th scope="col">Created</th>
            <th scope="col"><span class="sr-only">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {messages.map((m) => (
            <>
              <tr key={m.id} data-testid="webhook-message">
                <td>
                  <button type="button" class="btn btn-ghost btn-sm" onClick={() => setOpen(open === m.id ? null : m.id)}>{m.event_type}</button>
                  <div class="muted small"><code>{m.id}</code></div>
                </td>
                <td><span class={`badge${m.status === 'failed' ? ' badge-warn' : ''}`}>{m.status}</span></td>
                <td>{m.attempts}</td>
                <td class="small">{m.next_attempt_at ? formatDateTime(m.next_attempt_at) : '—'}</td>
                <td class="small">{timeAgo(m.created_at)}</td>
                <td class="actions">
                  <button type="button" class="btn btn-sm" data-testid="webhook-retry" onClick={() => void run(() => retryWebhookMessage(workspaceId, ep.id, m.id), 'Retry queued.')}>Retry</button>
                </td>
              </tr>
              {open === m.id && (
                <tr key={`${m.id}-a`}>
                  <td colSpan={6}>
                    <table class="table small" data-testid="webhook-attempts">
                      <thead>
                        <tr><th>#</th><th>Result</th><th>HTTP</th><th>Duration</th><th>Response / error</th><th>Next try</th><th>At</th></tr>
                      </thead>
                      <tbody>
                        {attempts.map((a) => (
                          <tr key={a.id}>
                            <td>{a.attempt}</td>
                            <td>{a.status}</td>
                            <td>{a.http_status ?? '—'}</td>
                            <td>{a.duration_ms} ms</td>
                            <td><code class="excerpt">{a.error ?? a.response}</code></td>
                            <td>{a.next_attempt_at ? formatDateTime(a.next_attempt_at) : '—'}</td>
                            <td>{formatDateTime(a.created_at)}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </td>
                </tr>
              )}
            </>
          ))}
        </tbody>
      </table>
    </section>
  );
}
