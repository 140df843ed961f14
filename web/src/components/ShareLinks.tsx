// Share links for client review: create one for one or several posts (permissions, expiry,
// label), copy its URL, list the workspace's links (or those of one post) and revoke them.
import { useEffect, useState } from 'preact/hooks';
import {
  createShareLink,
  listShareLinks,
  revokeShareLink,
  shareLinkUrl,
  toApiError,
  type ApiError,
  type ShareLink,
  type SharePermission,
} from '../api';
import { ErrorBanner, Spinner, formatDateTime } from './ui';

/** Links always expire (the server allows up to 90 days). */
export const EXPIRY_CHOICES: { hours: number; label: string }[] = [
  { hours: 24, label: '1 day' },
  { hours: 72, label: '3 days' },
  { hours: 168, label: '7 days' },
  { hours: 720, label: '30 days' },
  { hours: 2160, label: '90 days' },
];

const PERMISSION_TEXT: Record<SharePermission, string> = {
  view: 'View',
  comment: 'Comment',
  approve: 'Approve / reject',
};

/** Copy text to the clipboard; false when the browser refuses (the field stays selectable). */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

export function CopyField({ value, label, testid }: { value: string; label: string; testid?: string }) {
  const [copied, setCopied] = useState<string | null>(null);
  const id = `copy-${testid ?? 'field'}`;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <div class="inline">
        <input id={id} readOnly value={value} onFocus={(e) => e.currentTarget.select()} data-testid={testid} />
        <button
          type="button"
          class="btn btn-sm"
          onClick={async () => {
            const ok = await copyText(value);
            setCopied(ok ? 'Copied.' : 'Copy failed: select the link and copy it.');
            if (!ok) (document.getElementById(id) as HTMLInputElement | null)?.select();
          }}
          data-testid={testid ? `${testid}-copy` : undefined}
        >
          Copy
        </button>
      </div>
      <p class="hint" role="status" aria-live="polite">
        {copied}
      </p>
    </div>
  );
}

interface CreatorProps {
  workspaceId: string;
  postIds: string[];
  onCreated?: (l: ShareLink) => void;
}

export function ShareLinkCreator({ workspaceId, postIds, onCreated }: CreatorProps) {
  const [perms, setPerms] = useState<SharePermission[]>(['view', 'comment', 'approve']);
  const [hours, setHours] = useState<string>('168');
  const [label, setLabel] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [created, setCreated] = useState<ShareLink | null>(null);

  const toggle = (p: SharePermission, on: boolean) =>
    setPerms((cur) => {
      const next = on ? [...new Set([...cur, p])] : cur.filter((x) => x !== p);
      return next.includes('view') ? next : ['view', ...next];
    });

  const create = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const l = await createShareLink(workspaceId, {
        post_ids: postIds,
        permissions: perms,
        expires_in_hours: Number(hours) || 168,
        ...(label.trim() ? { label: label.trim() } : {}),
      });
      setCreated(l);
      onCreated?.(l);
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="stack share-form" onSubmit={create} data-testid="share-form">
      <p class="small muted">
        Anyone with the link can open {postIds.length === 1 ? 'this post' : `these ${postIds.length} posts`} without an account.
      </p>
      <ErrorBanner error={error} testid="share-error" />
      <fieldset class="plain">
        <legend class="small">The client may</legend>
        <div class="row">
          {(Object.keys(PERMISSION_TEXT) as SharePermission[]).map((p) => (
            <label key={p} class="opt">
              <input type="checkbox" checked={perms.includes(p)} disabled={p === 'view'} onChange={(e) => toggle(p, e.currentTarget.checked)} data-testid={`share-perm-${p}`} />{' '}
              {PERMISSION_TEXT[p]}
            </label>
          ))}
        </div>
      </fieldset>
      <div class="row">
        <div class="field">
          <label for="share-expiry">Expires after</label>
          <select id="share-expiry" value={hours} onChange={(e) => setHours(e.currentTarget.value)} data-testid="share-expiry">
            {EXPIRY_CHOICES.map((c) => (
              <option key={c.label} value={String(c.hours)}>
                {c.label}
              </option>
            ))}
          </select>
        </div>
        <div class="field grow">
          <label for="share-label">Label (optional)</label>
          <input id="share-label" value={label} onInput={(e) => setLabel(e.currentTarget.value)} placeholder="e.g. ACME, March posts" data-testid="share-label" />
        </div>
      </div>
      <div>
        <button type="submit" class="btn btn-primary btn-sm" disabled={busy || postIds.length === 0} data-testid="share-create">
          {busy ? 'Creating…' : 'Create review link'}
        </button>
      </div>
      {created && <CopyField value={shareLinkUrl(created)} label="Review link" testid="share-url" />}
    </form>
  );
}

interface ListProps {
  workspaceId: string;
  /** Only the links that include this post. */
  postId?: string;
  refreshKey?: number;
  compact?: boolean;
  /** Titles of posts by id, to name them in the list. */
  titles?: Record<string, string>;
}

export function ShareLinkList({ workspaceId, postId, refreshKey = 0, compact = false, titles = {} }: ListProps) {
  const [links, setLinks] = useState<ShareLink[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [showOld, setShowOld] = useState(false);

  const load = () =>
    listShareLinks(workspaceId).then(
      (l) => {
        setLinks(l);
        setError(null);
      },
      (e) => setError(toApiError(e)),
    );

  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [workspaceId, refreshKey]);

  const revoke = async (l: ShareLink) => {
    if (!confirm('Revoke this link? Anyone using it loses access at once.')) return;
    try {
      await revokeShareLink(l.id);
      await load();
    } catch (e) {
      setError(toApiError(e));
    }
  };

  if (error) return <ErrorBanner error={error} testid="share-links-error" />;
  if (!links) return <Spinner />;
  const now = Date.now();
  const isLive = (l: ShareLink) => !l.revoked_at && (!l.expires_at || new Date(l.expires_at).getTime() > now);
  const mine = links.filter((l) => !postId || l.post_ids.includes(postId));
  const shown = mine.filter((l) => showOld || isLive(l));

  return (
    <div class="share-links" data-testid="share-links">
      {!compact || shown.length > 0 ? <h3 class="h-small">{postId ? 'Links to this post' : 'Review links'}</h3> : null}
      {shown.length === 0 ? (
        !compact && (
          <p class="muted small" data-testid="share-links-empty">
            No active review links.
          </p>
        )
      ) : (
        <ul class="list">
          {shown.map((l) => (
            <li key={l.id} class="list-row share-link-row" data-testid="share-link-row" data-link-id={l.id}>
              <div class="list-main">
                <strong>{l.label || `${l.post_ids.length} post${l.post_ids.length === 1 ? '' : 's'}`}</strong>
                <span class="small muted">
                  {l.permissions.join(', ')} ·{' '}
                  {l.revoked_at ? `revoked ${formatDateTime(l.revoked_at)}` : l.expires_at ? `${isLive(l) ? 'expires' : 'expired'} ${formatDateTime(l.expires_at)}` : 'never expires'}
                </span>
                {!compact && l.post_ids.some((id) => titles[id]) && (
                  <span class="small">{l.post_ids.map((id) => titles[id] ?? id.slice(0, 8)).join(' · ')}</span>
                )}
              </div>
              <div class="row">
                {isLive(l) && (
                  <button type="button" class="btn btn-sm" onClick={() => void copyText(shareLinkUrl(l))} aria-label={`Copy link ${l.label ?? ''}`.trim()} data-testid="share-link-copy">
                    Copy
                  </button>
                )}
                {!l.revoked_at && (
                  <button type="button" class="btn btn-danger-ghost btn-sm" onClick={() => void revoke(l)} data-testid="share-link-revoke">
                    Revoke
                  </button>
                )}
              </div>
            </li>
          ))}
        </ul>
      )}
      {mine.some((l) => !isLive(l)) && (
        <label class="opt small">
          <input type="checkbox" checked={showOld} onChange={(e) => setShowOld(e.currentTarget.checked)} /> Show revoked and expired links
        </label>
      )}
    </div>
  );
}
