// The client review page `/review/:token`: no account. Mobile first. Asks the visitor's name
// (remembered in localStorage), shows each shared post as it will look on each platform
// (text with the platform's count and limit, media, a link preview), its comments, and —
// when the link allows — approve / request changes / reject with a comment. An invalid,
// expired or revoked link answers 404: say so plainly.
import { useEffect, useState } from 'preact/hooks';
import {
  getReview,
  reviewComment,
  reviewDecide,
  toApiError,
  type ApiError,
  type ApprovalAction,
  type Platform,
  type ReviewComment,
  type ReviewData,
  type ReviewPost,
  type ReviewPreview,
} from '../api';
import { APPROVAL_STATUS_TEXT, ApprovalSteps } from '../components/ApprovalProgress';
import { ErrorBanner, Notice, Spinner, formatDateTime, humanize, timeAgo } from '../components/ui';
import { PLATFORM_BY_ID, effectiveText, platformLabel, platformLength } from '../platforms';

const NAME_KEY = 'copydesk.review_name';

function storedName(): string {
  try {
    return localStorage.getItem(NAME_KEY) ?? '';
  } catch {
    return '';
  }
}

function storeName(name: string): void {
  try {
    localStorage.setItem(NAME_KEY, name);
  } catch {
    /* private mode: remembered until reload */
  }
}

const URL_RE = /https?:\/\/[^\s<>"]+/i;

function commentAuthor(c: ReviewComment): string {
  if (typeof c.author === 'string') return c.author || 'Someone';
  return c.author?.name || c.author_name || c.name || 'Someone';
}

/** The previews the server made, else the same computed here from the post. */
function previewsOf(p: ReviewPost): ReviewPreview[] {
  if (p.previews?.length) return p.previews;
  return p.platforms.map((pl) => {
    const text = effectiveText(p.caption, p.platform_content?.[pl]);
    return { platform: pl, text, char_count: platformLength(pl, text), limit: PLATFORM_BY_ID[pl]?.limit ?? 0 };
  });
}

function LinkPreview({ text }: { text: string }) {
  const m = URL_RE.exec(text);
  if (!m) return null;
  let host = '';
  try {
    host = new URL(m[0].replace(/[).,;!?]+$/, '')).hostname;
  } catch {
    return null;
  }
  return (
    <div class="link-preview" data-testid="review-link-preview">
      <span class="small muted">Link</span>
      <strong>{host}</strong>
      <span class="small muted link-preview-url">{m[0]}</span>
    </div>
  );
}

function PlatformPreview({ post, preview }: { post: ReviewPost; preview: ReviewPreview }) {
  const over = preview.limit > 0 && preview.char_count > preview.limit;
  return (
    <article class={`platform-preview pv-${preview.platform}`} data-testid="review-preview" data-platform={preview.platform} aria-label={`${platformLabel(preview.platform)} preview`}>
      <header class="pv-head">
        <strong>{preview.name || platformLabel(preview.platform)}</strong>
        <span class={`small${over ? ' over' : ' muted'}`} data-testid="review-count">
          {preview.char_count}/{preview.limit || '∞'}
          {over ? ' — too long' : ''}
        </span>
      </header>
      <p class="pv-text">{preview.text}</p>
      {post.media.length > 0 && (
        <div class="pv-media">
          {post.media.map((m, i) =>
            m.kind === 'video' ? (
              <a key={i} href={m.url} class="pv-video" target="_blank" rel="noopener noreferrer">
                ▶ Video{m.alt_text ? `: ${m.alt_text}` : ''}
              </a>
            ) : (
              <img key={i} src={m.url} alt={m.alt_text ?? ''} loading="lazy" referrerpolicy="no-referrer" />
            ),
          )}
        </div>
      )}
      <LinkPreview text={preview.text} />
    </article>
  );
}

function ReviewPostCard({ token, post, perms, name, onChanged }: { token: string; post: ReviewPost; perms: string[]; name: string; onChanged: () => void }) {
  const previews = previewsOf(post);
  const [tab, setTab] = useState<Platform | null>(previews[0]?.platform ?? null);
  const [comment, setComment] = useState('');
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const current = previews.find((p) => p.platform === tab) ?? previews[0];
  const a = post.approval;
  const canDecide = perms.includes('approve') && a?.status === 'pending';
  const id = (k: string) => `rv-${post.id}-${k}`;

  const decide = async (action: Exclude<ApprovalAction, 'withdraw'>, text: string) => {
    setBusy(action);
    setError(null);
    try {
      await reviewDecide(token, post.id, action, name, note.trim() || undefined);
      setNote('');
      setDone(text);
      onChanged();
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setBusy(null);
    }
  };

  const send = async (e: Event) => {
    e.preventDefault();
    if (!comment.trim()) return;
    setBusy('comment');
    setError(null);
    try {
      await reviewComment(token, post.id, name, comment.trim());
      setComment('');
      onChanged();
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(null);
    }
  };

  return (
    <section class="card review-post" aria-labelledby={id('h')} data-testid="review-post" data-post-id={post.id} data-title={post.title}>
      <div class="section-head">
        <h2 id={id('h')}>{post.title || 'Untitled post'}</h2>
        <span class={`status status-${post.status}`} data-testid="review-post-status">
          {humanize(post.status)}
        </span>
      </div>
      {previews.length > 1 && (
        <div class="pv-tabs" role="tablist" aria-label="Platforms">
          {previews.map((p) => (
            <button
              key={p.platform}
              type="button"
              role="tab"
              id={id(`tab-${p.platform}`)}
              aria-selected={current?.platform === p.platform}
              aria-controls={id('panel')}
              class={current?.platform === p.platform ? 'active' : ''}
              onClick={() => setTab(p.platform)}
              data-testid={`review-tab-${p.platform}`}
            >
              {platformLabel(p.platform)}
            </button>
          ))}
        </div>
      )}
      <div id={id('panel')} role={previews.length > 1 ? 'tabpanel' : undefined} aria-labelledby={previews.length > 1 && current ? id(`tab-${current.platform}`) : undefined}>
        {current ? <PlatformPreview post={post} preview={current} /> : <p class="pv-text">{post.caption}</p>}
      </div>

      {a && (
        <div class="review-approval" data-testid="review-approval" data-status={a.status}>
          <p>
            <strong>Approval:</strong> <span data-testid="review-approval-status">{APPROVAL_STATUS_TEXT[a.status] ?? humanize(a.status)}</span>
          </p>
          <details>
            <summary class="small">Steps</summary>
            <ApprovalSteps approval={a} />
          </details>
        </div>
      )}

      <ErrorBanner error={error} testid="review-error" />
      {done && <Notice testid="review-done">{done}</Notice>}

      {perms.includes('approve') && !canDecide && !done && (
        <p class="small muted" data-testid="review-not-pending">
          {a ? 'This post is not waiting for a decision right now.' : 'This post has not been submitted for approval yet.'}
        </p>
      )}
      {canDecide && (
        <div class="stack review-decide" data-testid="review-decide">
          {!name && <p class="small muted">Enter your name above to decide.</p>}
          <div class="field">
            <label for={id('note')}>Your feedback (optional)</label>
            <textarea id={id('note')} rows={2} value={note} onInput={(e) => setNote(e.currentTarget.value)} data-testid="review-note" />
          </div>
          <div class="review-buttons">
            <button type="button" class="btn btn-primary" disabled={!name || busy !== null} onClick={() => void decide('approve', 'Thanks: you approved this post.')} data-testid="review-approve">
              {busy === 'approve' ? 'Approving…' : 'Approve'}
            </button>
            <button type="button" class="btn" disabled={!name || busy !== null} onClick={() => void decide('request-changes', 'Thanks: the team will make changes.')} data-testid="review-request-changes">
              Request changes
            </button>
            <button type="button" class="btn btn-danger-ghost" disabled={!name || busy !== null} onClick={() => void decide('reject', 'You rejected this post.')} data-testid="review-reject">
              Reject
            </button>
          </div>
        </div>
      )}

      <div class="review-comments">
        <h3 class="h-small">Comments</h3>
        {post.comments.length === 0 ? (
          <p class="muted small">No comments yet.</p>
        ) : (
          <ul class="list">
            {post.comments.map((c) => (
              <li key={c.id} class="review-comment" data-testid="review-comment">
                <strong>{commentAuthor(c)}</strong> <span class="muted small">{timeAgo(c.created_at)}</span>
                <p>{c.body}</p>
              </li>
            ))}
          </ul>
        )}
        {perms.includes('comment') && (
          <form class="stack" onSubmit={send}>
            <div class="field">
              <label for={id('comment')}>Add a comment</label>
              <textarea id={id('comment')} rows={2} value={comment} onInput={(e) => setComment(e.currentTarget.value)} data-testid="review-comment-body" />
            </div>
            <div>
              <button type="submit" class="btn btn-sm" disabled={!name || !comment.trim() || busy !== null} data-testid="review-comment-submit">
                {busy === 'comment' ? 'Sending…' : 'Send comment'}
              </button>
            </div>
          </form>
        )}
      </div>
    </section>
  );
}

export default function ReviewPage({ token }: { token: string }) {
  const [data, setData] = useState<ReviewData | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [name, setName] = useState(storedName);
  const [draft, setDraft] = useState(name);
  const [editingName, setEditingName] = useState(!name);

  const load = () =>
    getReview(token).then(
      (d) => {
        setData(d);
        setError(null);
      },
      (e) => setError(toApiError(e)),
    );

  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [token]);

  const saveName = (e: Event) => {
    e.preventDefault();
    const n = draft.trim();
    if (!n) return;
    storeName(n);
    setName(n);
    setEditingName(false);
  };

  const gone = error && (error.status === 404 || error.status === 410);
  const perms = data?.link.permissions ?? [];
  const acts = perms.includes('approve') || perms.includes('comment');

  return (
    <div class="review-page">
      <header class="review-top">
        <span class="brand">
          <span class="brand-mark" aria-hidden="true">
            C
          </span>
          <span class="brand-name">{data?.link.workspace_name ?? 'Copydesk'}</span>
        </span>
        {data && !editingName && name && (
          <span class="small">
            Reviewing as <strong data-testid="review-name">{name}</strong>{' '}
            <button type="button" class="btn btn-ghost btn-sm" onClick={() => setEditingName(true)} data-testid="review-change-name">
              Change
            </button>
          </span>
        )}
      </header>
      <main class="review-main" id="main">
        {gone ? (
          <section class="card" role="alert" data-testid="review-invalid">
            <h1>This review link does not work</h1>
            <p>It may have expired or been revoked, or it was copied incompletely. Ask the person who sent it for a new link.</p>
          </section>
        ) : error ? (
          <>
            <ErrorBanner error={error} testid="review-load-error" />
            <button type="button" class="btn" onClick={() => void load()}>
              Try again
            </button>
          </>
        ) : !data ? (
          <Spinner />
        ) : (
          <>
            <h1 class="review-title">{data.link.label || (data.posts.length === 1 ? 'Post for your review' : `${data.posts.length} posts for your review`)}</h1>
            {data.link.expires_at && <p class="small muted">This link works until {formatDateTime(data.link.expires_at)}.</p>}
            {acts && editingName && (
              <form class="card stack" onSubmit={saveName} data-testid="review-name-form">
                <div class="field">
                  <label for="review-name">Your name</label>
                  <input id="review-name" autoComplete="name" required value={draft} onInput={(e) => setDraft(e.currentTarget.value)} data-testid="review-name-input" />
                  <p class="hint">Shown to the team with your comments and decisions.</p>
                </div>
                <div>
                  <button type="submit" class="btn btn-primary" disabled={!draft.trim()} data-testid="review-name-save">
                    Continue
                  </button>
                </div>
              </form>
            )}
            {data.posts.length === 0 && <p class="muted">Nothing is shared through this link any more.</p>}
            {data.posts.map((p) => (
              <ReviewPostCard key={p.id} token={token} post={p} perms={perms} name={editingName ? '' : name} onChanged={() => void load()} />
            ))}
          </>
        )}
      </main>
    </div>
  );
}
