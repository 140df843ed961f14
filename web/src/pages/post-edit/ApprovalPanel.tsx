// The post page's approval card: the current round (status, steps, who is being waited on,
// deadlines), submit / withdraw / approve / reject / request changes with a comment, the
// decision history, and sharing the post with a client for review. Kept current from the
// `approval.*` events of this post.
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  decideApproval,
  getApproval,
  listApprovalRounds,
  listWorkflows,
  submitForApproval,
  toApiError,
  type ApiError,
  type Approval,
  type ApprovalAction,
  type ApprovalEvent,
  type Post,
  type Role,
  type User,
  type Workflow,
} from '../../api';
import { APPROVAL_STATUS_TEXT, ApprovalSteps, DECISION_TEXT, DecisionLine } from '../../components/ApprovalProgress';
import { ShareLinkCreator, ShareLinkList } from '../../components/ShareLinks';
import { ErrorBanner, formatDateTime, humanize } from '../../components/ui';
import { useEvents } from '../../collab/useLive';
import { can } from '../../permissions';

interface Props {
  workspaceId: string;
  post: Post;
  me: User | null;
  role: Role | undefined;
  approvalMode: string | undefined;
  /** The post changed (status): refetch it. */
  onChanged: () => void;
}

/** Workflows whose conditions fit the post (empty condition: any). */
export function matchingWorkflows(workflows: Workflow[], post: Pick<Post, 'platforms' | 'tags' | 'campaign'>): Workflow[] {
  return workflows.filter((w) => {
    const c = w.conditions ?? { platforms: [], tags: [], campaign: null };
    if (c.platforms?.length && !c.platforms.some((p) => post.platforms.includes(p))) return false;
    if (c.tags?.length && !c.tags.some((t) => post.tags.includes(t))) return false;
    if (c.campaign && c.campaign !== post.campaign) return false;
    return true;
  });
}

const EVENT_TEXT: Record<string, (e: ApprovalEvent) => string> = {
  'approval.submitted': (e) => `${e.by?.name ?? 'Someone'} submitted the post for approval.`,
  'approval.step_started': (e) => `Step “${e.step?.name ?? ''}” started.`,
  'approval.decided': (e) => `${e.by?.name ?? 'Someone'} ${DECISION_TEXT[e.decision ?? ''] ?? 'decided'}${e.step ? ` (${e.step.name})` : ''}.`,
  'approval.approved': () => 'The post is approved.',
  'approval.rejected': () => 'The post was rejected.',
  'approval.changes_requested': () => 'Changes were requested.',
  'approval.withdrawn': (e) => `${e.by?.name ?? 'The submitter'} withdrew the request.`,
  'approval.voided': () => 'The content changed: the approval round is void and starts again.',
  'approval.deadline_near': (e) => `The deadline of “${e.step?.name ?? 'a step'}” is near.`,
  'approval.deadline_passed': (e) => `The deadline of “${e.step?.name ?? 'a step'}” passed (${humanize(e.action ?? 'remind')}).`,
};

export function ApprovalPanel({ workspaceId, post, me, role, approvalMode, onChanged }: Props) {
  const postId = post.id;
  const [approval, setApproval] = useState<Approval | null | undefined>(undefined);
  const [rounds, setRounds] = useState<Approval[] | null>(null);
  const [historyOpen, setHistoryOpen] = useState(false);
  const [workflows, setWorkflows] = useState<Workflow[] | null>(null);
  const [workflowId, setWorkflowId] = useState('');
  const [comment, setComment] = useState('');
  const [mode, setMode] = useState<'submit' | 'decide' | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [live, setLive] = useState<string | null>(null);
  const [sharing, setSharing] = useState(false);
  const [linksKey, setLinksKey] = useState(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const load = async () => {
    try {
      setApproval(await getApproval(postId));
      if (historyOpen) setRounds(await listApprovalRounds(postId));
    } catch (e) {
      setError(toApiError(e));
      setApproval((a) => (a === undefined ? null : a));
    }
  };
  const loadSoon = () => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(() => void load(), 150);
  };

  useEffect(() => {
    setApproval(undefined);
    setRounds(null);
    void load();
    return () => {
      if (timer.current) clearTimeout(timer.current);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [postId]);

  useEffect(() => {
    if (historyOpen) listApprovalRounds(postId).then(setRounds, (e) => setError(toApiError(e)));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [historyOpen, postId]);

  useEvents(
    true,
    (ev) => {
      if (!ev.type.startsWith('approval.')) return;
      const e = ev.data as unknown as ApprovalEvent;
      if (e.post_id !== postId) return;
      const text = EVENT_TEXT[ev.type]?.(e);
      if (text) setLive(text);
      loadSoon();
      onChanged();
    },
    loadSoon,
  );

  const canEdit = can(role, 'post_edit');
  const pending = approval?.status === 'pending';
  const activeSteps = approval?.steps.filter((s) => s.status === 'active') ?? [];
  // Super admins may decide any step (the server never lists them among those waited on).
  const waitingOnMe = !!me && (activeSteps.some((s) => s.waiting_on.some((p) => p.user_id === me.id)) || (me.is_super_admin && activeSteps.length > 0));
  const isSubmitter = !!me && approval?.submitted_by?.user_id === me.id;
  const canWithdraw = pending && (isSubmitter || can(role, 'post_delete'));
  const disabled = approvalMode === 'none';
  // An approved round stays valid until the content changes (then the server voids it and
  // starts a new round itself).
  const canSubmit = canEdit && !pending && approval?.status !== 'approved' && !disabled;
  const matching = workflows ? matchingWorkflows(workflows, post) : [];

  const openSubmit = () => {
    setMode('submit');
    setError(null);
    setComment('');
    if (workflows === null) {
      listWorkflows(workspaceId).then(
        (w) => {
          setWorkflows(w);
          const m = matchingWorkflows(w, post);
          setWorkflowId((m.find((x) => x.is_default) ?? m[0])?.id ?? '');
        },
        () => setWorkflows([]), // may not list workflows: the server picks
      );
    }
  };

  const run = async (what: string, fn: () => Promise<Approval>) => {
    setBusy(what);
    setError(null);
    try {
      const a = await fn();
      setApproval(a);
      setMode(null);
      setComment('');
      if (historyOpen) setRounds(await listApprovalRounds(postId));
      onChanged();
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setBusy(null);
    }
  };

  const submit = (e: Event) => {
    e.preventDefault();
    const input: { comment?: string; workflow_id?: string } = {};
    if (comment.trim()) input.comment = comment.trim();
    if (matching.length > 1 && workflowId) input.workflow_id = workflowId;
    void run('submit', () => submitForApproval(postId, input));
  };

  const decide = (action: ApprovalAction) => void run(action, () => decideApproval(postId, action, comment.trim() || undefined));

  return (
    <section class="approval-panel" aria-labelledby="approval-h" data-testid="approval-panel" data-status={approval?.status ?? 'none'}>
      <div class="section-head">
        <h2 id="approval-h" class="h-small">
          Approval
        </h2>
        {approval && (
          <span class={`status approval-${approval.status}`} data-testid="approval-status">
            {APPROVAL_STATUS_TEXT[approval.status] ?? humanize(approval.status)}
          </span>
        )}
      </div>
      <p class="sr-only" role="status" aria-live="polite" data-testid="approval-live">
        {live}
      </p>
      {live && (
        <p class="small muted" aria-hidden="true">
          {live}
        </p>
      )}
      <ErrorBanner error={error} testid="approval-error" />

      {approval === undefined ? (
        <p class="muted small">Loading…</p>
      ) : approval === null ? (
        <p class="muted small" data-testid="approval-none">
          {disabled ? 'Approvals are turned off in this workspace.' : 'Not submitted for approval yet.'}
        </p>
      ) : (
        <div class="stack">
          <p class="small muted">
            Round {approval.round} · {approval.workflow?.name || 'Workflow'} · submitted by {approval.submitted_by?.name ?? '—'}{' '}
            {formatDateTime(approval.submitted_at)}
            {approval.decided_at ? ` · decided ${formatDateTime(approval.decided_at)}` : ''}
          </p>
          {approval.submit_comment && <blockquote class="decision-comment">{approval.submit_comment}</blockquote>}
          <ApprovalSteps approval={approval} />
        </div>
      )}

      {mode === 'submit' && (
        <form class="stack approval-form" onSubmit={submit} data-testid="approval-submit-form">
          {matching.length > 1 && (
            <div class="field">
              <label for="approval-workflow">Workflow</label>
              <select id="approval-workflow" value={workflowId} onChange={(e) => setWorkflowId(e.currentTarget.value)} data-testid="approval-workflow">
                {matching.map((w) => (
                  <option key={w.id} value={w.id}>
                    {w.name}
                    {w.is_default ? ' (default)' : ''}
                  </option>
                ))}
              </select>
            </div>
          )}
          <div class="field">
            <label for="approval-submit-comment">Comment for the approvers (optional)</label>
            <textarea id="approval-submit-comment" rows={2} value={comment} onInput={(e) => setComment(e.currentTarget.value)} data-testid="approval-comment" />
          </div>
          <div class="row">
            <button type="submit" class="btn btn-primary btn-sm" disabled={busy !== null} data-testid="approval-submit-confirm">
              {busy === 'submit' ? 'Submitting…' : 'Submit for approval'}
            </button>
            <button type="button" class="btn btn-ghost btn-sm" onClick={() => setMode(null)}>
              Cancel
            </button>
          </div>
        </form>
      )}

      {mode === 'decide' && (
        <div class="stack approval-form" data-testid="approval-decide-form">
          <div class="field">
            <label for="approval-decide-comment">Comment (optional)</label>
            <textarea id="approval-decide-comment" rows={2} value={comment} onInput={(e) => setComment(e.currentTarget.value)} data-testid="approval-comment" />
          </div>
          <div class="row">
            <button type="button" class="btn btn-primary btn-sm" disabled={busy !== null} onClick={() => decide('approve')} data-testid="approval-approve">
              {busy === 'approve' ? 'Approving…' : 'Approve'}
            </button>
            <button type="button" class="btn btn-sm" disabled={busy !== null} onClick={() => decide('request-changes')} data-testid="approval-request-changes">
              Request changes
            </button>
            <button type="button" class="btn btn-danger-ghost btn-sm" disabled={busy !== null} onClick={() => decide('reject')} data-testid="approval-reject">
              Reject
            </button>
            <button type="button" class="btn btn-ghost btn-sm" onClick={() => setMode(null)}>
              Cancel
            </button>
          </div>
        </div>
      )}

      {mode === null && (
        <div class="row approval-actions">
          {canSubmit && (
            <button type="button" class="btn btn-primary btn-sm" onClick={openSubmit} data-testid="approval-submit">
              {approval ? 'Submit again' : 'Submit for approval'}
            </button>
          )}
          {pending && waitingOnMe && (
            <button type="button" class="btn btn-primary btn-sm" onClick={() => { setMode('decide'); setComment(''); setError(null); }} data-testid="approval-review">
              Review: approve or reject…
            </button>
          )}
          {canWithdraw && (
            <button type="button" class="btn btn-ghost btn-sm" disabled={busy !== null} onClick={() => {
              if (confirm('Withdraw this approval request?')) decide('withdraw');
            }} data-testid="approval-withdraw">
              Withdraw
            </button>
          )}
          {can(role, 'share_links') && role !== 'reviewer' && (
            <button type="button" class="btn btn-ghost btn-sm" aria-expanded={sharing} onClick={() => setSharing((s) => !s)} data-testid="share-open">
              Share for review
            </button>
          )}
        </div>
      )}

      {sharing && (
        <div class="share-box" data-testid="share-box">
          <ShareLinkCreator workspaceId={workspaceId} postIds={[postId]} onCreated={() => setLinksKey((k) => k + 1)} />
          <ShareLinkList workspaceId={workspaceId} postId={postId} refreshKey={linksKey} compact />
        </div>
      )}

      {approval && (
        <details class="approval-history" onToggle={(e) => setHistoryOpen((e.currentTarget as HTMLDetailsElement).open)} data-testid="approval-history">
          <summary>Decision history</summary>
          {rounds === null ? (
            <p class="muted small">Loading…</p>
          ) : rounds.length === 0 ? (
            <p class="muted small">No rounds yet.</p>
          ) : (
            <ol class="rounds" reversed>
              {[...rounds].sort((a, b) => b.round - a.round).map((r) => (
                <li key={r.id} data-testid="approval-round">
                  <strong>Round {r.round}</strong> · {APPROVAL_STATUS_TEXT[r.status] ?? humanize(r.status)} · {r.workflow?.name}
                  <div class="small muted">
                    Submitted by {r.submitted_by?.name} {formatDateTime(r.submitted_at)}
                  </div>
                  <ul class="decisions">
                    {r.steps
                      .flatMap((s) => s.decisions.map((d) => ({ d, s })))
                      .sort((a, b) => a.d.at.localeCompare(b.d.at))
                      .map(({ d, s }, i) => (
                        <DecisionLine key={i} d={d} step={s.name} />
                      ))}
                  </ul>
                </li>
              ))}
            </ol>
          )}
        </details>
      )}
    </section>
  );
}
