import type { ComponentChildren } from 'preact';
import { logout } from '../api';
import { can } from '../permissions';
import { Link, navigate, useLocation } from '../router';
import { resetWorkspaces, useUser, useWorkspaces } from '../session';
import { closeEvents } from '../collab/eventHub';
import { NotificationBell } from './NotificationBell';
import { useInboxCount } from './useInboxCount';

interface Props {
  workspaceId?: string;
  children: ComponentChildren;
}

/** Signed-in shell: top bar with workspace switcher, nav and account. */
export function AppLayout({ workspaceId, children }: Props) {
  const user = useUser();
  const { items } = useWorkspaces();
  const { path } = useLocation();
  const current = items?.find((w) => w.id === workspaceId);
  const inbox = useInboxCount(workspaceId);

  const onSwitch = (id: string) => {
    if (id === '__new') navigate('/workspaces');
    else if (id) navigate(`/w/${id}/posts`);
  };

  const navLink = (href: string, label: string, testid: string, count?: number | null) => (
    <Link
      href={href}
      class={`nav-link${path.startsWith(href) ? ' active' : ''}`}
      aria-current={path === href ? 'page' : undefined}
      data-testid={testid}
    >
      {label}
      {count ? (
        <span class="nav-count" data-testid={`${testid}-count`}>
          <span aria-hidden="true">{count}</span>
          <span class="sr-only">, {count} waiting</span>
        </span>
      ) : null}
    </Link>
  );

  return (
    <div class="app">
      <header class="topbar">
        <Link href="/workspaces" class="brand" aria-label="Copydesk home">
          <span class="brand-mark" aria-hidden="true">C</span>
          <span class="brand-name">Copydesk</span>
        </Link>

        <div class="ws-switcher">
          <label for="workspace-switcher" class="sr-only">
            Workspace
          </label>
          <select
            id="workspace-switcher"
            data-testid="workspace-switcher"
            value={workspaceId ?? ''}
            onChange={(e) => onSwitch((e.currentTarget as HTMLSelectElement).value)}
          >
            {!current && <option value="">{items === null ? 'Loading…' : 'Choose workspace…'}</option>}
            {(items ?? []).map((w) => (
              <option key={w.id} value={w.id}>
                {w.name}
              </option>
            ))}
            <option value="__new">+ New workspace…</option>
          </select>
          <Link href="/workspaces" class="btn btn-ghost btn-sm" data-testid="new-workspace-link">
            New workspace
          </Link>
        </div>

        {workspaceId && (
          <nav class="mainnav" aria-label="Workspace">
            {navLink(`/w/${workspaceId}/posts`, 'Posts', 'nav-posts')}
            {navLink(`/w/${workspaceId}/approvals`, 'Approvals', 'nav-approvals', inbox)}
            {can(current?.role, 'members_view') && navLink(`/w/${workspaceId}/members`, 'Members', 'nav-members')}
            {current && can(current.role, 'webhooks_manage') && navLink(`/w/${workspaceId}/webhooks`, 'Webhooks', 'nav-webhooks')}
            {current && can(current.role, 'approvals_manage') && navLink(`/w/${workspaceId}/settings/approvals`, 'Workflows', 'nav-approval-settings')}
          </nav>
        )}

        <div class="account">
          <NotificationBell />
          {user && (
            <span class="muted account-name" data-testid="current-user" title={user.email}>
              {user.name || user.email}
            </span>
          )}
          <button
            type="button"
            class="btn btn-ghost btn-sm"
            data-testid="logout"
            onClick={async () => {
              closeEvents();
              await logout();
              resetWorkspaces();
              navigate('/login');
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main class="content" id="main">
        {children}
      </main>
    </div>
  );
}
