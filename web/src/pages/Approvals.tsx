// The approvals inbox: the rounds where the signed-in user is a pending approver of an
// active step, with approve / request changes / reject (and a comment) right here; live
// from `approval.*` events. Also the workspace's review links.
import { useEffect, useRef, useState } from 'preact/hooks';
import { approvalInbox, decideApproval, toApiError, type ApiError, type ApprovalAction, type InboxItem } from '../api';
import { ApprovalSteps } from '../components/ApprovalProgress';
import { AppLayout } from '../components/AppLayout';
import { ShareLinkList } from '../components/ShareLinks';
import { ErrorBanner, Notice, Spinner, formatDateTime, humanize } from '../components/ui';
import { useEvents } from '../collab/useLive';
import { can } from '../permissions';
import { Link } from '../router';
import { useWorkspaces } from '../session';

function InboxRow({ workspaceId, item, onDone }: { workspaceId: string; item: InboxItem; onDone: (msg: string) => void }) {
  const { post, approval } = item;
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const active = approval.steps.filter((s) => s.status === 'active');
  const deadline = active.map((s) => s.deadline_at).filter(Boolean).sort()[0] ?? null;
  const cid = `inbox-comment-${approval.id}`;

  const act = async (action: ApprovalAction, done: string) => {
    setBusy(action);
    setError(null);
    try {
      await decideApproval(post.id, action, comment.trim() || undefined);
      onDone(`${done} “${post.title || 'Untitled post'}”.`);
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setBusy(null);
    }
  };

  return (
    <li class="card inbox-item" data-testid="inbox-item" data-post-id={post.id} data-title={post.title}>
      <div class="section-head">
        <h2 class="h-small">
          <Link href={`/w/${workspaceId}/posts/${post.id}`} data-testid="inbox-post-link">
            {post.title || 'Untitled post'}
          </Link>
        </h2>
        <span class={`status status-${post.status}`}>{humanize(post.status)}</span>
      </div>
      <p class="small muted">
        {approval.workflow?.name} · round {approval.round} · submitted by {approval.submitted_by?.name} {formatDateTime(approval.submitted_at)}
        {active.length ? ` · waiting for: ${active.map((s) => s.name).join(', ')}` : ''}
        {deadline ? ` · due ${formatDateTime(deadline)}` : ''}
      </p>
      {approval.submit_comment && <blockquote class="decision-comment">{approval.submit_comment}</blockquote>}
      <details>
        <summary class="small">Steps</summary>
        <ApprovalSteps approval={approval} />
      </details>
      <ErrorBanner error={error} testid="inbox-error" />
      <div class="field">
        <label for={cid}>Comment (optional)</label>
        <textarea id={cid} rows={2} value={comment} onInput={(e) => setComment(e.currentTarget.value)} data-testid="inbox-comment" />
      </div>
      <div class="row">
        <button type="button" class="btn btn-primary btn-sm" disabled={busy !== null} onClick={() => void act('approve', 'Approved')} data-testid="inbox-approve">
          {busy === 'approve' ? 'Approving…' : 'Approve'}
        </button>
        <button type="button" class="btn btn-sm" disabled={busy !== null} onClick={() => void act('request-changes', 'Requested changes to')} data-testid="inbox-request-changes">
          Request changes
        </button>
        <button type="button" class="btn btn-danger-ghost btn-sm" disabled={busy !== null} onClick={() => void act('reject', 'Rejected')} data-testid="inbox-reject">
          Reject
        </button>
      </div>
    </li>
  );
}

export default function ApprovalsPage({ workspaceId }: { workspaceId: string }) {
  const { items: workspaces } = useWorkspaces();
  const workspace = workspaces?.find((w) => w.id === workspaceId);
  const [items, setItems] = useState<InboxItem[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const load = async () => {
    try {
      setItems(await approvalInbox(workspaceId));
      setError(null);
    } catch (e) {
      setError(toApiError(e));
    }
  };
  const loadSoon = () => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(() => void load(), 200);
  };

  useEffect(() => {
    void load();
    return () => {
      if (timer.current) clearTimeout(timer.current);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [workspaceId]);

  useEvents(
    true,
    (ev) => {
      if (ev.workspace_id === workspaceId && ev.type.startsWith('approval.')) loadSoon();
    },
    loadSoon,
  );

  return (
    <AppLayout workspaceId={workspaceId}>
      <div class="page-head">
        <h1>Approvals{workspace ? ` · ${workspace.name}` : ''}</h1>
        {can(workspace?.role, 'approvals_manage') && (
          <Link href={`/w/${workspaceId}/settings/approvals`} class="btn btn-ghost btn-sm">
            Workflows and settings
          </Link>
        )}
      </div>
      {notice && <Notice testid="inbox-notice">{notice}</Notice>}
      <ErrorBanner error={error} testid="inbox-load-error" />
      <section aria-labelledby="inbox-h" data-testid="inbox" data-loading={items === null ? 'true' : 'false'}>
        <h2 id="inbox-h" class="sr-only">
          Waiting for your decision
        </h2>
        {items === null ? (
          !error && <Spinner />
        ) : items.length === 0 ? (
          <div class="empty card" data-testid="inbox-empty">
            Nothing waits for your approval.
          </div>
        ) : (
          <ul class="post-list">
            {items.map((it) => (
              <InboxRow
                key={`${it.approval.id}-${it.approval.current_order}`}
                workspaceId={workspaceId}
                item={it}
                onDone={(msg) => {
                  setNotice(msg);
                  setItems((list) => list?.filter((x) => x.approval.id !== it.approval.id) ?? list);
                  loadSoon();
                }}
              />
            ))}
          </ul>
        )}
      </section>
      {can(workspace?.role, 'share_links') && (
        <section class="card mt" aria-label="Review links">
          <ShareLinkList workspaceId={workspaceId} />
        </section>
      )}
    </AppLayout>
  );
}
