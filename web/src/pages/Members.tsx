import { useCallback, useEffect, useState } from 'preact/hooks';
import {
  WORKSPACE_ROLES,
  addMember,
  listMembers,
  removeMember,
  revokeInvitation,
  toApiError,
  updateMemberRole,
  type ApiError,
  type MembersResponse,
  type Role,
} from '../api';
import { AppLayout } from '../components/AppLayout';
import { ErrorBanner, Field, Notice, Spinner, formatDateTime, humanize } from '../components/ui';
import { can } from '../permissions';
import { useUser, useWorkspaces } from '../session';

/** "45 seconds", "3 minutes". */
function formatWait(secs: number): string {
  if (secs < 90) return `${secs} second${secs === 1 ? '' : 's'}`;
  const m = Math.ceil(secs / 60);
  return `${m} minute${m === 1 ? '' : 's'}`;
}

function RoleOptions({ includeCurrent }: { includeCurrent?: Role }) {
  const roles =
    includeCurrent && !WORKSPACE_ROLES.includes(includeCurrent)
      ? [includeCurrent, ...WORKSPACE_ROLES]
      : WORKSPACE_ROLES;
  return (
    <>
      {roles.map((r) => (
        <option key={r} value={r}>
          {humanize(r)}
        </option>
      ))}
    </>
  );
}

export default function MembersPage({ workspaceId }: { workspaceId: string }) {
  const user = useUser();
  const { items: workspaces } = useWorkspaces();
  const workspace = workspaces?.find((w) => w.id === workspaceId);
  const canManage = can(workspace?.role, 'members_manage');
  const [data, setData] = useState<MembersResponse | null>(null);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [actionError, setActionError] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('content_creator');
  const [inviteBusy, setInviteBusy] = useState(false);
  const [inviteError, setInviteError] = useState<ApiError | null>(null);

  const load = useCallback(async () => {
    try {
      setData(await listMembers(workspaceId));
      setLoadError(null);
    } catch (e) {
      setLoadError(toApiError(e));
    }
  }, [workspaceId]);

  useEffect(() => {
    setData(null);
    void load();
  }, [load]);

  const run = async (fn: () => Promise<unknown>, okMessage?: string) => {
    setActionError(null);
    setNotice(null);
    try {
      await fn();
      if (okMessage) setNotice(okMessage);
    } catch (e) {
      setActionError(toApiError(e));
    }
    await load();
  };

  const onInvite = async (e: Event) => {
    e.preventDefault();
    setInviteBusy(true);
    setInviteError(null);
    setNotice(null);
    const address = email.trim();
    try {
      // Always an invitation (the answer never tells whether the address has an account).
      const res = await addMember(workspaceId, { email: address, role });
      setNotice(`Invitation sent to ${res.invitation?.email || address}. They join the workspace when they accept it.`);
      setEmail('');
      await load();
    } catch (err) {
      const apiErr = toApiError(err);
      if (apiErr.status === 429) {
        const wait = apiErr.retryAfter ? ` Try again in ${formatWait(apiErr.retryAfter)}.` : ' Try again later.';
        setInviteError(Object.assign(apiErr, { message: `Too many invitations for now.${wait}` }));
      } else setInviteError(apiErr);
    } finally {
      setInviteBusy(false);
    }
  };

  return (
    <AppLayout workspaceId={workspaceId}>
      <div class="page-head">
        <h1>Members{workspace ? ` · ${workspace.name}` : ''}</h1>
      </div>

      {notice && <Notice testid="members-notice">{notice}</Notice>}
      <ErrorBanner error={actionError} testid="members-error" />

      <div class="grid-2 grid-wide-left">
        <section class="card" aria-labelledby="members-h">
          <h2 id="members-h">People</h2>
          {loadError ? (
            <ErrorBanner error={loadError} testid="members-load-error" />
          ) : !data ? (
            <Spinner />
          ) : (
            <table class="table" data-testid="members-table">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Joined</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.members.map((m) => (
                  <tr key={m.user_id} data-testid="member-row" data-email={m.email}>
                    <td>
                      <div>{m.name || m.email}</div>
                      <div class="muted small">{m.email}</div>
                    </td>
                    <td>
                      <label class="sr-only" for={`role-${m.user_id}`}>
                        Role of {m.email}
                      </label>
                      <select
                        id={`role-${m.user_id}`}
                        value={m.role}
                        disabled={!canManage}
                        data-testid="member-role"
                        onChange={(e) => {
                          const r = (e.currentTarget as HTMLSelectElement).value as Role;
                          void run(
                            () => updateMemberRole(workspaceId, m.user_id, r),
                            `Role of ${m.email} changed to ${humanize(r)}.`,
                          );
                        }}
                      >
                        <RoleOptions includeCurrent={m.role} />
                      </select>
                    </td>
                    <td class="small">{formatDateTime(m.joined_at)}</td>
                    <td class="actions">
                      {(canManage || user?.id === m.user_id) && (
                        <button
                          type="button"
                          class="btn btn-danger-ghost btn-sm"
                          data-testid="member-remove"
                          onClick={() => {
                            const self = user?.id === m.user_id;
                            const q = self
                              ? 'Leave this workspace?'
                              : `Remove ${m.name || m.email} from this workspace?`;
                            if (confirm(q))
                              void run(() => removeMember(workspaceId, m.user_id), `${m.email} was removed.`);
                          }}
                        >
                          {user?.id === m.user_id ? 'Leave' : 'Remove'}
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}

          <h2 id="inv-h" class="mt">
            Pending invitations
          </h2>
          {data && (data.invitations ?? []).length === 0 && (
            <p class="muted" data-testid="invitations-empty">
              No pending invitations.
            </p>
          )}
          {data && (data.invitations ?? []).length > 0 && (
            <table class="table" data-testid="invitations-table" aria-labelledby="inv-h">
              <thead>
                <tr>
                  <th scope="col">Email</th>
                  <th scope="col">Role</th>
                  <th scope="col">Expires</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {(data.invitations ?? []).map((inv) => (
                  <tr key={inv.id} data-testid="invitation-row" data-email={inv.email ?? ''}>
                    <td>{inv.email || <span class="muted">Address visible to admins</span>}</td>
                    <td>{humanize(inv.role)}</td>
                    <td class="small">{formatDateTime(inv.expires_at)}</td>
                    <td class="actions">
                      {canManage && (
                        <button
                          type="button"
                          class="btn btn-danger-ghost btn-sm"
                          data-testid="invitation-revoke"
                          onClick={() => {
                            const who = inv.email || 'this person';
                            if (confirm(`Revoke the invitation for ${who}?`))
                              void run(
                                () => revokeInvitation(workspaceId, inv.id),
                                `Invitation for ${who} revoked.`,
                              );
                          }}
                        >
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>

        {canManage && (
          <section class="card" aria-labelledby="invite-h">
            <h2 id="invite-h">Invite someone</h2>
            <form onSubmit={onInvite} noValidate data-testid="invite-form">
              <ErrorBanner error={inviteError} testid="invite-error" />
              <Field label="Email" name="email" error={inviteError}>
                <input
                  id="f-email"
                  type="email"
                  required
                  value={email}
                  onInput={(e) => setEmail(e.currentTarget.value)}
                  placeholder="colleague@example.com"
                  data-testid="invite-email"
                />
              </Field>
              <Field label="Role" name="role" error={inviteError}>
                <select
                  id="f-role"
                  value={role}
                  onChange={(e) => setRole((e.currentTarget as HTMLSelectElement).value as Role)}
                  data-testid="invite-role"
                >
                  <RoleOptions />
                </select>
              </Field>
              <button type="submit" class="btn btn-primary" disabled={inviteBusy} data-testid="invite-submit">
                {inviteBusy ? 'Sending…' : 'Send invitation'}
              </button>
              <p class="hint">
                Everyone gets an email invitation, whether or not they already have an account, and joins
                the workspace when they accept it.
              </p>
            </form>
          </section>
        )}
      </div>
    </AppLayout>
  );
}
