import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type * as Y from 'yjs';
import {
  createPost,
  getPost,
  listComments,
  listMembers,
  toApiError,
  updatePost,
  validatePost,
  type ApiError,
  type Comment,
  type CommentAnchor,
  type MediaKind,
  type Platform,
  type Post,
  type PostInput,
  type PlatformRules,
  type Problem,
  type Validation,
} from '../api';
import { AppLayout } from '../components/AppLayout';
import { CaptionEditor } from '../components/CaptionEditor';
import { CommentsPanel } from '../components/CommentsPanel';
import { HistoryPanel } from '../components/HistoryPanel';
import type { Mentionable } from '../components/MentionInput';
import { PresenceBar } from '../components/PresenceBar';
import { CollabEditor, type EditorAnchor } from '../collab/CollabEditor';
import { CAPTION, contentField, getTitle, mediaArray, setMedia, setTitle } from '../collab/doc';
import { useEvents, useLivePost } from '../collab/useLive';
import { can } from '../permissions';
import { useUser, useWorkspaces } from '../session';
import { ErrorBanner, FieldError, Notice, Spinner, formatDateTime, humanize, splitList } from '../components/ui';
import { PLATFORMS, PLATFORM_BY_ID, countChars, effectiveText, platformLength } from '../platforms';
import { Link, navigate } from '../router';

// ---------------------------------------------------------------- form model

interface ContentForm {
  text: string;
  hashtags: string;
  mentions: string;
  fields: Record<string, string>;
}

interface MediaForm {
  url: string;
  kind: MediaKind;
  alt_text: string;
}

interface FormState {
  title: string;
  caption: string;
  platforms: Platform[];
  content: Partial<Record<Platform, ContentForm>>;
  media: MediaForm[];
  tags: string;
  campaign: string;
  labels: string;
  scheduled_at: string; // datetime-local value
  client_visible: boolean;
  archived: boolean;
}

const EMPTY_FORM: FormState = {
  title: '',
  caption: '',
  platforms: [],
  content: {},
  media: [],
  tags: '',
  campaign: '',
  labels: '',
  scheduled_at: '',
  client_visible: false,
  archived: false,
};

function emptyContentForm(): ContentForm {
  return { text: '', hashtags: '', mentions: '', fields: {} };
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** RFC 3339 → value for <input type="datetime-local"> (local time). */
function toLocalInput(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function fromLocalInput(v: string): string | null {
  if (!v) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** Hashtags / mentions: split on commas or whitespace, strip a leading # / @. */
function splitTokens(s: string, prefix: '#' | '@'): string[] {
  return s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean)
    .map((x) => (x.startsWith(prefix) ? x.slice(1) : x))
    .filter(Boolean);
}

function fromPost(p: Post): FormState {
  const content: FormState['content'] = {};
  for (const [pl, c] of Object.entries(p.platform_content ?? {})) {
    if (!c) continue;
    content[pl as Platform] = {
      text: c.text ?? '',
      hashtags: (c.hashtags ?? []).map((h) => `#${h.replace(/^#/, '')}`).join(' '),
      mentions: (c.mentions ?? []).map((m) => `@${m.replace(/^@/, '')}`).join(' '),
      fields: { ...(c.fields ?? {}) },
    };
  }
  return {
    title: p.title ?? '',
    caption: p.caption ?? '',
    platforms: [...(p.platforms ?? [])],
    content,
    media: (p.media ?? []).map((m) => ({ url: m.url, kind: m.kind, alt_text: m.alt_text ?? '' })),
    tags: (p.tags ?? []).join(', '),
    campaign: p.campaign ?? '',
    labels: (p.labels ?? []).join(', '),
    scheduled_at: toLocalInput(p.scheduled_at),
    client_visible: !!p.client_visible,
    archived: p.status === 'archived',
  };
}

function toInput(f: FormState, status: Post['status'] | null): PostInput {
  const platform_content: PostInput['platform_content'] = {};
  for (const pl of f.platforms) {
    const c = f.content[pl] ?? emptyContentForm();
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(c.fields)) if (k.trim() && v.trim()) fields[k.trim()] = v.trim();
    platform_content[pl] = {
      text: c.text.trim() ? c.text : null,
      hashtags: splitTokens(c.hashtags, '#'),
      mentions: splitTokens(c.mentions, '@'),
      fields,
    };
  }
  const input: PostInput = {
    title: f.title.trim(),
    caption: f.caption,
    platforms: [...f.platforms],
    platform_content,
    media: f.media
      .filter((m) => m.url.trim())
      .map((m) => ({ url: m.url.trim(), kind: m.kind, alt_text: m.alt_text.trim() || null })),
    tags: splitList(f.tags),
    campaign: f.campaign.trim() || null,
    labels: splitList(f.labels),
    scheduled_at: fromLocalInput(f.scheduled_at),
    client_visible: f.client_visible,
  };
  // Only draft <-> archived can be set from the form.
  if (status === 'draft' || status === 'archived') input.status = f.archived ? 'archived' : 'draft';
  return input;
}

// ---------------------------------------------------------------- live document ↔ form

/** The form with the document-held fields (title, caption, override texts, media) from `doc`. */
function mirrorDoc(f: FormState, doc: Y.Doc): FormState {
  const content = { ...f.content };
  for (const p of PLATFORMS) {
    const text = doc.getText(contentField(p.id)).toString();
    const cur = content[p.id];
    if (cur) {
      if (cur.text !== text) content[p.id] = { ...cur, text };
    } else if (text) content[p.id] = { ...emptyContentForm(), text };
  }
  const media: MediaForm[] = mediaArray(doc)
    .toArray()
    .map((m) => ({
      url: typeof m?.url === 'string' ? m.url : '',
      kind: m?.kind === 'video' || m?.kind === 'gif' ? m.kind : 'image',
      alt_text: typeof m?.alt_text === 'string' ? m.alt_text : '',
    }));
  return { ...f, title: getTitle(doc), caption: doc.getText(CAPTION).toString(), content, media };
}

/** What PUT sends for a live post: everything but the fields the document holds. */
function restOnly(input: PostInput): Partial<PostInput> {
  const { title: _t, caption: _c, media: _m, ...rest } = input;
  return rest;
}

/** The per-platform REST fields (hashtags, mentions, custom fields), without the texts. */
function platformFieldsKey(input: PostInput): string {
  const pc: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input.platform_content ?? {})) pc[k] = { ...v, text: undefined };
  return JSON.stringify(pc);
}

/** REST fields only, without the override texts: to tell whether settings have unsaved edits. */
function settingsKey(input: PostInput): string {
  const rest = restOnly(input);
  const pc: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest.platform_content ?? {})) pc[k] = { ...v, text: undefined };
  return JSON.stringify({ ...rest, platform_content: pc });
}

// ---------------------------------------------------------------- page

interface Props {
  workspaceId: string;
  postId?: string;
}

type SideTab = 'comments' | 'history';

export default function PostEditPage({ workspaceId, postId }: Props) {
  const isNew = !postId;
  const me = useUser();
  const { items: workspaces } = useWorkspaces();
  const role = workspaces?.find((w) => w.id === workspaceId)?.role;
  const [post, setPost] = useState<Post | null>(null);
  const [form, setForm] = useState<FormState>(EMPTY_FORM);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(!isNew);

  const [validation, setValidation] = useState<Validation | null>(null);
  /** The input that `validation` was computed for (to know when server counts are current). */
  const [validatedKey, setValidatedKey] = useState<string | null>(null);
  const [rules, setRules] = useState<Partial<Record<Platform, PlatformRules>>>({});
  const [validating, setValidating] = useState(false);
  const [validationError, setValidationError] = useState<ApiError | null>(null);
  const validateSeq = useRef(0);

  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<ApiError | null>(null);
  const [savedAt, setSavedAt] = useState<string | null>(null);
  const [active, setActive] = useState<Platform | null>(null);

  // ---- live document (existing posts)
  const live = useLivePost(isNew || loading || loadError ? null : postId!, me);
  const conn = live.conn;
  const docReady = !!conn && live.state.loaded;
  const roleKnown = workspaces !== null;
  const readOnly = !isNew && (!roleKnown || !can(role, 'post_edit') || !!live.state.denied);

  // ---- comments, history, events
  const [comments, setComments] = useState<Comment[] | null>(null);
  const [commentsError, setCommentsError] = useState<string | null>(null);
  const [members, setMembers] = useState<Mentionable[]>([]);
  const [pending, setPending] = useState<CommentAnchor | null>(null);
  const [activeComment, setActiveComment] = useState<string | null>(null);
  const [sideTab, setSideTab] = useState<SideTab>('comments');
  const [historyKey, setHistoryKey] = useState(0);
  const [savedSettingsKey, setSavedSettingsKey] = useState<string | null>(null);
  const [remoteSettings, setRemoteSettings] = useState(false);
  const composerRef = useRef<HTMLTextAreaElement | null>(null);
  /** platformFieldsKey() of what the server has (loaded, saved or refreshed). */
  const savedPlatformFields = useRef<string | null>(null);

  // Load an existing post.
  useEffect(() => {
    if (!postId) {
      setPost(null);
      setForm(EMPTY_FORM);
      setLoading(false);
      return;
    }
    let cancelled = false;
    setLoading(true);
    getPost(postId)
      .then((p) => {
        if (cancelled) return;
        setPost(p);
        setForm(fromPost(p));
        setValidation(p.validation ?? {});
        setValidatedKey(JSON.stringify(toInput(fromPost(p), p.status)));
        setSavedSettingsKey(settingsKey(toInput(fromPost(p), p.status)));
        savedPlatformFields.current = platformFieldsKey(toInput(fromPost(p), p.status));
        setLoadError(null);
      })
      .catch((e) => !cancelled && setLoadError(toApiError(e)))
      .finally(() => !cancelled && setLoading(false));
    return () => {
      cancelled = true;
    };
  }, [postId]);

  // The document holds title, caption, override texts and media: mirror them into the form.
  useEffect(() => {
    if (!conn || !docReady) return;
    setForm((f) => mirrorDoc(f, conn.doc));
  }, [conn, docReady, live.tick]);

  const reloadComments = () => {
    if (!postId) return;
    listComments(postId)
      .then((items) => {
        setComments(items);
        setCommentsError(null);
      })
      .catch((e) => setCommentsError(toApiError(e).message));
  };
  useEffect(() => {
    setComments(null);
    setPending(null);
    setActiveComment(null);
    if (postId) reloadComments();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [postId]);

  useEffect(() => {
    if (isNew) return;
    let cancelled = false;
    listMembers(workspaceId)
      .then((r) => !cancelled && setMembers(r.members.map((m) => ({ id: m.user_id, name: m.name || m.email, email: m.email }))))
      .catch(() => !cancelled && setMembers([])); // e.g. clients may not list members: no picker
    return () => {
      cancelled = true;
    };
  }, [workspaceId, isNew]);

  const upsertComment = (c: Comment) => {
    if (role === 'client' && c.visibility !== 'client') return;
    setComments((list) => {
      const l = list ?? [];
      return l.some((x) => x.id === c.id) ? l.map((x) => (x.id === c.id ? c : x)) : [...l, c];
    });
  };
  const removeComment = (id: string) => {
    setComments((list) => list?.filter((x) => x.id !== id && x.parent_id !== id) ?? list);
    setActiveComment((a) => (a === id ? null : a));
  };

  // Someone else changed the post's settings: take them unless we have unsaved edits.
  const settingsRefresh = useRef<ReturnType<typeof setTimeout> | null>(null);
  const refreshSettings = () => {
    if (!postId) return;
    if (settingsRefresh.current) clearTimeout(settingsRefresh.current);
    settingsRefresh.current = setTimeout(() => {
      getPost(postId)
        .then((p) => {
          setPost(p);
          setForm((f) => {
            const cur = settingsKey(toInput(f, p.status));
            if (savedSettingsKeyRef.current !== null && cur !== savedSettingsKeyRef.current) {
              // Local unsaved edits: keep them, say so.
              if (settingsKey(toInput(fromPost(p), p.status)) !== savedSettingsKeyRef.current) setRemoteSettings(true);
              return f;
            }
            const next = { ...fromPost(p), title: f.title, caption: f.caption, media: f.media };
            for (const pl of Object.keys(next.content) as Platform[]) {
              next.content[pl] = { ...next.content[pl]!, text: f.content[pl]?.text ?? next.content[pl]!.text };
            }
            setSavedSettingsKey(settingsKey(toInput(next, p.status)));
            savedPlatformFields.current = platformFieldsKey(toInput(next, p.status));
            return next;
          });
        })
        .catch(() => {});
    }, 400);
  };
  const savedSettingsKeyRef = useRef(savedSettingsKey);
  savedSettingsKeyRef.current = savedSettingsKey;

  const eventsConnected = useEvents(
    !isNew && !!postId && !loadError,
    (ev) => {
      const data = ev.data ?? {};
      if (ev.type.startsWith('comment.')) {
        const c = data.comment as Comment | undefined;
        if (c && c.post_id !== postId) return;
        if (!c && (data.post_id !== postId || ev.type === 'comment.mentioned')) return;
        if (ev.type === 'comment.deleted') removeComment(String(c?.id ?? data.comment_id ?? data.id ?? ''));
        else if (c && c.id) upsertComment(c);
        else reloadComments();
        return;
      }
      if (data.post_id !== postId && (data.post as { id?: string } | undefined)?.id !== postId) return;
      // post.version_saved, post.version_restored, …
      if (ev.type.includes('version')) setHistoryKey((k) => k + 1);
      if (ev.type === 'post.updated' || ev.type === 'post.status_changed') {
        if (ev.actor_id !== me?.id || ev.type === 'post.status_changed') refreshSettings();
        setHistoryKey((k) => k + 1);
      }
    },
    () => {
      // Back after a gap: the server replays from the last event, but refetch to be sure.
      reloadComments();
      setHistoryKey((k) => k + 1);
    },
  );

  const status = post?.status ?? null;
  const input = toInput(form, status);
  const inputKey = JSON.stringify(input);
  const settingsDirty = savedSettingsKey !== null && settingsKey(input) !== savedSettingsKey;

  // Live validation, debounced ~300 ms (fed from the document's current text when live).
  useEffect(() => {
    if (loading) return;
    if (!isNew && !docReady) return;
    if (input.platforms.length === 0) {
      validateSeq.current++;
      setValidation({});
      setValidating(false);
      return;
    }
    const my = ++validateSeq.current;
    setValidating(true);
    const t = setTimeout(() => {
      validatePost(workspaceId, input)
        .then((res) => {
          if (my !== validateSeq.current) return;
          setValidation(res.validation ?? {});
          setValidatedKey(inputKey);
          if (res.rules) setRules((r) => ({ ...r, ...res.rules }));
          setValidationError(null);
        })
        .catch((e) => {
          if (my !== validateSeq.current) return;
          // The input itself was refused (e.g. a malformed media URL): platform checks are unknown.
          setValidationError(toApiError(e));
          setValidation(null);
          setValidatedKey(null);
        })
        .finally(() => {
          if (my === validateSeq.current) setValidating(false);
        });
    }, 300);
    return () => clearTimeout(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [inputKey, workspaceId, loading, docReady]);

  // Keep the active tab on a selected platform.
  useEffect(() => {
    if (form.platforms.length === 0) setActive(null);
    else if (!active || !form.platforms.includes(active)) setActive(form.platforms[0]!);
  }, [form.platforms, active]);

  const update = (patch: Partial<FormState>) => {
    setSavedAt(null);
    setForm((f) => ({ ...f, ...patch }));
  };

  const updateContent = (pl: Platform, patch: Partial<ContentForm>) => {
    setSavedAt(null);
    setForm((f) => ({
      ...f,
      content: { ...f.content, [pl]: { ...(f.content[pl] ?? emptyContentForm()), ...patch } },
    }));
  };

  /** Title: the document's meta.title when live, else the form. */
  const setTitleValue = (title: string) => {
    if (conn && docReady) {
      if (!readOnly) setTitle(conn.doc, title);
    } else update({ title });
  };

  /** Media list: the document's array when live, else the form. */
  const setMediaList = (media: MediaForm[]) => {
    if (conn && docReady) {
      if (!readOnly) setMedia(conn.doc, media.map((m) => ({ url: m.url, kind: m.kind, alt_text: m.alt_text || null })));
    } else update({ media });
  };

  const togglePlatform = (pl: Platform, on: boolean) => {
    const order = PLATFORMS.map((p) => p.id);
    const next = on
      ? [...form.platforms.filter((x) => x !== pl), pl].sort((a, b) => order.indexOf(a) - order.indexOf(b))
      : form.platforms.filter((x) => x !== pl);
    update({ platforms: next });
    if (on) setActive(pl);
  };

  const onSave = async (e: Event) => {
    e.preventDefault();
    setSaving(true);
    setSaveError(null);
    try {
      let body: Partial<PostInput> = input;
      if (conn) {
        body = restOnly(input);
        // The server writes platform_content's texts into the document as a diff from its
        // current text; send the map only when its own fields changed, so a save of tags or
        // schedule can never overwrite an override someone is typing right now.
        if (savedPlatformFields.current !== null && platformFieldsKey(input) === savedPlatformFields.current) delete body.platform_content;
      }
      const saved = isNew ? await createPost(workspaceId, input) : await updatePost(postId!, body);
      savedPlatformFields.current = platformFieldsKey(input);
      setPost(saved);
      setValidation(saved.validation ?? {});
      setValidatedKey(inputKey);
      setSavedAt(saved.updated_at);
      setSavedSettingsKey(settingsKey(input));
      setRemoteSettings(false);
      if (isNew) navigate(`/w/${workspaceId}/posts/${saved.id}`, { replace: true });
    } catch (err) {
      setSaveError(toApiError(err));
    } finally {
      setSaving(false);
    }
  };

  // ---- comments ↔ editors
  const anchors: EditorAnchor[] = [];
  for (const c of comments ?? []) {
    if (c.parent_id || !c.anchor || c.resolved_at) continue;
    anchors.push({ id: c.id, anchor: c.anchor, active: activeComment === c.id });
  }
  if (pending) anchors.push({ id: 'pending', anchor: pending, pending: true });

  const focusThread = (id: string) => {
    setSideTab('comments');
    setActiveComment(id);
    requestAnimationFrame(() =>
      document.querySelector(`[data-testid="comment-thread"][data-comment-id="${CSS.escape(id)}"]`)?.scrollIntoView({ block: 'nearest', behavior: 'smooth' }),
    );
  };
  const activateComment = (id: string | null) => {
    setActiveComment(id);
    const field = id ? comments?.find((c) => c.id === id)?.anchor?.field : null;
    const pl = field?.startsWith('content:') ? (field.slice(8) as Platform) : null;
    if (pl && form.platforms.includes(pl)) setActive(pl);
  };
  const startComment = (a: CommentAnchor) => {
    setPending(a);
    setSideTab('comments');
    setTimeout(() => composerRef.current?.focus(), 0);
  };

  const problemsFor = (pl: Platform): Problem[] => validation?.[pl] ?? [];
  const totalProblems = form.platforms.reduce((n, pl) => n + problemsFor(pl).length, 0);
  // Field errors: from the last save, else from live validation refusing the input.
  const err = saveError ?? (validationError?.status === 400 || validationError?.status === 422 ? validationError : null);
  const knownFieldKeys = new Set(['title', 'caption', 'platforms', 'media', 'tags', 'campaign', 'labels', 'scheduled_at', 'client_visible', 'status']);
  // Field errors not shown beside a visible control are listed under the banner.
  const shownBeside = (k: string) =>
    knownFieldKeys.has(k) ||
    (/^media\[(\d+)\]\.url$/.test(k) && Number(/\d+/.exec(k)![0]) < form.media.length) ||
    (active !== null && k.startsWith(`platform_content.${active}.`));
  const otherFieldErrors = Object.entries(err?.fields ?? {}).filter(([k]) => !shownBeside(k));

  if (loading) {
    return (
      <AppLayout workspaceId={workspaceId}>
        <Spinner />
      </AppLayout>
    );
  }
  if (loadError) {
    return (
      <AppLayout workspaceId={workspaceId}>
        <ErrorBanner error={loadError} />
        <Link href={`/w/${workspaceId}/posts`}>Back to posts</Link>
      </AppLayout>
    );
  }

  const liveEditors = !isNew && conn && docReady;
  const editorPending = !isNew && !liveEditors;
  const openComments = (comments ?? []).filter((c) => !c.parent_id && !c.resolved_at).length;

  const captionEditor = liveEditors ? (
    <CollabEditor
      conn={conn}
      field={CAPTION}
      readOnly={readOnly}
      placeholder="Write once; override per platform below."
      testid="post-caption"
      labelledBy="caption-label"
      describedBy="caption-count"
      invalid={!!err?.fields.caption}
      anchors={anchors}
      onComment={startComment}
      onAnchorClick={focusThread}
    />
  ) : editorPending ? (
    <div class="collab-editor collab-loading" data-testid="post-caption-loading">
      {live.state.status === 'closed' ? live.state.closedReason : 'Connecting to the live document…'}
    </div>
  ) : (
    <CaptionEditor
      id="f-caption"
      value={form.caption}
      onChange={(caption) => update({ caption })}
      placeholder="Write once; override per platform below."
      testid="post-caption"
      describedBy="caption-count"
      invalid={!!err?.fields.caption}
    />
  );

  const formEl = (
    <form onSubmit={onSave} noValidate class="post-form" data-testid="post-form">
      <ErrorBanner error={saveError} testid="post-error" />
      {otherFieldErrors.length > 0 && (
        <ul class="field-error-list" data-testid="post-field-errors">
          {otherFieldErrors.map(([k, v]) => (
            <li key={k}>
              <code>{k}</code>: {v}
            </li>
          ))}
        </ul>
      )}
      {savedAt && <Notice testid="post-saved">Saved.</Notice>}
      {readOnly && roleKnown && (
        <Notice testid="post-readonly">
          {live.state.denied
            ? `The server refused your changes (${live.state.denied}). You can read and comment.`
            : 'Read-only: you can read this post and comment on it, but not edit it.'}
        </Notice>
      )}
      {remoteSettings && (
        <div class="alert alert-info" role="status" data-testid="post-remote-settings">
          Someone else changed this post's settings while you were editing them. Saving keeps yours.
        </div>
      )}

      <section class="card">
        <div class="field">
          <label for="f-title">Title</label>
          <input
            id="f-title"
            value={form.title}
            onInput={(e) => setTitleValue(e.currentTarget.value)}
            placeholder="Internal name, e.g. “Summer launch teaser”"
            aria-invalid={err?.fields.title ? 'true' : undefined}
            readOnly={readOnly || editorPending}
            data-testid="post-title"
          />
          <FieldError error={err} name="title" />
        </div>

        <div class="field">
          <label for="f-caption" id="caption-label">
            Shared caption
          </label>
          {captionEditor}
          <p class="hint" id="caption-count" data-testid="caption-count">
            {countChars(form.caption)} characters
            {liveEditors && !readOnly && <span> · saved automatically as you type</span>}
          </p>
          <FieldError error={err} name="caption" />
        </div>

        <fieldset class="field" disabled={readOnly}>
          <legend>Platforms</legend>
          <div class="platform-checks" data-testid="platform-checks">
            {PLATFORMS.map((p) => (
              <label key={p.id} class={`check chip-${p.id}${form.platforms.includes(p.id) ? ' checked' : ''}`}>
                <input
                  type="checkbox"
                  checked={form.platforms.includes(p.id)}
                  onChange={(e) => togglePlatform(p.id, e.currentTarget.checked)}
                  data-testid={`platform-${p.id}`}
                />
                {p.label}
              </label>
            ))}
          </div>
          <FieldError error={err} name="platforms" />
        </fieldset>
      </section>

      {form.platforms.length > 0 && (
        <section class="card" aria-labelledby="versions-h">
          <div class="section-head">
            <h2 id="versions-h">Platform versions</h2>
            <span class="small muted" data-testid="validation-summary" aria-live="polite">
              {validating
                ? 'Checking…'
                : validationError
                  ? `Could not check: ${validationError.message}`
                  : totalProblems === 0
                    ? '✓ Ready for every platform'
                    : `${totalProblems} problem${totalProblems === 1 ? '' : 's'} to fix`}
            </span>
          </div>
          <div class="versions">
            <div class="version-tabs" data-testid="platform-tabs">
              {form.platforms.map((pl) => {
                const info = PLATFORM_BY_ID[pl];
                const problems = problemsFor(pl);
                // Live count: our own estimate while typing, the server's count once
                // validation has caught up with the current input.
                const text = effectiveText(form.caption, input.platform_content[pl]);
                const fresh = validatedKey === inputKey;
                const textProblem = problems.find((pr) => pr.field === 'text' && pr.limit != null && pr.actual != null);
                const n = fresh && textProblem ? textProblem.actual! : platformLength(pl, text);
                const limit =
                  (fresh && textProblem ? textProblem.limit : undefined) ??
                  (pl === 'telegram' && input.media.length > 0 ? 1024 : undefined) ??
                  rules[pl]?.max_length ??
                  info.limit;
                const over = n > limit;
                return (
                  <div key={pl} class={`version-tab${active === pl ? ' active' : ''}${problems.length ? ' has-problems' : ''}`} data-testid={`tab-item-${pl}`}>
                    <button
                      type="button"
                      class="version-tab-btn"
                      aria-pressed={active === pl}
                      aria-controls="version-panel"
                      aria-describedby={`problems-${pl}`}
                      onClick={() => setActive(pl)}
                      data-testid={`tab-${pl}`}
                    >
                      <span class="version-name">{info.label}</span>
                      <span class={`count${over ? ' over' : ''}`} data-testid={`count-${pl}`} title="Characters used / limit">
                        {n}/{limit}
                      </span>
                    </button>
                    <ul class="problems" id={`problems-${pl}`} data-testid={`problems-${pl}`} aria-live="polite">
                      {validation === null ? (
                        <li class="muted">{validating ? 'Checking…' : 'Not checked'}</li>
                      ) : problems.length === 0 ? (
                        <li class="ok">No problems</li>
                      ) : (
                        problems.map((pr, i) => (
                          <li key={i} class="problem" data-code={pr.code}>
                            {pr.message}
                            {pr.limit != null && pr.actual != null && !pr.message.includes(String(pr.actual)) && (
                              <span class="muted">
                                {' '}
                                ({pr.actual}/{pr.limit})
                              </span>
                            )}
                          </li>
                        ))
                      )}
                    </ul>
                  </div>
                );
              })}
            </div>

            {active && (
              <PlatformPanel
                key={active}
                platform={active}
                caption={form.caption}
                content={form.content[active] ?? emptyContentForm()}
                onChange={(patch) => updateContent(active, patch)}
                error={err}
                readOnly={readOnly}
                textEditor={
                  liveEditors ? (
                    <CollabEditor
                      conn={conn}
                      field={contentField(active)}
                      readOnly={readOnly}
                      placeholder={form.caption ? `Uses the shared caption: “${form.caption.slice(0, 80)}${form.caption.length > 80 ? '…' : ''}”` : 'Uses the shared caption'}
                      testid={`override-${active}`}
                      labelledBy={`pc-text-label-${active}`}
                      anchors={anchors}
                      onComment={startComment}
                      onAnchorClick={focusThread}
                    />
                  ) : editorPending ? (
                    <div class="collab-editor collab-loading">Connecting…</div>
                  ) : undefined
                }
              />
            )}
          </div>
        </section>
      )}

      <section class="card">
        <h2>Media</h2>
        <FieldError error={err} name="media" />
        {form.media.length === 0 && <p class="muted small">No media attached.</p>}
        <ul class="media-list" data-testid="media-list">
          {form.media.map((m, i) => (
            <li key={i} class="media-row" data-testid="media-row">
              <div class="field grow">
                <label for={`m-url-${i}`}>URL</label>
                <input
                  id={`m-url-${i}`}
                  type="url"
                  value={m.url}
                  placeholder="https://…"
                  readOnly={readOnly}
                  onInput={(e) => {
                    const media = form.media.slice();
                    media[i] = { ...m, url: e.currentTarget.value };
                    setMediaList(media);
                  }}
                  data-testid="media-url"
                />
                <FieldError error={err} name={`media[${i}].url`} />
              </div>
              <div class="field">
                <label for={`m-kind-${i}`}>Kind</label>
                <select
                  id={`m-kind-${i}`}
                  value={m.kind}
                  disabled={readOnly}
                  onChange={(e) => {
                    const media = form.media.slice();
                    media[i] = { ...m, kind: (e.currentTarget as HTMLSelectElement).value as MediaKind };
                    setMediaList(media);
                  }}
                  data-testid="media-kind"
                >
                  <option value="image">Image</option>
                  <option value="video">Video</option>
                  <option value="gif">GIF</option>
                </select>
              </div>
              <div class="field grow">
                <label for={`m-alt-${i}`}>Alt text</label>
                <input
                  id={`m-alt-${i}`}
                  value={m.alt_text}
                  readOnly={readOnly}
                  onInput={(e) => {
                    const media = form.media.slice();
                    media[i] = { ...m, alt_text: e.currentTarget.value };
                    setMediaList(media);
                  }}
                  data-testid="media-alt"
                />
              </div>
              {!readOnly && (
                <button
                  type="button"
                  class="btn btn-danger-ghost btn-sm"
                  aria-label={`Remove media ${i + 1}`}
                  onClick={() => setMediaList(form.media.filter((_, j) => j !== i))}
                  data-testid="media-remove"
                >
                  Remove
                </button>
              )}
            </li>
          ))}
        </ul>
        {!readOnly && (
          <button
            type="button"
            class="btn btn-sm"
            disabled={editorPending}
            onClick={() => setMediaList([...form.media, { url: '', kind: 'image', alt_text: '' }])}
            data-testid="media-add"
          >
            + Add media URL
          </button>
        )}
      </section>

      <fieldset class="card grid-fields" disabled={readOnly}>
        <h2 class="span-all">Organise &amp; schedule</h2>
        <div class="field">
          <label for="f-tags">Tags</label>
          <input id="f-tags" value={form.tags} onInput={(e) => update({ tags: e.currentTarget.value })} placeholder="launch, summer" data-testid="post-tags" />
          <p class="hint">Comma separated.</p>
          <FieldError error={err} name="tags" />
        </div>
        <div class="field">
          <label for="f-campaign">Campaign</label>
          <input id="f-campaign" value={form.campaign} onInput={(e) => update({ campaign: e.currentTarget.value })} data-testid="post-campaign" />
          <FieldError error={err} name="campaign" />
        </div>
        <div class="field">
          <label for="f-labels">Labels</label>
          <input id="f-labels" value={form.labels} onInput={(e) => update({ labels: e.currentTarget.value })} placeholder="evergreen, priority" data-testid="post-labels" />
          <p class="hint">Comma separated.</p>
          <FieldError error={err} name="labels" />
        </div>
        <div class="field">
          <label for="f-scheduled">Scheduled for</label>
          <input
            id="f-scheduled"
            type="datetime-local"
            value={form.scheduled_at}
            onInput={(e) => update({ scheduled_at: e.currentTarget.value })}
            data-testid="post-scheduled-at"
          />
          <p class="hint">Your local time. Leave empty for no schedule.</p>
          <FieldError error={err} name="scheduled_at" />
        </div>
        <label class="check-line">
          <input
            type="checkbox"
            checked={form.client_visible}
            onChange={(e) => update({ client_visible: e.currentTarget.checked })}
            data-testid="post-client-visible"
          />
          Visible to clients
        </label>
        {(status === 'draft' || status === 'archived') && (
          <label class="check-line">
            <input
              type="checkbox"
              checked={form.archived}
              onChange={(e) => update({ archived: e.currentTarget.checked })}
              data-testid="post-archived"
            />
            Archived
          </label>
        )}
      </fieldset>

      {!readOnly && (
        <div class="form-actions">
          <button type="submit" class="btn btn-primary" disabled={saving || editorPending} data-testid="post-save">
            {saving ? 'Saving…' : isNew ? 'Create post' : 'Save changes'}
          </button>
          <Link href={`/w/${workspaceId}/posts`} class="btn btn-ghost">
            Cancel
          </Link>
          {!isNew && (
            <span class="small muted settings-state" data-testid="settings-state">
              {settingsDirty ? 'Unsaved settings' : 'Text saves as you type'}
            </span>
          )}
        </div>
      )}
    </form>
  );

  return (
    <AppLayout workspaceId={workspaceId}>
      <div class="page-head">
        <div>
          <Link href={`/w/${workspaceId}/posts`} class="small" data-testid="back-to-posts">
            ← All posts
          </Link>
          <h1 data-testid="post-heading">{isNew ? 'New post' : form.title || 'Untitled post'}</h1>
          {post && (
            <p class="muted small">
              <span class={`status status-${post.status}`} data-testid="post-status">
                {humanize(post.status)}
              </span>{' '}
              Created {formatDateTime(post.created_at)} · Updated {formatDateTime(post.updated_at)}
            </p>
          )}
        </div>
        {!isNew && <PresenceBar users={live.presence} state={live.state} />}
      </div>

      {isNew ? (
        formEl
      ) : (
        <div class="composer">
          {formEl}
          <aside class="composer-side card" aria-label="Comments and history">
            <div class="side-tabs" role="tablist">
              <button type="button" role="tab" aria-selected={sideTab === 'comments'} class={sideTab === 'comments' ? 'active' : ''} onClick={() => setSideTab('comments')} data-testid="side-tab-comments">
                Comments{openComments ? ` (${openComments})` : ''}
              </button>
              {role !== 'client' && (
                <button type="button" role="tab" aria-selected={sideTab === 'history'} class={sideTab === 'history' ? 'active' : ''} onClick={() => setSideTab('history')} data-testid="side-tab-history">
                  History
                </button>
              )}
              <span class={`events-dot${eventsConnected ? ' on' : ''}`} title={eventsConnected ? 'Live updates on' : 'Live updates reconnecting'} data-testid="events-status" data-connected={eventsConnected ? 'true' : 'false'} />
            </div>
            {sideTab === 'comments' && me ? (
              <CommentsPanel
                postId={postId!}
                comments={comments}
                loadError={commentsError}
                people={members}
                me={me}
                role={role}
                conn={docReady ? conn : null}
                pending={pending}
                onClearPending={() => setPending(null)}
                activeId={activeComment}
                onActivate={activateComment}
                upsert={upsertComment}
                remove={removeComment}
                reload={reloadComments}
                composerRef={composerRef}
              />
            ) : (
              <HistoryPanel postId={postId!} canEdit={!readOnly} refreshKey={historyKey} onRestored={() => setHistoryKey((k) => k + 1)} />
            )}
          </aside>
        </div>
      )}
    </AppLayout>
  );
}

// ---------------------------------------------------------------- per-platform panel

interface PanelProps {
  platform: Platform;
  caption: string;
  content: ContentForm;
  onChange: (patch: Partial<ContentForm>) => void;
  error: ApiError | null;
  readOnly?: boolean;
  /** The live editor of this platform's override text (replaces the textarea). */
  textEditor?: JSX.Element;
}

function PlatformPanel({ platform, caption, content, onChange, error, readOnly = false, textEditor }: PanelProps) {
  const info = PLATFORM_BY_ID[platform];
  const [newKey, setNewKey] = useState('');
  const known = new Set(info.fields.map((f) => f.key));
  const extraKeys = Object.keys(content.fields).filter((k) => !known.has(k));
  const base = `platform_content.${platform}`;

  const setField = (k: string, v: string) => onChange({ fields: { ...content.fields, [k]: v } });

  return (
    <div class="version-panel" id="version-panel" data-testid={`panel-${platform}`}>
      <h3>{info.label} version</h3>
      <fieldset class="plain" disabled={readOnly}>
      <div class="field">
        <label for={`pc-text-${platform}`} id={`pc-text-label-${platform}`}>
          Text override
        </label>
        {textEditor ?? (
        <textarea
          id={`pc-text-${platform}`}
          rows={4}
          value={content.text}
          placeholder={caption ? `Uses the shared caption: “${caption.slice(0, 80)}${caption.length > 80 ? '…' : ''}”` : 'Uses the shared caption'}
          onInput={(e) => onChange({ text: e.currentTarget.value })}
          data-testid={`override-${platform}`}
        />
        )}
        <p class="hint">Leave empty to publish the shared caption.</p>
        <FieldError error={error} name={`${base}.text`} />
      </div>
      <div class="field-row">
        <div class="field">
          <label for={`pc-hashtags-${platform}`}>Hashtags</label>
          <input
            id={`pc-hashtags-${platform}`}
            value={content.hashtags}
            placeholder="#launch #summer"
            onInput={(e) => onChange({ hashtags: e.currentTarget.value })}
            data-testid={`hashtags-${platform}`}
          />
          <FieldError error={error} name={`${base}.hashtags`} />
        </div>
        <div class="field">
          <label for={`pc-mentions-${platform}`}>Mentions</label>
          <input
            id={`pc-mentions-${platform}`}
            value={content.mentions}
            placeholder="@partner"
            onInput={(e) => onChange({ mentions: e.currentTarget.value })}
            data-testid={`mentions-${platform}`}
          />
          <FieldError error={error} name={`${base}.mentions`} />
        </div>
      </div>

      {info.fields.map((f) => (
        <div class="field" key={f.key}>
          <label for={`pc-field-${platform}-${f.key}`}>{f.label}</label>
          {f.options ? (
            <select
              id={`pc-field-${platform}-${f.key}`}
              value={content.fields[f.key] ?? ''}
              onChange={(e) => setField(f.key, (e.currentTarget as HTMLSelectElement).value)}
              data-testid={`field-${platform}-${f.key}`}
            >
              <option value="">—</option>
              {f.options.map((o) => (
                <option key={o} value={o}>
                  {humanize(o.toLowerCase())}
                </option>
              ))}
            </select>
          ) : (
            <input
              id={`pc-field-${platform}-${f.key}`}
              value={content.fields[f.key] ?? ''}
              placeholder={f.placeholder}
              onInput={(e) => setField(f.key, e.currentTarget.value)}
              data-testid={`field-${platform}-${f.key}`}
            />
          )}
          <FieldError error={error} name={`${base}.fields.${f.key}`} />
        </div>
      ))}

      {extraKeys.map((k) => (
        <div class="field" key={k}>
          <label for={`pc-field-${platform}-${k}`}>
            Custom field <code>{k}</code>
          </label>
          <div class="inline">
            <input
              id={`pc-field-${platform}-${k}`}
              value={content.fields[k] ?? ''}
              onInput={(e) => setField(k, e.currentTarget.value)}
              data-testid={`field-${platform}-${k}`}
            />
            <button
              type="button"
              class="btn btn-ghost btn-sm"
              aria-label={`Remove field ${k}`}
              onClick={() => {
                const fields = { ...content.fields };
                delete fields[k];
                onChange({ fields });
              }}
            >
              Remove
            </button>
          </div>
          <FieldError error={error} name={`${base}.fields.${k}`} />
        </div>
      ))}

      <div class="field">
        <label for={`pc-newkey-${platform}`}>Add a custom field</label>
        <div class="inline">
          <input
            id={`pc-newkey-${platform}`}
            value={newKey}
            placeholder="field name"
            onInput={(e) => setNewKey(e.currentTarget.value)}
            data-testid={`new-field-${platform}`}
          />
          <button
            type="button"
            class="btn btn-sm"
            disabled={!newKey.trim() || newKey.trim() in content.fields}
            onClick={() => {
              setField(newKey.trim(), '');
              setNewKey('');
            }}
          >
            Add
          </button>
        </div>
      </div>
      </fieldset>
    </div>
  );
}
