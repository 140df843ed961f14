// Approval settings of a workspace (admins / managers): the approval mode and the workflows —
// ordered steps (the same order runs in parallel), approvers (members and/or roles), N of M
// or all, auto-approve, a deadline and what happens when it passes, a backup user,
// conditions (platforms, tags, campaign) and the default workflow.
import { useEffect, useState } from 'preact/hooks';
import {
  APPROVAL_MODES,
  DEADLINE_ACTIONS,
  WORKSPACE_ROLES,
  createWorkflow,
  deleteWorkflow,
  getWorkspace,
  listMembers,
  listWorkflows,
  setApprovalMode,
  toApiError,
  updateWorkflow,
  type ApiError,
  type ApprovalMode,
  type Member,
  type Platform,
  type Workflow,
  type WorkflowInput,
  type WorkflowStep,
} from '../api';
import { AppLayout } from '../components/AppLayout';
import { ErrorBanner, Notice, Spinner, humanize, splitList } from '../components/ui';
import { can } from '../permissions';
import { PLATFORMS, platformLabel } from '../platforms';
import { reloadWorkspaces, useWorkspaces } from '../session';

const MODE_TEXT: Record<ApprovalMode, string> = {
  none: 'posts cannot be submitted for approval.',
  optional: 'posts can be submitted; scheduling does not need an approval.',
  required: 'scheduling and publishing need an approved round that matches the content.',
  multi_level: 'like required, and workflows may have several successive steps.',
};

const ACTION_TEXT: Record<string, string> = {
  remind: 'Remind the approvers',
  reassign: 'Reassign to the backup user',
  auto_approve: 'Approve the step automatically',
  escalate: 'Escalate to the workspace admins',
};

function newStep(order: number): WorkflowStep {
  return {
    name: order === 1 ? 'Review' : `Step ${order}`,
    order,
    approvers: { user_ids: [], roles: [] },
    required: null,
    auto_approve: false,
    deadline_hours: null,
    on_deadline: 'remind',
    backup_user_id: null,
  };
}

function emptyWorkflow(): WorkflowInput {
  return { name: '', is_default: false, conditions: { platforms: [], tags: [], campaign: null }, steps: [newStep(1)] };
}

function toInput(w: Workflow): WorkflowInput {
  return {
    name: w.name,
    is_default: w.is_default,
    conditions: { platforms: w.conditions?.platforms ?? [], tags: w.conditions?.tags ?? [], campaign: w.conditions?.campaign ?? null },
    steps: w.steps.map((s) => ({ ...newStep(s.order), ...s, approvers: { user_ids: s.approvers?.user_ids ?? [], roles: s.approvers?.roles ?? [] } })),
  };
}

function stepsSummary(w: Workflow, members: Member[]): string {
  const name = (id: string) => members.find((m) => m.user_id === id)?.name ?? 'someone';
  return [...w.steps]
    .sort((a, b) => a.order - b.order)
    .map((s) => {
      const who = [...s.approvers.user_ids.map(name), ...s.approvers.roles.map((r) => `${humanize(r)}s`)].join(', ') || 'nobody';
      return `${s.order}. ${s.name} (${s.required ? `${s.required} of ` : 'all of '}${who})`;
    })
    .join(' → ');
}

interface StepEditorProps {
  step: WorkflowStep;
  index: number;
  count: number;
  members: Member[];
  onChange: (s: WorkflowStep) => void;
  onRemove: () => void;
  onMove: (dir: -1 | 1) => void;
}

function StepEditor({ step: s, index: i, count, members, onChange, onRemove, onMove }: StepEditorProps) {
  const id = (k: string) => `step-${i}-${k}`;
  const set = (patch: Partial<WorkflowStep>) => onChange({ ...s, ...patch });
  const approverCount = s.approvers.user_ids.length + s.approvers.roles.length;
  return (
    <fieldset class="card step-editor" data-testid="step-editor">
      <legend>
        Step {i + 1}: {s.name || 'unnamed'}
      </legend>
      <div class="row">
        <div class="field grow">
          <label for={id('name')}>Step name</label>
          <input id={id('name')} value={s.name} required onInput={(e) => set({ name: e.currentTarget.value })} data-testid="step-name" />
        </div>
        <div class="field">
          <label for={id('order')}>Order</label>
          <input id={id('order')} type="number" min={1} max={20} value={s.order} onInput={(e) => set({ order: Math.max(1, Number(e.currentTarget.value) || 1) })} aria-describedby={id('order-hint')} data-testid="step-order" class="input-narrow" />
        </div>
      </div>
      <p class="hint" id={id('order-hint')}>
        Steps with the same order run in parallel; a higher order starts when the lower ones are approved.
      </p>
      <fieldset class="plain">
        <legend class="small">Approvers: members</legend>
        <div class="check-grid">
          {members.map((m) => (
            <label key={m.user_id} class="opt">
              <input
                type="checkbox"
                checked={s.approvers.user_ids.includes(m.user_id)}
                onChange={(e) =>
                  set({
                    approvers: {
                      ...s.approvers,
                      user_ids: e.currentTarget.checked ? [...s.approvers.user_ids, m.user_id] : s.approvers.user_ids.filter((x) => x !== m.user_id),
                    },
                  })
                }
                data-testid="step-approver"
                data-name={m.name}
              />{' '}
              {m.name || m.email} <span class="muted small">({humanize(m.role)})</span>
            </label>
          ))}
        </div>
      </fieldset>
      <fieldset class="plain">
        <legend class="small">Approvers: everyone with the role</legend>
        <div class="check-grid">
          {WORKSPACE_ROLES.map((r) => (
            <label key={r} class="opt">
              <input
                type="checkbox"
                checked={s.approvers.roles.includes(r)}
                onChange={(e) =>
                  set({ approvers: { ...s.approvers, roles: e.currentTarget.checked ? [...s.approvers.roles, r] : s.approvers.roles.filter((x) => x !== r) } })
                }
                data-testid={`step-role-${r}`}
              />{' '}
              {humanize(r)}
              {r === 'client' ? <span class="muted small"> (incl. review links)</span> : null}
            </label>
          ))}
        </div>
      </fieldset>
      <div class="row">
        <div class="field">
          <label for={id('required')}>Approvals needed</label>
          <select
            id={id('required')}
            value={s.required === null ? 'all' : 'n'}
            onChange={(e) => set({ required: e.currentTarget.value === 'all' ? null : Math.max(1, s.required ?? 1) })}
            data-testid="step-required-mode"
          >
            <option value="all">All of them</option>
            <option value="n">Some of them (N of M)</option>
          </select>
        </div>
        {s.required !== null && (
          <div class="field">
            <label for={id('n')}>How many</label>
            <input id={id('n')} type="number" min={1} max={Math.max(1, approverCount > 0 ? 99 : 1)} value={s.required} onInput={(e) => set({ required: Math.max(1, Number(e.currentTarget.value) || 1) })} class="input-narrow" data-testid="step-required" />
          </div>
        )}
      </div>
      <label class="opt">
        <input type="checkbox" checked={s.auto_approve} onChange={(e) => set({ auto_approve: e.currentTarget.checked })} data-testid="step-auto-approve" /> Auto-approve when the
        submitter is one of this step's approvers
      </label>
      <div class="row">
        <div class="field">
          <label for={id('deadline')}>Deadline (hours)</label>
          <input
            id={id('deadline')}
            type="number"
            min={1}
            placeholder="none"
            value={s.deadline_hours ?? ''}
            onInput={(e) => set({ deadline_hours: e.currentTarget.value === '' ? null : Math.max(1, Number(e.currentTarget.value) || 1) })}
            class="input-narrow"
            data-testid="step-deadline"
          />
        </div>
        <div class="field">
          <label for={id('on-deadline')}>When it passes</label>
          <select id={id('on-deadline')} value={s.on_deadline} disabled={s.deadline_hours === null} onChange={(e) => set({ on_deadline: e.currentTarget.value as WorkflowStep['on_deadline'] })} data-testid="step-on-deadline">
            {DEADLINE_ACTIONS.map((a) => (
              <option key={a} value={a}>
                {ACTION_TEXT[a]}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for={id('backup')}>Backup user</label>
          <select id={id('backup')} value={s.backup_user_id ?? ''} onChange={(e) => set({ backup_user_id: e.currentTarget.value || null })} data-testid="step-backup">
            <option value="">None</option>
            {members.map((m) => (
              <option key={m.user_id} value={m.user_id}>
                {m.name || m.email}
              </option>
            ))}
          </select>
        </div>
      </div>
      {s.on_deadline === 'reassign' && s.deadline_hours !== null && !s.backup_user_id && <p class="field-error">Choose a backup user to reassign to.</p>}
      <div class="row">
        <button type="button" class="btn btn-ghost btn-sm" onClick={() => onMove(-1)} disabled={i === 0} aria-label={`Move step ${i + 1} up`}>
          ↑ Up
        </button>
        <button type="button" class="btn btn-ghost btn-sm" onClick={() => onMove(1)} disabled={i === count - 1} aria-label={`Move step ${i + 1} down`}>
          ↓ Down
        </button>
        <button type="button" class="btn btn-danger-ghost btn-sm" onClick={onRemove} disabled={count === 1} data-testid="step-remove">
          Remove step
        </button>
      </div>
    </fieldset>
  );
}

function WorkflowForm({
  workspaceId,
  editing,
  members,
  mode,
  onSaved,
  onCancel,
}: {
  workspaceId: string;
  editing: Workflow | null;
  members: Member[];
  mode: ApprovalMode;
  onSaved: (w: Workflow) => void;
  onCancel: () => void;
}) {
  const [w, setW] = useState<WorkflowInput>(editing ? toInput(editing) : emptyWorkflow());
  const [tags, setTags] = useState((editing?.conditions?.tags ?? []).join(', '));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  const setStep = (i: number, s: WorkflowStep) => setW((cur) => ({ ...cur, steps: cur.steps.map((x, j) => (j === i ? s : x)) }));
  const maxOrder = Math.max(0, ...w.steps.map((s) => s.order));
  const orders = new Set(w.steps.map((s) => s.order)).size;

  const move = (i: number, dir: -1 | 1) =>
    setW((cur) => {
      const steps = [...cur.steps];
      const j = i + dir;
      if (j < 0 || j >= steps.length) return cur;
      [steps[i], steps[j]] = [steps[j]!, steps[i]!];
      return { ...cur, steps };
    });

  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const input: WorkflowInput = { ...w, name: w.name.trim(), conditions: { ...w.conditions, tags: splitList(tags), campaign: w.conditions.campaign?.trim() || null } };
    try {
      onSaved(editing ? await updateWorkflow(editing.id, input) : await createWorkflow(workspaceId, input));
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="stack" onSubmit={save} data-testid="workflow-form" aria-labelledby="wf-form-h">
      <h2 id="wf-form-h">{editing ? `Edit “${editing.name}”` : 'New workflow'}</h2>
      <ErrorBanner error={error} testid="workflow-error" />
      <div class="field">
        <label for="wf-name">Workflow name</label>
        <input id="wf-name" required value={w.name} onInput={(e) => setW({ ...w, name: e.currentTarget.value })} data-testid="workflow-name" />
      </div>
      <label class="opt">
        <input type="checkbox" checked={w.is_default} onChange={(e) => setW({ ...w, is_default: e.currentTarget.checked })} data-testid="workflow-default" /> Default workflow
        (used when no other workflow's conditions match)
      </label>
      <fieldset class="card">
        <legend>Conditions</legend>
        <p class="hint">The workflow applies to posts matching all of these (empty: any post).</p>
        <fieldset class="plain">
          <legend class="small">Platforms (any of)</legend>
          <div class="check-grid">
            {PLATFORMS.map((p) => (
              <label key={p.id} class="opt">
                <input
                  type="checkbox"
                  checked={w.conditions.platforms.includes(p.id)}
                  onChange={(e) =>
                    setW({
                      ...w,
                      conditions: {
                        ...w.conditions,
                        platforms: e.currentTarget.checked ? [...w.conditions.platforms, p.id] : w.conditions.platforms.filter((x: Platform) => x !== p.id),
                      },
                    })
                  }
                />{' '}
                {platformLabel(p.id)}
              </label>
            ))}
          </div>
        </fieldset>
        <div class="row">
          <div class="field grow">
            <label for="wf-tags">Tags (any of, comma separated)</label>
            <input id="wf-tags" value={tags} onInput={(e) => setTags(e.currentTarget.value)} data-testid="workflow-tags" />
          </div>
          <div class="field grow">
            <label for="wf-campaign">Campaign</label>
            <input id="wf-campaign" value={w.conditions.campaign ?? ''} onInput={(e) => setW({ ...w, conditions: { ...w.conditions, campaign: e.currentTarget.value || null } })} data-testid="workflow-campaign" />
          </div>
        </div>
      </fieldset>
      <h3>Steps</h3>
      {orders > 1 && mode !== 'multi_level' && (
        <p class="alert alert-info" role="note">
          Several successive steps need the “multi-level” approval mode.
        </p>
      )}
      {w.steps.map((s, i) => (
        <StepEditor
          key={i}
          step={s}
          index={i}
          count={w.steps.length}
          members={members}
          onChange={(x) => setStep(i, x)}
          onRemove={() => setW({ ...w, steps: w.steps.filter((_, j) => j !== i) })}
          onMove={(d) => move(i, d)}
        />
      ))}
      <div class="row">
        <button type="button" class="btn btn-sm" onClick={() => setW({ ...w, steps: [...w.steps, newStep(maxOrder + 1)] })} data-testid="workflow-add-step">
          Add a next step
        </button>
        <button type="button" class="btn btn-sm" onClick={() => setW({ ...w, steps: [...w.steps, { ...newStep(maxOrder || 1), name: 'Parallel review' }] })} data-testid="workflow-add-parallel">
          Add a parallel step
        </button>
      </div>
      <div class="form-actions row">
        <button type="submit" class="btn btn-primary" disabled={busy} data-testid="workflow-save">
          {busy ? 'Saving…' : editing ? 'Save workflow' : 'Create workflow'}
        </button>
        <button type="button" class="btn btn-ghost" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export default function ApprovalSettingsPage({ workspaceId }: { workspaceId: string }) {
  const { items: workspaces } = useWorkspaces();
  const workspace = workspaces?.find((w) => w.id === workspaceId);
  const allowed = can(workspace?.role, 'approvals_manage');
  const modeAllowed = allowed;
  const [mode, setMode] = useState<ApprovalMode | null>(null);
  const [savedMode, setSavedMode] = useState<ApprovalMode | null>(null);
  const [workflows, setWorkflows] = useState<Workflow[] | null>(null);
  const [members, setMembers] = useState<Member[]>([]);
  const [editing, setEditing] = useState<Workflow | 'new' | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [modeBusy, setModeBusy] = useState(false);

  const load = async () => {
    try {
      setWorkflows(await listWorkflows(workspaceId));
    } catch (e) {
      setError(toApiError(e));
    }
  };

  useEffect(() => {
    void load();
    getWorkspace(workspaceId).then(
      (w) => {
        const m = (w.approval_mode ?? 'optional') as ApprovalMode;
        setMode(m);
        setSavedMode(m);
      },
      (e) => setError(toApiError(e)),
    );
    listMembers(workspaceId).then((r) => setMembers(r.members), () => setMembers([]));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [workspaceId]);

  const saveMode = async (e: Event) => {
    e.preventDefault();
    if (!mode) return;
    setModeBusy(true);
    setError(null);
    setNotice(null);
    try {
      const res = await setApprovalMode(workspaceId, mode);
      const m = (res?.approval_mode ?? mode) as ApprovalMode;
      setMode(m);
      setSavedMode(m);
      setNotice(`Approval mode: ${humanize(m)}.`);
      void reloadWorkspaces();
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setModeBusy(false);
    }
  };

  const remove = async (w: Workflow) => {
    if (!confirm(`Delete the workflow “${w.name}”? Rounds already running keep their steps.`)) return;
    setError(null);
    try {
      await deleteWorkflow(w.id);
      setNotice(`Deleted “${w.name}”.`);
      if (editing !== 'new' && editing?.id === w.id) setEditing(null);
      await load();
    } catch (e) {
      setError(toApiError(e));
    }
  };

  return (
    <AppLayout workspaceId={workspaceId}>
      <div class="page-head">
        <h1>Approval settings{workspace ? ` · ${workspace.name}` : ''}</h1>
      </div>
      {workspace && !allowed && <Notice>Only workspace admins and content managers change approval settings.</Notice>}
      {notice && <Notice testid="approval-settings-notice">{notice}</Notice>}
      <ErrorBanner error={error} testid="approval-settings-error" />

      <form class="card stack" onSubmit={saveMode} aria-labelledby="mode-h" data-testid="approval-mode-form">
        <h2 id="mode-h">Approval mode</h2>
        {mode === null ? (
          <Spinner />
        ) : (
          <fieldset class="plain stack">
            <legend class="sr-only">Approval mode</legend>
            {APPROVAL_MODES.map((m) => (
              <label key={m} class="opt">
                <input type="radio" name="approval_mode" value={m} checked={mode === m} onChange={() => setMode(m)} disabled={!modeAllowed} data-testid={`approval-mode-${m}`} />{' '}
                <strong>{humanize(m)}</strong> <span class="muted small">— {MODE_TEXT[m]}</span>
              </label>
            ))}
          </fieldset>
        )}
        <div>
          <button type="submit" class="btn btn-primary btn-sm" disabled={!modeAllowed || modeBusy || mode === savedMode} data-testid="approval-mode-save">
            {modeBusy ? 'Saving…' : 'Save mode'}
          </button>
        </div>
      </form>

      <section class="card" aria-labelledby="wf-h">
        <div class="section-head">
          <h2 id="wf-h">Workflows</h2>
          {allowed && editing === null && (
            <button type="button" class="btn btn-primary btn-sm" onClick={() => setEditing('new')} data-testid="workflow-new">
              New workflow
            </button>
          )}
        </div>
        {workflows === null ? (
          <Spinner />
        ) : workflows.length === 0 ? (
          <p class="muted" data-testid="workflows-empty">
            No workflows yet. Without one, a submitted post waits for any workspace admin or content manager.
          </p>
        ) : (
          <ul class="list">
            {workflows.map((w) => (
              <li key={w.id} class="list-row" data-testid="workflow-row" data-name={w.name}>
                <div class="list-main">
                  <strong>
                    {w.name} {w.is_default && <span class="badge">default</span>}
                  </strong>
                  <span class="small">{stepsSummary(w, members)}</span>
                  <span class="small muted">
                    {[
                      w.conditions?.platforms?.length ? `platforms: ${w.conditions.platforms.map(platformLabel).join(', ')}` : '',
                      w.conditions?.tags?.length ? `tags: ${w.conditions.tags.join(', ')}` : '',
                      w.conditions?.campaign ? `campaign: ${w.conditions.campaign}` : '',
                    ]
                      .filter(Boolean)
                      .join(' · ') || 'any post'}
                  </span>
                </div>
                {allowed && (
                  <div class="row">
                    <button type="button" class="btn btn-sm" onClick={() => setEditing(w)} data-testid="workflow-edit">
                      Edit
                    </button>
                    <button type="button" class="btn btn-danger-ghost btn-sm" onClick={() => void remove(w)} data-testid="workflow-delete">
                      Delete
                    </button>
                  </div>
                )}
              </li>
            ))}
          </ul>
        )}
      </section>

      {editing !== null && (
        <section class="card">
          <WorkflowForm
            key={editing === 'new' ? 'new' : editing.id}
            workspaceId={workspaceId}
            editing={editing === 'new' ? null : editing}
            members={members}
            mode={mode ?? 'optional'}
            onCancel={() => setEditing(null)}
            onSaved={(w) => {
              setNotice(`Saved “${w.name}”.`);
              setEditing(null);
              void load();
            }}
          />
        </section>
      )}
    </AppLayout>
  );
}

