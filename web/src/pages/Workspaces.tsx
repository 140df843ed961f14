import { useState } from 'preact/hooks';
import { createWorkspace, toApiError, type ApiError } from '../api';
import { AppLayout } from '../components/AppLayout';
import { ErrorBanner, Field, Spinner, humanize } from '../components/ui';
import { Link, navigate } from '../router';
import { reloadWorkspaces, useWorkspaces } from '../session';

export default function WorkspacesPage() {
  const { items, error: loadError } = useWorkspaces();
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  const onCreate = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const ws = await createWorkspace({ name: name.trim(), slug: slug.trim() || undefined });
      await reloadWorkspaces();
      navigate(`/w/${ws.id}/posts`);
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <AppLayout>
      <div class="page-head">
        <h1>Workspaces</h1>
      </div>
      <div class="grid-2">
        <section class="card" aria-labelledby="ws-list-h">
          <h2 id="ws-list-h">Your workspaces</h2>
          {loadError && <ErrorBanner error={loadError} testid="workspaces-error" />}
          {items === null ? (
            <Spinner />
          ) : items.length === 0 ? (
            <p class="muted" data-testid="workspaces-empty">
              You're not in any workspace yet. Create one, or ask a colleague to invite you.
            </p>
          ) : (
            <ul class="list" data-testid="workspace-list">
              {items.map((w) => (
                <li key={w.id} class="list-row" data-testid="workspace-item">
                  <Link href={`/w/${w.id}/posts`} class="list-main">
                    <strong>{w.name}</strong>
                    <span class="muted small">/{w.slug}</span>
                  </Link>
                  <span class="badge">{humanize(w.role)}</span>
                </li>
              ))}
            </ul>
          )}
        </section>

        <section class="card" aria-labelledby="ws-new-h">
          <h2 id="ws-new-h">New workspace</h2>
          <form onSubmit={onCreate} noValidate data-testid="workspace-form">
            <ErrorBanner error={error} />
            <Field label="Name" name="name" error={error}>
              <input
                id="f-name"
                required
                value={name}
                onInput={(e) => setName(e.currentTarget.value)}
                placeholder="Acme social team"
                data-testid="workspace-name"
              />
            </Field>
            <Field label="Slug (optional)" name="slug" error={error} hint="Lowercase letters, digits and dashes. Derived from the name if empty.">
              <input
                id="f-slug"
                value={slug}
                onInput={(e) => setSlug(e.currentTarget.value)}
                placeholder="acme-social"
                data-testid="workspace-slug"
              />
            </Field>
            <button type="submit" class="btn btn-primary" disabled={busy} data-testid="workspace-create">
              {busy ? 'Creating…' : 'Create workspace'}
            </button>
          </form>
        </section>
      </div>
    </AppLayout>
  );
}
