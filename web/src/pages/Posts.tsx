import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  POST_STATUSES,
  deletePost,
  duplicatePost,
  listPosts,
  toApiError,
  type ApiError,
  type Post,
  type PostFilters,
} from '../api';
import { AppLayout } from '../components/AppLayout';
import { ShareLinkCreator } from '../components/ShareLinks';
import { ErrorBanner, Notice, Spinner, formatDateTime, humanize } from '../components/ui';
import { can } from '../permissions';
import { PLATFORMS, platformLabel } from '../platforms';
import { Link, replaceQuery, useLocation } from '../router';
import { useWorkspaces } from '../session';

const PAGE_SIZE = 25;

const SORTS: { value: string; label: string }[] = [
  { value: '-created_at', label: 'Newest first' },
  { value: 'created_at', label: 'Oldest first' },
  { value: '-updated_at', label: 'Recently updated' },
  { value: 'scheduled_at', label: 'Scheduled (soonest)' },
  { value: '-scheduled_at', label: 'Scheduled (latest)' },
  { value: 'title', label: 'Title A–Z' },
  { value: '-title', label: 'Title Z–A' },
];

interface FilterForm {
  status: string;
  platform: string;
  tag: string;
  campaign: string;
  q: string;
  created_from: string;
  created_to: string;
  scheduled_from: string;
  scheduled_to: string;
  sort: string;
}

const FILTER_KEYS: (keyof FilterForm)[] = [
  'status',
  'platform',
  'tag',
  'campaign',
  'q',
  'created_from',
  'created_to',
  'scheduled_from',
  'scheduled_to',
  'sort',
];
const DEFAULT_SORT = '-created_at';

function fromQuery(q: URLSearchParams): FilterForm {
  const f = {} as FilterForm;
  for (const k of FILTER_KEYS) f[k] = q.get(k) ?? '';
  if (!f.sort) f.sort = DEFAULT_SORT;
  return f;
}

/** yyyy-mm-dd (local day) → RFC 3339 UTC instant at the start or end of that day. */
function dayBound(day: string, end: boolean): string | undefined {
  if (!day) return undefined;
  const d = new Date(`${day}T${end ? '23:59:59.999' : '00:00:00'}`);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function toApiFilters(f: FilterForm): PostFilters {
  return {
    status: f.status || undefined,
    platform: f.platform || undefined,
    tag: f.tag.trim() || undefined,
    campaign: f.campaign.trim() || undefined,
    q: f.q.trim() || undefined,
    created_from: dayBound(f.created_from, false),
    created_to: dayBound(f.created_to, true),
    scheduled_from: dayBound(f.scheduled_from, false),
    scheduled_to: dayBound(f.scheduled_to, true),
    sort: f.sort || undefined,
    limit: PAGE_SIZE,
  };
}

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

export default function PostsPage({ workspaceId }: { workspaceId: string }) {
  const { query } = useLocation();
  const { items: workspaces } = useWorkspaces();
  const workspace = workspaces?.find((w) => w.id === workspaceId);
  const [form, setForm] = useState<FilterForm>(() => fromQuery(query));
  const [items, setItems] = useState<Post[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [reloadTick, setReloadTick] = useState(0);
  const seq = useRef(0);

  // Text inputs are debounced; selects and dates apply at once.
  const textPart = useMemo(() => ({ tag: form.tag, campaign: form.campaign, q: form.q }), [form.tag, form.campaign, form.q]);
  const debouncedText = useDebounced(textPart, 300);
  const effective: FilterForm = { ...form, ...debouncedText };
  const apiFilters = toApiFilters(effective);
  const filtersKey = JSON.stringify(apiFilters);

  useEffect(() => {
    const qs = new URLSearchParams();
    for (const k of FILTER_KEYS) {
      const v = effective[k];
      if (v && !(k === 'sort' && v === DEFAULT_SORT)) qs.set(k, v);
    }
    replaceQuery(qs);
    const my = ++seq.current;
    setLoading(true);
    setError(null);
    listPosts(workspaceId, apiFilters)
      .then((page) => {
        if (my !== seq.current) return;
        setItems(page.items);
        setCursor(page.next_cursor);
      })
      .catch((e) => {
        if (my !== seq.current) return;
        setError(toApiError(e));
        setItems([]);
        setCursor(null);
      })
      .finally(() => {
        if (my === seq.current) setLoading(false);
      });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [workspaceId, filtersKey, reloadTick]);

  const loadMore = async () => {
    if (!cursor) return;
    const my = ++seq.current;
    setLoading(true);
    try {
      const page = await listPosts(workspaceId, { ...apiFilters, cursor });
      if (my !== seq.current) return;
      setItems((prev) => [...(prev ?? []), ...page.items.filter((p) => !prev?.some((x) => x.id === p.id))]);
      setCursor(page.next_cursor);
    } catch (e) {
      if (my === seq.current) setError(toApiError(e));
    } finally {
      if (my === seq.current) setLoading(false);
    }
  };

  const set = (k: keyof FilterForm) => (e: Event) => {
    const v = (e.currentTarget as HTMLInputElement | HTMLSelectElement).value;
    setForm((f) => ({ ...f, [k]: v }));
  };

  const hasFilters = FILTER_KEYS.some((k) => k !== 'sort' && form[k]);
  const clearFilters = () => setForm({ ...fromQuery(new URLSearchParams()), sort: form.sort });

  const [selected, setSelected] = useState<string[]>([]);
  const [sharing, setSharing] = useState(false);
  const canShare = can(workspace?.role, 'share_links');
  const toggleSelected = (id: string, on: boolean) => setSelected((cur) => (on ? [...new Set([...cur, id])] : cur.filter((x) => x !== id)));

  const onDuplicate = async (p: Post) => {
    setError(null);
    setNotice(null);
    try {
      const copy = await duplicatePost(p.id);
      setNotice(`Created “${copy.title}”.`);
      setReloadTick((t) => t + 1);
    } catch (e) {
      setError(toApiError(e));
    }
  };

  const onDelete = async (p: Post) => {
    if (!confirm(`Delete “${p.title || 'Untitled post'}”? This cannot be undone.`)) return;
    setError(null);
    setNotice(null);
    try {
      await deletePost(p.id);
      setItems((prev) => (prev ?? []).filter((x) => x.id !== p.id));
      setNotice(`Deleted “${p.title || 'Untitled post'}”.`);
    } catch (e) {
      setError(toApiError(e));
    }
  };

  return (
    <AppLayout workspaceId={workspaceId}>
      <div class="page-head">
        <h1>Posts{workspace ? ` · ${workspace.name}` : ''}</h1>
        {can(workspace?.role, 'post_create') && (
          <Link href={`/w/${workspaceId}/posts/new`} class="btn btn-primary" data-testid="new-post">
            New post
          </Link>
        )}
      </div>

      <form class="card filters" role="search" aria-label="Filter posts" onSubmit={(e) => e.preventDefault()} data-testid="post-filters">
        <div class="filters-grid">
          <div class="field field-wide">
            <label for="flt-q">Search</label>
            <input id="flt-q" type="search" value={form.q} onInput={set('q')} placeholder="Title or caption…" data-testid="filter-q" />
          </div>
          <div class="field">
            <label for="flt-status">Status</label>
            <select id="flt-status" value={form.status} onChange={set('status')} data-testid="filter-status">
              <option value="">Any status</option>
              {POST_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {humanize(s)}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="flt-platform">Platform</label>
            <select id="flt-platform" value={form.platform} onChange={set('platform')} data-testid="filter-platform">
              <option value="">Any platform</option>
              {PLATFORMS.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.label}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="flt-tag">Tag</label>
            <input id="flt-tag" value={form.tag} onInput={set('tag')} data-testid="filter-tag" />
          </div>
          <div class="field">
            <label for="flt-campaign">Campaign</label>
            <input id="flt-campaign" value={form.campaign} onInput={set('campaign')} data-testid="filter-campaign" />
          </div>
          <fieldset class="field range">
            <legend>Created</legend>
            <label class="sr-only" for="flt-cf">Created from</label>
            <input id="flt-cf" type="date" value={form.created_from} onChange={set('created_from')} data-testid="filter-created-from" />
            <span aria-hidden="true">–</span>
            <label class="sr-only" for="flt-ct">Created to</label>
            <input id="flt-ct" type="date" value={form.created_to} onChange={set('created_to')} data-testid="filter-created-to" />
          </fieldset>
          <fieldset class="field range">
            <legend>Scheduled</legend>
            <label class="sr-only" for="flt-sf">Scheduled from</label>
            <input id="flt-sf" type="date" value={form.scheduled_from} onChange={set('scheduled_from')} data-testid="filter-scheduled-from" />
            <span aria-hidden="true">–</span>
            <label class="sr-only" for="flt-st">Scheduled to</label>
            <input id="flt-st" type="date" value={form.scheduled_to} onChange={set('scheduled_to')} data-testid="filter-scheduled-to" />
          </fieldset>
          <div class="field">
            <label for="flt-sort">Sort</label>
            <select id="flt-sort" value={form.sort} onChange={set('sort')} data-testid="filter-sort">
              {SORTS.map((s) => (
                <option key={s.value} value={s.value}>
                  {s.label}
                </option>
              ))}
            </select>
          </div>
        </div>
        {hasFilters && (
          <button type="button" class="btn btn-ghost btn-sm" onClick={clearFilters} data-testid="filter-clear">
            Clear filters
          </button>
        )}
      </form>

      {notice && <Notice testid="posts-notice">{notice}</Notice>}
      <ErrorBanner error={error} testid="posts-error" />

      {canShare && selected.length > 0 && (
        <div class="card selection-bar" role="region" aria-label="Selected posts" data-testid="posts-selection">
          <div class="row">
            <strong>{selected.length} selected</strong>
            <button type="button" class="btn btn-sm btn-primary" aria-expanded={sharing} onClick={() => setSharing((x) => !x)} data-testid="posts-share">
              Share for review…
            </button>
            <button type="button" class="btn btn-sm btn-ghost" onClick={() => { setSelected([]); setSharing(false); }}>
              Clear selection
            </button>
          </div>
          {sharing && <ShareLinkCreator key={selected.join(',')} workspaceId={workspaceId} postIds={selected} />}
        </div>
      )}

      <section aria-label="Posts" aria-busy={loading} data-testid="posts-list" data-loading={loading ? 'true' : 'false'}>
        {items === null ? (
          <Spinner />
        ) : items.length === 0 ? (
          <div class="empty card" data-testid="posts-empty">
            {hasFilters ? 'No posts match these filters.' : 'No posts yet. Create the first one.'}
          </div>
        ) : (
          <ul class="post-list">
            {items.map((p) => (
              <li key={p.id} class="post-row card" data-testid="post-row" data-post-id={p.id} data-title={p.title}>
                <div class="post-main">
                  <div class="post-title-line">
                    {canShare && (
                      <input
                        type="checkbox"
                        checked={selected.includes(p.id)}
                        onChange={(e) => toggleSelected(p.id, e.currentTarget.checked)}
                        aria-label={`Select “${p.title || 'Untitled post'}”`}
                        data-testid="post-select"
                      />
                    )}
                    <Link href={`/w/${workspaceId}/posts/${p.id}`} class="post-title" data-testid="post-link">
                      {p.title || 'Untitled post'}
                    </Link>
                    <span class={`status status-${p.status}`} data-testid="post-status">
                      {humanize(p.status)}
                    </span>
                    {!p.is_valid && (
                      <span class="badge badge-warn" title="Some platforms have problems">
                        Needs fixes
                      </span>
                    )}
                  </div>
                  <p class="post-caption muted">{p.caption.length > 160 ? `${p.caption.slice(0, 160)}…` : p.caption}</p>
                  <div class="chips">
                    {p.platforms.map((pl) => (
                      <span key={pl} class={`chip chip-${pl}`}>
                        {platformLabel(pl)}
                      </span>
                    ))}
                    {p.tags.map((t) => (
                      <span key={`t-${t}`} class="chip chip-tag">
                        #{t}
                      </span>
                    ))}
                    {p.campaign && <span class="chip chip-campaign">{p.campaign}</span>}
                  </div>
                </div>
                <div class="post-meta small muted">
                  <div>Scheduled: {formatDateTime(p.scheduled_at)}</div>
                  <div>Updated: {formatDateTime(p.updated_at)}</div>
                </div>
                <div class="post-actions">
                  {can(workspace?.role, 'post_create') && (
                    <button type="button" class="btn btn-sm" onClick={() => onDuplicate(p)} data-testid="post-duplicate">
                      Duplicate
                    </button>
                  )}
                  {can(workspace?.role, 'post_delete') && (
                    <button type="button" class="btn btn-sm btn-danger-ghost" onClick={() => onDelete(p)} data-testid="post-delete">
                      Delete
                    </button>
                  )}
                </div>
              </li>
            ))}
          </ul>
        )}
        {cursor && (
          <div class="center">
            <button type="button" class="btn" onClick={loadMore} disabled={loading} data-testid="load-more">
              {loading ? 'Loading…' : 'Load more'}
            </button>
          </div>
        )}
      </section>
    </AppLayout>
  );
}
