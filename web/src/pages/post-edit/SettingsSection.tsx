// The "Organise & schedule" card: tags, campaign, labels, schedule, client visibility and
// archiving: REST fields saved with "Save changes".
import type { ApiError, PostStatus } from '../../api';
import { FieldError } from '../../components/ui';
import type { FormState } from './form';

interface Props {
  /** The workspace's approval mode (issue #9). */
  approvalMode?: string;
  form: FormState;
  update: (patch: Partial<FormState>) => void;
  err: ApiError | null;
  readOnly: boolean;
  status: PostStatus | null;
}

export function SettingsSection({ form, update, err, readOnly, status, approvalMode }: Props) {
  const needsApproval = (approvalMode === 'required' || approvalMode === 'multi_level') && status !== 'approved' && status !== 'scheduled';
  return (
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
        {needsApproval && (
          <p class="hint" data-testid="schedule-needs-approval">
            This workspace needs an approved round (for this exact content) before a post is scheduled or published.
          </p>
        )}
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
  );
}
