// The post editor. A new post is a plain form until its first save; an existing post opens
// as a live document (title, caption, override texts and media co-written over the collab
// socket) with comments and history beside it. The parts live in ./post-edit/:
//   form.ts              the form model and its relation to the API and the document
//   usePostForm          loading the post, saved settings, taking others' settings changes
//   useValidation        debounced live platform checks
//   usePostComments      comments, mention candidates, pending selection, focused thread
//   usePostEvents        the event stream applied to this page
//   ContentSection, PlatformVersions (+ PlatformPanel), MediaSection, SettingsSection,
//   SidePanel            the cards of the page
import { useEffect, useRef, useState } from 'preact/hooks';
import { createPost, toApiError, updatePost, type ApiError, type CommentAnchor, type Platform, type Media, type PostInput, type Validation } from '../api';
import { AppLayout } from '../components/AppLayout';
import { CaptionEditor } from '../components/CaptionEditor';
import { PresenceBar } from '../components/PresenceBar';
import { CollabEditor, type EditorAnchor } from '../collab/CollabEditor';
import { ACCESS_LOST_TEXT } from '../collab/connection';
import { CAPTION, contentField, mediaArray, setMedia, setTitle } from '../collab/doc';
import { useLivePost } from '../collab/useLive';
import { can } from '../permissions';
import { reloadWorkspaces, useUser, useWorkspaces } from '../session';
import { ErrorBanner, Notice, Spinner, formatDateTime, humanize } from '../components/ui';
import { PLATFORMS } from '../platforms';
import { Link, navigate } from '../router';
import { ContentSection } from './post-edit/ContentSection';
import { emptyContentForm, mirrorDoc, platformFieldsKey, restOnly, settingsKey, toInput, type ContentForm, type FormState, type MediaForm } from './post-edit/form';
import { MediaSection, type LiveMediaOps } from './post-edit/MediaSection';
import { PlatformVersions } from './post-edit/PlatformVersions';
import { SettingsSection } from './post-edit/SettingsSection';
import { SidePanel, type SideTab } from './post-edit/SidePanel';
import { usePostComments } from './post-edit/usePostComments';
import { usePostEvents } from './post-edit/usePostEvents';
import { usePostForm } from './post-edit/usePostForm';
import { useValidation } from './post-edit/useValidation';

interface Props {
  workspaceId: string;
  postId?: string;
}

export default function PostEditPage({ workspaceId, postId }: Props) {
  const isNew = !postId;
  const me = useUser();
  const { items: workspaces } = useWorkspaces();
  const workspace = workspaces?.find((w) => w.id === workspaceId);
  const role = workspace?.role;

  // The loaded post's validation goes to the live-validation state (created further down).
  const loaded = useRef<(validation: Validation, key: string) => void>(() => {});
  const pf = usePostForm(postId, { onLoaded: (v, key) => loaded.current(v, key) });
  const { post, setPost, form: formState, setForm, loading, loadError, savedSettingsKey, setSavedSettingsKey, remoteSettings, setRemoteSettings, savedPlatformFields } = pf;

  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<ApiError | null>(null);
  const [savedAt, setSavedAt] = useState<string | null>(null);
  const [active, setActive] = useState<Platform | null>(null);

  // ---- live document (existing posts)
  const live = useLivePost(isNew || loading || loadError ? null : postId!, me);
  const conn = live.conn;
  const docReady = !!conn && live.state.loaded;
  const roleKnown = workspaces !== null;
  const liveClosed = live.state.status === 'closed';
  const readOnly = !isNew && (!roleKnown || !can(role, 'post_edit') || !!live.state.denied || liveClosed);

  // Refused edits (e.g. demoted to a read-only role while here) or access lost: the
  // workspace list (and our role in it) has changed.
  useEffect(() => {
    if (live.state.denied || live.state.accessLost) void reloadWorkspaces();
  }, [live.state.denied, live.state.accessLost]);

  // ---- comments, history, events
  const c = usePostComments(workspaceId, postId, role);
  const [sideTab, setSideTab] = useState<SideTab>('comments');
  const [historyKey, setHistoryKey] = useState(0);
  const bumpHistory = () => setHistoryKey((k) => k + 1);
  const composerRef = useRef<HTMLTextAreaElement | null>(null);

  // The document holds title, caption, override texts and media: read them from it at every
  // render (not copied into state afterwards), so an input bound to the document never
  // renders a value older than what was just typed into it. `live.tick` re-renders on
  // every document change.
  const form = conn && docReady ? mirrorDoc(formState, conn.doc) : formState;

  const eventsConnected = usePostEvents({
    enabled: !isNew && !!postId && !loadError && !live.state.accessLost,
    postId,
    me,
    comments: c,
    refreshSettings: pf.refreshSettings,
    bumpHistory,
  });

  const status = post?.status ?? null;
  const input = toInput(form, status);
  const inputKey = JSON.stringify(input);
  const settingsDirty = savedSettingsKey !== null && settingsKey(input) !== savedSettingsKey;

  // Live validation, debounced ~300 ms (fed from the document's current text when live).
  const v = useValidation(workspaceId, input, inputKey, !loading && (isNew || docReady), [loading, docReady]);
  loaded.current = (validation, key) => {
    v.setValidation(validation);
    v.setValidatedKey(key);
  };

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

  /** Media list of a new post (the form's). */
  const setMediaList = (media: MediaForm[]) => update({ media });

  /** Media list of a live post: edits of the document's array as it is now. */
  const liveMedia: LiveMediaOps | null =
    conn && docReady
      ? (() => {
          const current = (): Media[] => mediaArray(conn.doc).toArray().map((m) => ({ url: m.url, kind: m.kind, alt_text: m.alt_text ?? null }));
          const out = (m: MediaForm): Media => ({ url: m.url, kind: m.kind, alt_text: m.alt_text || null });
          return {
            append: (m) => {
              const list = current();
              if (!readOnly) setMedia(conn.doc, [...list, out(m)]);
              return list.length;
            },
            patch: (i, patch) => {
              const list = current();
              const cur = list[i];
              if (!cur || readOnly) return;
              list[i] = {
                ...cur,
                ...(patch.url !== undefined ? { url: patch.url } : {}),
                ...(patch.kind !== undefined ? { kind: patch.kind } : {}),
                ...(patch.alt_text !== undefined ? { alt_text: patch.alt_text || null } : {}),
              };
              setMedia(conn.doc, list);
            },
            remove: (i) => {
              const list = current();
              if (i < list.length && !readOnly) setMedia(conn.doc, list.filter((_, j) => j !== i));
            },
          };
        })()
      : null;

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
      v.setValidation(saved.validation ?? {});
      v.setValidatedKey(inputKey);
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
  for (const cm of c.comments ?? []) {
    if (cm.parent_id || !cm.anchor || cm.resolved_at) continue;
    anchors.push({ id: cm.id, anchor: cm.anchor, active: c.activeComment === cm.id });
  }
  if (c.pending) anchors.push({ id: 'pending', anchor: c.pending, pending: true });

  const focusThread = (id: string) => {
    setSideTab('comments');
    c.setActiveComment(id);
    requestAnimationFrame(() =>
      document.querySelector(`[data-testid="comment-thread"][data-comment-id="${CSS.escape(id)}"]`)?.scrollIntoView({ block: 'nearest', behavior: 'smooth' }),
    );
  };
  const activateComment = (id: string | null) => {
    c.setActiveComment(id);
    const field = id ? c.comments?.find((x) => x.id === id)?.anchor?.field : null;
    const pl = field?.startsWith('content:') ? (field.slice(8) as Platform) : null;
    if (pl && form.platforms.includes(pl)) setActive(pl);
  };
  const startComment = (a: CommentAnchor) => {
    c.setPending(a);
    setSideTab('comments');
    setTimeout(() => composerRef.current?.focus(), 0);
  };

  // Field errors: from the last save, else from live validation refusing the input.
  const validationError = v.validationError;
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

  if (live.state.accessLost) {
    return (
      <AppLayout workspaceId={workspaceId}>
        <section class="card access-lost" role="alert" data-testid="post-access-lost">
          <h1>{ACCESS_LOST_TEXT}</h1>
          <p>
            You were removed from this workspace, or the post was deleted or is no longer shared with you.
            Changes you had not yet sent could not be saved.
          </p>
          <p class="inline">
            <Link href={`/w/${workspaceId}/posts`} class="btn" data-testid="access-lost-posts">
              Back to posts
            </Link>
            <Link href="/workspaces" class="btn btn-ghost">
              Your workspaces
            </Link>
          </p>
        </section>
      </AppLayout>
    );
  }

  const liveEditors = !isNew && !!conn && docReady;
  const editorPending = !isNew && !liveEditors;
  const openComments = (c.comments ?? []).filter((x) => !x.parent_id && !x.resolved_at).length;

  const captionEditor = liveEditors ? (
    <CollabEditor
      conn={conn!}
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

  const overrideEditor = (pl: Platform) =>
    liveEditors ? (
      <CollabEditor
        conn={conn!}
        field={contentField(pl)}
        readOnly={readOnly}
        placeholder={form.caption ? `Uses the shared caption: “${form.caption.slice(0, 80)}${form.caption.length > 80 ? '…' : ''}”` : 'Uses the shared caption'}
        testid={`override-${pl}`}
        labelledBy={`pc-text-label-${pl}`}
        anchors={anchors}
        onComment={startComment}
        onAnchorClick={focusThread}
      />
    ) : editorPending ? (
      <div class="collab-editor collab-loading">Connecting…</div>
    ) : undefined;

  const formEl = (
    <form onSubmit={onSave} noValidate class="post-form" data-testid="post-form">
      <ErrorBanner error={saveError} testid="post-error" />
      {otherFieldErrors.length > 0 && (
        <ul class="field-error-list" data-testid="post-field-errors">
          {otherFieldErrors.map(([k, msg]) => (
            <li key={k}>
              <code>{k}</code>: {msg}
            </li>
          ))}
        </ul>
      )}
      {savedAt && <Notice testid="post-saved">Saved.</Notice>}
      {liveClosed && live.state.closedReason && (
        <div class="alert alert-error" role="alert" data-testid="post-closed">
          The live document is closed: {live.state.closedReason}
        </div>
      )}
      {readOnly && roleKnown && !liveClosed && (
        <Notice testid="post-readonly">
          {live.state.denied
            ? `You can no longer edit this post (the server said: ${live.state.denied}). You can still read it and comment.`
            : 'Read-only: you can read this post and comment on it, but not edit it.'}
        </Notice>
      )}
      {remoteSettings && (
        <div class="alert alert-info" role="status" data-testid="post-remote-settings">
          Someone else changed this post's settings while you were editing them. Saving keeps yours.
        </div>
      )}

      <ContentSection
        form={form}
        err={err}
        readOnly={readOnly}
        editorPending={editorPending}
        liveEditors={liveEditors}
        captionEditor={captionEditor}
        setTitleValue={setTitleValue}
        togglePlatform={togglePlatform}
      />

      {form.platforms.length > 0 && (
        <PlatformVersions
          form={form}
          input={input}
          inputKey={inputKey}
          validation={v.validation}
          validatedKey={v.validatedKey}
          validating={v.validating}
          validationError={validationError}
          rules={v.rules}
          active={active}
          setActive={setActive}
          updateContent={updateContent}
          err={err}
          readOnly={readOnly}
          textEditor={overrideEditor}
        />
      )}

      <MediaSection form={form} err={err} readOnly={readOnly} editorPending={editorPending} setMediaList={setMediaList} live={liveMedia} />

      <SettingsSection form={form} update={update} err={err} readOnly={readOnly} status={status} approvalMode={workspace?.approval_mode} />

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
              <span class="approval-jump">
                {' · '}
                <a href="#approval-h" data-testid="approval-jump">
                  Approval
                </a>
              </span>
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
          <SidePanel
            workspaceId={workspaceId}
            post={post}
            approvalMode={workspace?.approval_mode}
            onPostChanged={pf.refreshSettings}
            postId={postId!}
            me={me}
            role={role}
            sideTab={sideTab}
            setSideTab={setSideTab}
            openComments={openComments}
            eventsConnected={eventsConnected}
            c={c}
            conn={docReady ? conn : null}
            activateComment={activateComment}
            composerRef={composerRef}
            readOnly={readOnly}
            historyKey={historyKey}
            bumpHistory={bumpHistory}
          />
        </div>
      )}
    </AppLayout>
  );
}
