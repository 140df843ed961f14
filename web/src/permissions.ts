// What the UI offers per role; mirrors the server's permission table (the server
// enforces it — this only hides controls that would be refused).
import type { Role } from './api';
import { getCurrentUser } from './api';

const ADMINS: Role[] = ['super_admin', 'workspace_admin'];
const MANAGERS: Role[] = [...ADMINS, 'content_manager'];
const EDITORS: Role[] = [...MANAGERS, 'content_creator'];
const TEAM: Role[] = [...EDITORS, 'reviewer'];

export type Action =
  | 'members_view'
  | 'members_manage'
  | 'post_create'
  | 'post_edit'
  | 'post_delete'
  | 'webhooks_manage'
  | 'approvals_manage'
  | 'share_links';

const ALLOWED: Record<Action, Role[]> = {
  members_view: TEAM,
  members_manage: ADMINS,
  post_create: EDITORS,
  post_edit: EDITORS,
  post_delete: MANAGERS,
  webhooks_manage: ADMINS,
  approvals_manage: MANAGERS,
  share_links: EDITORS,
};

/** Whether the signed-in user may do `action` with workspace role `role` (unknown role: allow). */
export function can(role: Role | undefined, action: Action): boolean {
  if (getCurrentUser()?.is_super_admin) return true;
  if (!role) return true;
  return ALLOWED[action].includes(role);
}
