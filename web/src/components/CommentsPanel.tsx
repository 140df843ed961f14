// The comments sidebar of the live composer: threads (optionally anchored to a range of the
// text), replies, resolve/reopen, reactions, @mentions and internal/client visibility.
import { useRef, useState } from 'preact/hooks';
import {
  createComment,
  deleteComment,
  editComment,
  setCommentResolved,
  setReaction,
  toApiError,
  type Comment,
  type CommentAnchor,
  type CommentVisibility,
  type Role,
  type User,
} from '../api';
import { resolveAnchor } from '../collab/anchors';
import { initials, userColor } from '../collab/colors';
import type { CollabConnection } from '../collab/connection';
import { platformLabel } from '../platforms';
import { MentionInput, mentionedIds, type Mentionable } from './MentionInput';
import { formatDateTime, timeAgo } from './ui';

export const REACTIONS = ['👍', '❤️', '🎉', '👀', '✅'];

export function fieldLabel(field: string): string {
  if (field === 'caption') return 'Caption';
  if (field === 'title') return 'Title';
  const m = /^(?:content:|platform_content\.)([a-z_]+)/.exec(field);
  return m ? `${platformLabel(m[1]!)} text` : field;
}

interface Props {
  comments: Comment[] | null;
  loadError: string | null;
  people: Mentionable[];
  me: User;
  role: Role | undefined;
  conn: CollabConnection | null;
  pending: CommentAnchor | null;
  onClearPending: () => void;
  activeId: string | null;
  onActivate: (id: string | null) => void;
  postId: string;
  upsert: (c: Comment) => void;
  remove: (id: string) => void;
  reload: () => void;
  composerRef: { current: HTMLTextAreaElement | null };
}

export function CommentsPanel(props: Props) {
  const { comments, role } = props;
  const isClient = role === 'client';
  const [show, setShow] = useState<'open' | 'resolved'>('open');
  const [body, setBody] = useState('');
  const [picked, setPicked] = useState<Mentionable[]>([]);
  const [visibility, setVisibility] = useState<CommentVisibility>('internal');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const all = comments ?? [];
  const byId = new Map(all.map((c) => [c.id, c]));
  const threads = all.filter((c) => !c.parent_id || !byId.has(c.parent_id));
  const replies = (id: string) => all.filter((c) => c.parent_id === id).sort((a, b) => a.created_at.localeCompare(b.created_at));
  const open = threads.filter((t) => !t.resolved_at);
  const resolved = threads.filter((t) => !!t.resolved_at);
  const shown = (show === 'open' ? open : resolved).slice().sort((a, b) => a.created_at.localeCompare(b.created_at));

  const run = async (fn: () => Promise<void>) => {
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(toApiError(e).message);
    }
  };

  const submit = async () => {
    const text = body.trim();
    if (!text || busy) return;
    setBusy(true);
    await run(async () => {
      const c = await createComment(props.postId, {
        body: text,
        visibility: isClient ? 'client' : visibility,
        mentions: mentionedIds(text, picked),
        ...(props.pending ? { anchor: props.pending } : {}),
      });
      props.upsert(c);
      props.onActivate(c.id);
      setBody('');
      setPicked([]);
      props.onClearPending();
      setShow('open');
    });
    setBusy(false);
  };

  const ctx: ThreadCtx = { ...props, run, replies };

  return (
    <section class="comments-panel" aria-label="Comments" data-testid="comments-panel">
      <div class="comment-composer card-inset" data-testid="comment-composer">
        {props.pending && (
          <div class="pending-anchor" data-testid="comment-pending-anchor">
            <span class="muted small">On {fieldLabel(props.pending.field)}:</span> <q>{props.pending.quote}</q>
            <button type="button" class="btn btn-ghost btn-sm" aria-label="Comment on the whole post instead" onClick={props.onClearPending}>
              ×
            </button>
          </div>
        )}
        <MentionInput
          inputRef={props.composerRef}
          value={body}
          onInput={setBody}
          onMention={(u) => setPicked((p) => [...p.filter((x) => x.id !== u.id), u])}
          people={props.people}
          placeholder={props.pending ? 'Comment on the selected text… (@ to mention)' : 'Add a comment… (@ to mention)'}
          ariaLabel="New comment"
          testid="comment-body"
          onSubmit={() => void submit()}
        />
        <div class="composer-actions">
          {!isClient ? (
            <div class="segmented" role="group" aria-label="Who can see it">
              <button type="button" aria-pressed={visibility === 'internal'} onClick={() => setVisibility('internal')} data-testid="comment-visibility-internal" title="Only the team sees it">
                Internal
              </button>
              <button type="button" aria-pressed={visibility === 'client'} onClick={() => setVisibility('client')} data-testid="comment-visibility-client" title="The client sees it too">
                Client
              </button>
            </div>
          ) : (
            <span class="muted small">Visible to the team</span>
          )}
          <button type="button" class="btn btn-primary btn-sm" disabled={busy || !body.trim()} onClick={() => void submit()} data-testid="comment-submit">
            {busy ? 'Posting…' : 'Comment'}
          </button>
        </div>
      </div>
      {error && (
        <div class="alert alert-error small" role="alert" data-testid="comment-error">
          {error}
        </div>
      )}
      {props.loadError && (
        <div class="alert alert-error small" role="alert">
          Could not load comments: {props.loadError}{' '}
          <button type="button" class="btn btn-sm" onClick={props.reload}>
            Retry
          </button>
        </div>
      )}

      <div class="segmented segmented-tabs" role="tablist" aria-label="Show">
        <button type="button" role="tab" aria-selected={show === 'open'} aria-pressed={show === 'open'} onClick={() => setShow('open')} data-testid="comments-show-open">
          Open ({open.length})
        </button>
        <button type="button" role="tab" aria-selected={show === 'resolved'} aria-pressed={show === 'resolved'} onClick={() => setShow('resolved')} data-testid="comments-show-resolved">
          Resolved ({resolved.length})
        </button>
      </div>

      {comments === null && !props.loadError ? (
        <p class="muted small">Loading comments…</p>
      ) : shown.length === 0 ? (
        <p class="muted small" data-testid="comments-empty">
          {show === 'open' ? 'No open comments. Select text in the editor to comment on it.' : 'No resolved comments.'}
        </p>
      ) : (
        <ul class="thread-list">
          {shown.map((t) => (
            <Thread key={t.id} c={t} ctx={ctx} />
          ))}
        </ul>
      )}
      <span class="sr-only" aria-live="polite">
        {open.length} open comments
      </span>
    </section>
  );
}

interface ThreadCtx extends Props {
  run: (fn: () => Promise<void>) => Promise<void>;
  replies: (id: string) => Comment[];
}

function Thread({ c, ctx }: { c: Comment; ctx: ThreadCtx }) {
  const [replyOpen, setReplyOpen] = useState(false);
  const [reply, setReply] = useState('');
  const [picked, setPicked] = useState<Mentionable[]>([]);
  const active = ctx.activeId === c.id;
  const ref = useRef<HTMLLIElement>(null);
  const resolvedNow = c.anchor && ctx.conn ? resolveAnchor(ctx.conn.doc, c.anchor) : null;
  const current = resolvedNow?.text ?? null;

  const sendReply = () =>
    ctx.run(async () => {
      const text = reply.trim();
      if (!text) return;
      const r = await createComment(ctx.postId, {
        body: text,
        parent_id: c.id,
        visibility: ctx.role === 'client' ? 'client' : c.visibility,
        mentions: mentionedIds(text, picked),
      });
      ctx.upsert(r);
      setReply('');
      setPicked([]);
      setReplyOpen(false);
    });

  return (
    <li
      ref={ref}
      class={`thread card-inset${active ? ' active' : ''}${c.resolved_at ? ' resolved' : ''}`}
      data-testid="comment-thread"
      data-comment-id={c.id}
      data-field={c.anchor?.field ?? ''}
      onClick={(e) => {
        if ((e.target as HTMLElement).closest('button, textarea, a')) return;
        ctx.onActivate(active ? null : c.id);
      }}
    >
      {c.anchor && (
        <blockquote class={`thread-quote${current === '' ? ' gone' : ''}`} data-testid="comment-quote" title={`On ${fieldLabel(c.anchor.field)}`}>
          <span class="muted small">{fieldLabel(c.anchor.field)} · </span>
          {current === '' ? <s>{c.anchor.quote}</s> : (current ?? c.anchor.quote)}
        </blockquote>
      )}
      <CommentItem c={c} ctx={ctx} top />
      {ctx.replies(c.id).map((r) => (
        <CommentItem key={r.id} c={r} ctx={ctx} />
      ))}
      <div class="thread-actions">
        {!replyOpen && (
          <button type="button" class="btn btn-ghost btn-sm" onClick={() => setReplyOpen(true)} data-testid="comment-reply">
            Reply
          </button>
        )}
        {c.resolved_at ? (
          <button
            type="button"
            class="btn btn-ghost btn-sm"
            data-testid="comment-reopen"
            onClick={() =>
              ctx.run(async () => {
                const r = await setCommentResolved(c.id, false);
                if (r && r.id) ctx.upsert(r);
                else ctx.reload();
              })
            }
          >
            Reopen
          </button>
        ) : (
          <button
            type="button"
            class="btn btn-ghost btn-sm"
            data-testid="comment-resolve"
            onClick={() =>
              ctx.run(async () => {
                const r = await setCommentResolved(c.id, true);
                if (r && r.id) ctx.upsert(r);
                else ctx.reload();
              })
            }
          >
            ✓ Resolve
          </button>
        )}
      </div>
      {replyOpen && (
        <div class="reply-box">
          <MentionInput
            value={reply}
            onInput={setReply}
            onMention={(u) => setPicked((p) => [...p.filter((x) => x.id !== u.id), u])}
            people={ctx.people}
            rows={2}
            placeholder="Reply… (@ to mention)"
            ariaLabel="Reply"
            testid="comment-reply-body"
            autoFocus
            onSubmit={() => void sendReply()}
          />
          <div class="composer-actions">
            <button type="button" class="btn btn-ghost btn-sm" onClick={() => setReplyOpen(false)}>
              Cancel
            </button>
            <button type="button" class="btn btn-primary btn-sm" disabled={!reply.trim()} onClick={() => void sendReply()} data-testid="comment-reply-submit">
              Reply
            </button>
          </div>
        </div>
      )}
    </li>
  );
}

function CommentItem({ c, ctx, top = false }: { c: Comment; ctx: ThreadCtx; top?: boolean }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(c.body);
  const [picker, setPicker] = useState(false);
  const [picked, setPicked] = useState<Mentionable[]>([]);
  const mine = !!c.author && c.author.id === ctx.me.id;
  const moderator = ctx.me.is_super_admin || ctx.role === 'workspace_admin' || ctx.role === 'content_manager';
  const name = c.author?.name ?? 'Deleted user';

  const toggle = (emoji: string, on: boolean) =>
    ctx.run(async () => {
      const r = await setReaction(c.id, emoji, on);
      if (r && r.id) ctx.upsert(r);
      else ctx.reload();
    });

  return (
    <div class={`comment${top ? ' top' : ' reply'}`} data-testid={top ? 'comment-item' : 'comment-reply-item'} data-comment-id={c.id}>
      <div class="comment-head">
        <span class="avatar avatar-sm" style={{ background: c.author ? userColor(c.author.id) : '#868e96' }} aria-hidden="true">
          {initials(name)}
        </span>
        <strong class="comment-author">{name}</strong>
        {top && (
          <span class={`badge vis-${c.visibility}`} data-testid="comment-visibility" title={c.visibility === 'client' ? 'The client can see this' : 'Only the team can see this'}>
            {c.visibility === 'client' ? 'Client' : 'Internal'}
          </span>
        )}
        <time class="muted small" dateTime={c.created_at} title={formatDateTime(c.created_at)}>
          {timeAgo(c.created_at)}
          {c.edited_at ? ' · edited' : ''}
        </time>
      </div>
      {editing ? (
        <div class="reply-box">
          <MentionInput
            value={draft}
            onInput={setDraft}
            onMention={(u) => setPicked((p) => [...p.filter((x) => x.id !== u.id), u])}
            people={ctx.people}
            rows={3}
            ariaLabel="Edit comment"
            testid="comment-edit-body"
            autoFocus
          />
          <div class="composer-actions">
            <button type="button" class="btn btn-ghost btn-sm" onClick={() => setEditing(false)}>
              Cancel
            </button>
            <button
              type="button"
              class="btn btn-primary btn-sm"
              disabled={!draft.trim()}
              data-testid="comment-edit-save"
              onClick={() =>
                ctx.run(async () => {
                  const text = draft.trim();
                  // Keep earlier mentions still named in the text, add the new picks.
                  const known = ctx.people.filter((p) => c.mentions.includes(p.id));
                  ctx.upsert(await editComment(c.id, text, ctx.people.length ? mentionedIds(text, [...known, ...picked]) : undefined));
                  setEditing(false);
                  setPicked([]);
                })
              }
            >
              Save
            </button>
          </div>
        </div>
      ) : (
        <p class="comment-body" data-testid="comment-body-text">
          <Body text={c.body} mentions={c.mentions} people={ctx.people} />
        </p>
      )}
      <div class="comment-foot">
        <div class="reactions" data-testid="comment-reactions">
          {c.reactions
            .filter((r) => r.count > 0)
            .map((r) => {
              const on = r.user_ids.includes(ctx.me.id);
              return (
                <button
                  key={r.emoji}
                  type="button"
                  class={`reaction${on ? ' on' : ''}`}
                  aria-pressed={on}
                  title={on ? 'Remove your reaction' : 'React'}
                  onClick={() => toggle(r.emoji, !on)}
                  data-testid="comment-reaction"
                  data-emoji={r.emoji}
                >
                  {r.emoji} <span>{r.count}</span>
                </button>
              );
            })}
          <button type="button" class="reaction add" aria-label="Add a reaction" aria-expanded={picker} onClick={() => setPicker((p) => !p)} data-testid="comment-react">
            ☺+
          </button>
          {picker && (
            <span class="reaction-picker" role="group" aria-label="Reactions">
              {REACTIONS.map((e) => (
                <button
                  key={e}
                  type="button"
                  class="reaction"
                  data-testid="reaction-option"
                  data-emoji={e}
                  onClick={() => {
                    setPicker(false);
                    const has = c.reactions.find((r) => r.emoji === e)?.user_ids.includes(ctx.me.id);
                    void toggle(e, !has);
                  }}
                >
                  {e}
                </button>
              ))}
            </span>
          )}
        </div>
        <div class="comment-tools">
          {mine && !editing && (
            <button
              type="button"
              class="btn btn-ghost btn-sm"
              onClick={() => {
                setDraft(c.body);
                setEditing(true);
              }}
              data-testid="comment-edit"
            >
              Edit
            </button>
          )}
          {(mine || moderator) && (
            <button
              type="button"
              class="btn btn-danger-ghost btn-sm"
              data-testid="comment-delete"
              onClick={() => {
                if (!confirm(top ? 'Delete this comment and its replies?' : 'Delete this reply?')) return;
                void ctx.run(async () => {
                  await deleteComment(c.id);
                  ctx.remove(c.id);
                });
              }}
            >
              Delete
            </button>
          )}
        </div>
      </div>
    </div>
  );
}

/** The comment text with "@Name" of the mentioned people highlighted. */
function Body({ text, mentions, people }: { text: string; mentions: string[]; people: Mentionable[] }) {
  const names = people.filter((p) => mentions.includes(p.id)).map((p) => `@${p.name}`);
  if (names.length === 0) return <>{text}</>;
  const re = new RegExp(`(${names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).sort((a, b) => b.length - a.length).join('|')})`, 'g');
  return (
    <>
      {text.split(re).map((part, i) =>
        names.includes(part) ? (
          <span key={i} class="mention" data-testid="comment-mention">
            {part}
          </span>
        ) : (
          part
        ),
      )}
    </>
  );
}
