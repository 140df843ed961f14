// Workspaces, members, roles and invitations.
import { request } from './client';

export type Role =
  | 'super_admin'
  | 'workspace_admin'
  | 'content_manager'
  | 'content_creator'
  | 'reviewer'
  | 'client';

export const WORKSPACE_ROLES: Role[] = [
  'workspace_admin',
  'content_manager',
  'content_creator',
  'reviewer',
  'client',
];

export interface Workspace {
  id: string;
  name: string;
  slug: string;
  role: Role;
  /** Issue #9: how approvals work in this workspace (default `optional`). */
  approval_mode?: 'none' | 'optional' | 'required' | 'multi_level';
  created_at: string;
  updated_at: string;
}

export interface Member {
  user_id: string;
  email: string;
  name: string;
  role: Role;
  joined_at: string;
}

export interface Invitation {
  id: string;
  /** The invitee's address: only workspace admins get it. */
  email?: string | null;
  role: Role;
  expires_at: string;
  created_at: string;
}

export interface MembersResponse {
  members: Member[];
  /** Pending invitations (may be missing for members who may not see them). */
  invitations?: Invitation[];
}

/**
 * Adding a member always sends an invitation (whether or not the address has an account,
 * which the answer never tells); the person joins when they accept it.
 */
export interface AddMemberResponse {
  status: 'invited';
  invitation: Invitation;
}

const ws = (id: string) => `/api/workspaces/${encodeURIComponent(id)}`;

export function listWorkspaces(): Promise<Workspace[]> {
  return request('/api/workspaces');
}

export function createWorkspace(input: { name: string; slug?: string }): Promise<Workspace> {
  return request('/api/workspaces', { method: 'POST', body: input });
}

export function getWorkspace(id: string): Promise<Workspace> {
  return request(ws(id));
}

export function updateWorkspace(id: string, input: { name?: string; slug?: string }): Promise<Workspace> {
  return request(ws(id), { method: 'PUT', body: input });
}

export function deleteWorkspace(id: string): Promise<void> {
  return request(ws(id), { method: 'DELETE' });
}

export function listMembers(workspaceId: string): Promise<MembersResponse> {
  return request(`${ws(workspaceId)}/members`);
}

/** Invite `email` with `role` (201 `invited`; 429 with Retry-After when throttled). */
export function addMember(workspaceId: string, input: { email: string; role: Role }): Promise<AddMemberResponse> {
  return request(`${ws(workspaceId)}/members`, { method: 'POST', body: input });
}

export function updateMemberRole(workspaceId: string, userId: string, role: Role): Promise<Member> {
  return request(`${ws(workspaceId)}/members/${encodeURIComponent(userId)}`, {
    method: 'PUT',
    body: { role },
  });
}

export function removeMember(workspaceId: string, userId: string): Promise<void> {
  return request(`${ws(workspaceId)}/members/${encodeURIComponent(userId)}`, { method: 'DELETE' });
}

export function revokeInvitation(workspaceId: string, invitationId: string): Promise<void> {
  return request(`${ws(workspaceId)}/invitations/${encodeURIComponent(invitationId)}`, {
    method: 'DELETE',
  });
}
