import { useCallback, useEffect, useState } from 'preact/hooks';
import {
  createWebhook,
  eventCatalogue,
  listWebhooks,
  toApiError,
  type ApiError,
  type CatalogueEntry,
  type WebhookEndpoint,
} from '../api';
import { AppLayout } from '../components/AppLayout';
import { EventFilter, textToHeaders } from '../components/EventFilter';
import { ErrorBanner, Field, Notice, Spinner, formatDateTime } from '../components/ui';
import { WebhookDetail } from '../components/WebhookDetail';
import { can } from '../permissions';
import { useWorkspaces } from '../session';

/** Outgoing webhook endpoints of a workspace (admins only). */
export default function WebhooksPage({ workspaceId }: { workspaceId: string }) {
  const { items: workspaces } = useWorkspaces();
  const workspace = workspaces?.find((w) => w.id === workspaceId);
  const [items, setItems] = useState<WebhookEndpoint[] | null>(null);
  const [catalogue, setCatalogue] = useState<CatalogueEntry[]>([]);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [created, setCreated] = useState<WebhookEndpoint | null>(null);

  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [types, setTypes] = useState<string[]>([]);
  const [rate, setRate] = useState('');
  const [headers, setHeaders] = useState('');
  const [busy, setBusy] = useState(false);
  const [formKey, setFormKey] = useState(0);
  const [formError, setFormError] = useState<ApiError | null>(null);

  const load = useCallback(async () => {
    try {
      setItems(await listWebhooks(workspaceId));
      setLoadError(null);
    } catch (e) {
      setLoadError(toApiError(e));
    }
  }, [workspaceId]);

  useEffect(() => {
    void load();
    void eventCatalogue().then((c) => setCatalogue(c.events), () => setCatalogue([]));
  }, [load]);

  const onCreate = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setFormError(null);
    try {
      const ep = await createWebhook(workspaceId, {
        url: url.trim(),
        description,
        event_types: types,
        rate_limit: rate.trim() ? Number(rate) : null,
        headers: textToHeaders(headers),
      });
      setCreated(ep);
      setSelected(ep.id);
      setUrl('');
      setDescription('');
      setTypes([]);
      setRate('');
      setHeaders('');
      setFormKey((k) => k + 1);
      await load();
    } catch (err) {
      setFormError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };

  const current = items?.find((x) => x.id === selected) ?? null;
  const admin = can(workspace?.role, 'webhooks_manage');

  return (
    <AppLayout workspaceId={workspaceId}>
      <div class="page-head">
        <h1>Webhooks{workspace ? ` · ${workspace.name}` : ''}</h1>
      </div>
      {!admin && <Notice>Only workspace admins manage webhooks.</Notice>}
      {created?.secret && (
        <Notice testid="webhook-created">
          Endpoint added. Its signing secret (also available later with “Reveal secret”):{' '}
          <code data-testid="webhook-new-secret">{created.secret}</code>
        </Notice>
      )}
      <div class="grid-2 grid-wide-left">
        <section class="card" aria-labelledby="endpoints-h">
          <h2 id="endpoints-h">Endpoints</h2>
          {loadError ? (
            <ErrorBanner error={loadError} testid="webhooks-load-error" />
          ) : !items ? (
            <Spinner />
          ) : items.length === 0 ? (
            <p class="muted" data-testid="webhooks-empty">
              No endpoints yet. Every event of this workspace can be sent, signed, to your systems.
            </p>
          ) : (
            <table class="table" data-testid="webhooks-table">
              <thead>
                <tr>
                  <th scope="col">Endpoint</th>
                  <th scope="col">Events</th>
                  <th scope="col">Status</th>
                  <th scope="col">Added</th>
                </tr>
              </thead>
              <tbody>
                {items.map((w) => (
                  <tr key={w.id} data-testid="webhook-row" class={w.id === selected ? 'selected' : ''}>
                    <td>
                      <button type="button" class="btn btn-ghost btn-sm" onClick={() => setSelected(w.id)} data-testid="webhook-open">
                        {w.description || w.url}
                      </button>
                      <div class="muted small">{w.url}</div>
                    </td>
                    <td class="small">{w.event_types.length ? w.event_types.join(', ') : 'All events'}</td>
                    <td>
                      {w.enabled ? (
                        <span class="badge">{w.failing_since ? 'Failing' : 'Enabled'}</span>
                      ) : (
                        <span class="badge badge-warn" title={w.disabled_reason ?? ''}>
                          Disabled
                        </span>
                      )}
                    </td>
                    <td class="small">{formatDateTime(w.created_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>

        <section class="card" aria-labelledby="add-h">
          <h2 id="add-h">Add an endpoint</h2>
          <form onSubmit={onCreate} class="stack" data-testid="webhook-form">
            <ErrorBanner error={formError} testid="webhook-form-error" />
            <Field label="URL" name="url" hint="Where Copydesk POSTs events. Private and internal addresses are refused.">
              <input id="f-url" type="url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} placeholder="https://example.com/hooks/copydesk" />
            </Field>
            <Field label="Description" name="description">
              <input id="f-description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
            </Field>
            <EventFilter key={formKey} catalogue={catalogue} value={types} onChange={setTypes} idPrefix="new" />
            <Field label="Rate limit (per second)" name="rate_limit" hint="Empty: no limit.">
              <input id="f-rate_limit" type="number" min={1} max={1000} value={rate} onInput={(e) => setRate(e.currentTarget.value)} />
            </Field>
            <Field label="Extra headers" name="headers" hint="One per line, e.g. X-Api-Key: 123">
              <textarea id="f-headers" rows={2} value={headers} onInput={(e) => setHeaders(e.currentTarget.value)} />
            </Field>
            <button type="submit" class="btn btn-primary" disabled={busy || !admin} data-testid="webhook-create">
              {busy ? 'Adding…' : 'Add endpoint'}
            </button>
          </form>
        </section>
      </div>
      {current && (
        <WebhookDetail key={current.id} workspaceId={workspaceId} endpoint={current} catalogue={catalogue} onChanged={load} onDeleted={() => { setSelected(null); void load(); }} />
      )}
    </AppLayout>
  );
}
