// The signed-in user: profile, their workspaces, accepting an invitation.
import type { User } from './auth';
import { request } from './client';
import { setCurrentUser } from './tokens';
import type { Workspace } from './workspaces';

export async function getProfile(): Promise<User> {
  const u = await request<User>('/api/users/profile');
  setCurrentUser(u);
  return u;
}

export async function updateProfile(input: {
  name?: string;
  current_password?: string;
  new_password?: string;
}): Promise<User> {
  const u = await request<User>('/api/users/profile', { method: 'PUT', body: input });
  setCurrentUser(u);
  return u;
}

export function listMyWorkspaces(): Promise<Workspace[]> {
  return request('/api/users/workspaces');
}

export function acceptInvitation(token: string): Promise<Workspace> {
  return request('/api/invitations/accept', { method: 'POST', body: { token } });
}
