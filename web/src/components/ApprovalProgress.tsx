// An approval round shown read-only: its steps in order (parallel steps side by side), each
// with its status, N of M, who is being waited on, the deadline and the decisions taken.
import type { Approval, ApprovalStep, StepDecision } from '../api';
import { formatDateTime, humanize, timeAgo } from './ui';

export const DECISION_TEXT: Record<string, string> = {
  approve: 'approved',
  reject: 'rejected',
  request_changes: 'requested changes',
  withdraw: 'withdrew',
};

export const APPROVAL_STATUS_TEXT: Record<string, string> = {
  pending: 'In review',
  approved: 'Approved',
  rejected: 'Rejected',
  changes_requested: 'Changes requested',
  withdrawn: 'Withdrawn',
  voided: 'Voided (content changed)',
};

/** "1 of 2" approvals, or "2 of 2" for "all". */
export function stepCount(s: ApprovalStep): string {
  const need = s.required ?? Math.max(s.approvers.length, 1);
  return `${Math.min(s.approvals, need)} of ${need}`;
}

function deadlineText(s: ApprovalStep): { text: string; overdue: boolean } | null {
  if (!s.deadline_at) return null;
  const overdue = new Date(s.deadline_at).getTime() < Date.now() && (s.status === 'active' || s.status === 'waiting');
  return { text: `${overdue ? 'Overdue since' : 'Due'} ${formatDateTime(s.deadline_at)}`, overdue };
}

export function DecisionLine({ d, step }: { d: StepDecision; step?: string }) {
  return (
    <li class={`decision decision-${d.decision}`} data-testid="approval-decision" data-decision={d.decision}>
      {step && <span class="small muted">{step}: </span>}
      <strong>{d.by?.name || 'Someone'}</strong>
      {d.by?.share_link_id ? <span class="badge">client</span> : null} {DECISION_TEXT[d.decision] ?? humanize(String(d.decision))}
      <span class="muted small"> · {timeAgo(d.at)}</span>
      {d.comment && <blockquote class="decision-comment">{d.comment}</blockquote>}
    </li>
  );
}

export function ApprovalSteps({ approval }: { approval: Approval }) {
  const orders = [...new Set(approval.steps.map((s) => s.order))].sort((a, b) => a - b);
  const total = orders.length;
  return (
    <ol class="approval-steps" aria-label="Approval steps" data-testid="approval-steps">
      {orders.map((o, i) => (
        <li key={o} class="approval-stage">
          <span class="muted small">
            Step {i + 1} of {total}
            {approval.steps.filter((s) => s.order === o).length > 1 ? ' · in parallel' : ''}
          </span>
          {approval.steps
            .filter((s) => s.order === o)
            .map((s) => {
              const dl = deadlineText(s);
              return (
                <div key={s.id} class={`approval-step step-${s.status}`} data-testid="approval-step" data-step={s.name} data-status={s.status}>
                  <div class="approval-step-head">
                    <strong>{s.name}</strong>
                    <span class={`status step-status-${s.status}`} data-testid="approval-step-status">
                      {humanize(s.status)}
                    </span>
                    <span class="small muted" data-testid="approval-step-count">
                      {stepCount(s)}
                    </span>
                  </div>
                  {s.status === 'active' && s.waiting_on.length > 0 && (
                    <p class="small" data-testid="approval-waiting-on">
                      Waiting on {s.waiting_on.map((p) => p.name).join(', ')}
                    </p>
                  )}
                  {s.status === 'active' && s.waiting_on.length === 0 && s.roles.length > 0 && (
                    <p class="small">Waiting on: {s.roles.map(humanize).join(', ')}</p>
                  )}
                  {dl && (
                    <p class={`small${dl.overdue ? ' overdue' : ' muted'}`} data-testid="approval-deadline">
                      {dl.text}
                    </p>
                  )}
                  {s.decisions.length > 0 && (
                    <ul class="decisions">
                      {s.decisions.map((d, j) => (
                        <DecisionLine key={j} d={d} />
                      ))}
                    </ul>
                  )}
                </div>
              );
            })}
        </li>
      ))}
    </ol>
  );
}
