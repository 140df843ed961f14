// Version history of a post: named versions, automatic ones (submit, approve, publish,
// restore…), a version's content with its changes up to now, and restore.
import { useEffect, useState } from 'preact/hooks';
import {
  createVersion,
  getVersion,
  getVersionDiff,
  listVersions,
  restoreVersion,
  toApiError,
  type FieldDiff,
  type Version,
  type VersionDetail,
} from '../api';
import { fieldLabel } from './CommentsPanel';
import { formatDateTime, humanize } from './ui';

interface Props {
  postId: string;
  canEdit: boolean;
  /** Bumped by the page when versions may have changed (events, restore). */
  refreshKey: number;
  onRestored?: () => void;
}

const KIND_LABEL: Record<string, string> = {
  auto: 'Autosave',
  named: 'Named',
  submit: 'Submitted',
  approve: 'Approved',
  publish: 'Published',
  restore: 'Before a restore',
};

export function HistoryPanel({ postId, canEdit, refreshKey, onRestored }: Props) {
  const [items, setItems] = useState<Version[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [saving, setSaving] = useState(false);
  const [openId, setOpenId] = useState<string | null>(null);
  const [localKey, setLocalKey] = useState(0);

  useEffect(() => {
    let cancelled = false;
    listVersions(postId)
      .then((v) => {
        if (cancelled) return;
        setItems(v.slice().sort((a, b) => b.created_at.localeCompare(a.created_at)));
        setError(null);
      })
      .catch((e) => !cancelled && setError(toApiError(e).message));
    return () => {
      cancelled = true;
    };
  }, [postId, refreshKey, localKey]);

  const save = async (e: Event) => {
    e.preventDefault();
    if (!name.trim() || saving) return;
    setSaving(true);
    setError(null);
    try {
      await createVersion(postId, name.trim());
      setName('');
      setLocalKey((k) => k + 1);
    } catch (err) {
      setError(toApiError(err).message);
    } finally {
      setSaving(false);
    }
  };

  return (
    <section class="history-panel" aria-label="Version history" data-testid="history-panel">
      {canEdit && (
        <form class="inline history-save" onSubmit={save}>
          <label for="version-name" class="sr-only">
            Version name
          </label>
          <input id="version-name" value={name} placeholder="Name this version…" maxLength={200} onInput={(e) => setName(e.currentTarget.value)} data-testid="version-name" />
          <button type="submit" class="btn btn-sm btn-primary" disabled={saving || !name.trim()} data-testid="version-save">
            {saving ? 'Saving…' : 'Save version'}
          </button>
        </form>
      )}
      {error && (
        <div class="alert alert-error small" role="alert" data-testid="history-error">
          {error}
        </div>
      )}
      {items === null ? (
        !error && <p class="muted small">Loading history…</p>
      ) : items.length === 0 ? (
        <p class="muted small" data-testid="history-empty">
          No versions yet.
        </p>
      ) : (
        <ul class="history-list" data-testid="version-list">
          {items.map((v) => (
            <li key={v.id} class={`history-item${openId === v.id ? ' open' : ''}`} data-testid="version-row" data-version-id={v.id} data-name={v.name ?? ''} data-kind={v.kind}>
              <button type="button" class="history-item-btn" aria-expanded={openId === v.id} onClick={() => setOpenId(openId === v.id ? null : v.id)} data-testid="version-open">
                <span class="history-name">{v.name || KIND_LABEL[v.kind] || humanize(v.kind)}</span>
                <span class={`badge kind-${v.kind}`}>{KIND_LABEL[v.kind] ?? humanize(v.kind)}</span>
                <span class="muted small history-meta">
                  {formatDateTime(v.created_at)}
                  {v.created_by ? ` · ${v.created_by.name}` : ''}
                </span>
              </button>
              {openId === v.id && (
                <VersionView
                  postId={postId}
                  version={v}
                  canEdit={canEdit}
                  onRestored={() => {
                    setLocalKey((k) => k + 1);
                    onRestored?.();
                  }}
                />
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function VersionView({ postId, version, canEdit, onRestored }: { postId: string; version: Version; canEdit: boolean; onRestored: () => void }) {
  const [detail, setDetail] = useState<VersionDetail | null>(null);
  const [diff, setDiff] = useState<FieldDiff[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [restoring, setRestoring] = useState(false);
  const [restored, setRestored] = useState(false);

  useEffect(() => {
    let cancelled = false;
    Promise.all([getVersion(postId, version.id), getVersionDiff(postId, version.id)])
      .then(([d, f]) => {
        if (cancelled) return;
        setDetail(d);
        setDiff(f);
      })
      .catch((e) => !cancelled && setError(toApiError(e).message));
    return () => {
      cancelled = true;
    };
  }, [postId, version.id]);

  const changed = (diff ?? []).filter((f) => f.changes.some((c) => c.op !== 'equal') || f.before !== f.after);

  const restore = async () => {
    if (!confirm(`Restore “${version.name || formatDateTime(version.created_at)}”? Everyone editing sees the restored text; the current text stays in the history.`)) return;
    setRestoring(true);
    setError(null);
    try {
      await restoreVersion(postId, version.id);
      setRestored(true);
      onRestored();
    } catch (e) {
      setError(toApiError(e).message);
    } finally {
      setRestoring(false);
    }
  };

  return (
    <div class="version-view" data-testid="version-view">
      {error && (
        <div class="alert alert-error small" role="alert">
          {error}
        </div>
      )}
      {!detail || !diff ? (
        !error && <p class="muted small">Loading…</p>
      ) : (
        <>
          <p class="small muted">Changes from this version to now: <del class="diff-del">removed since</del> <ins class="diff-ins">added since</ins></p>
          {changed.length === 0 ? (
            <p class="small" data-testid="version-same">
              Same text as now.
            </p>
          ) : (
            <div class="diff" data-testid="version-diff">
              {changed.map((f) => (
                <div class="diff-field" key={f.field} data-field={f.field}>
                  <div class="diff-label">{fieldLabel(f.field)}</div>
                  <div class="diff-text">
                    {f.changes.map((c, i) =>
                      c.op === 'insert' ? (
                        <ins key={i} class="diff-ins">
                          {c.text}
                        </ins>
                      ) : c.op === 'delete' ? (
                        <del key={i} class="diff-del">
                          {c.text}
                        </del>
                      ) : (
                        <span key={i}>{c.text}</span>
                      ),
                    )}
                  </div>
                </div>
              ))}
            </div>
          )}
          <details class="version-content">
            <summary class="small">Text of this version</summary>
            <div class="diff-field">
              <div class="diff-label">Title</div>
              <div class="diff-text">{detail.content.title || <span class="muted">(empty)</span>}</div>
            </div>
            <div class="diff-field">
              <div class="diff-label">Caption</div>
              <div class="diff-text" data-testid="version-caption">
                {detail.content.caption || <span class="muted">(empty)</span>}
              </div>
            </div>
            {Object.entries(detail.content.platform_content ?? {})
              .filter(([, t]) => t)
              .map(([pl, t]) => (
                <div class="diff-field" key={pl}>
                  <div class="diff-label">{fieldLabel(`content:${pl}`)}</div>
                  <div class="diff-text">{t}</div>
                </div>
              ))}
          </details>
          {canEdit && (
            <div class="composer-actions">
              {restored && (
                <span class="small ok" role="status" data-testid="version-restored">
                  Restored.
                </span>
              )}
              <button type="button" class="btn btn-sm" disabled={restoring} onClick={() => void restore()} data-testid="version-restore">
                {restoring ? 'Restoring…' : 'Restore this version'}
              </button>
            </div>
          )}
        </>
      )}
    </div>
  );
}
