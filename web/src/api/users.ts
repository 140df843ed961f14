// The signed-in user: profile, their workspaces, accepting an invitation.
import type { User } from './auth';
import { request } from './client';
import { applyAccessToken, setCurrentUser } from './tokens';
import type { Workspace } from './workspaces';

export async function getProfile(): Promise<User> {
  const u = await request<User>('/api/users/profile');
  setCurrentUser(u);
  return u;
}

/** The answer to a profile update: a password change also brings this session's new access token. */
export type ProfileUpdate = User & { access_token?: string; expires_in?: number };

/**
 * Change the name and/or the password (`current_password` + `new_password`). A password
 * change ends every other session and voids the access tokens issued before it; the answer
 * carries a fresh access token for this one, which is stored (and shared with other tabs).
 */
export async function updateProfile(input: {
  name?: string;
  current_password?: string;
  new_password?: string;
}): Promise<User> {
  const res = await request<ProfileUpdate>('/api/users/profile', { method: 'PUT', body: input });
  const { access_token, expires_in, ...user } = res;
  if (typeof access_token === 'string' && access_token) applyAccessToken(access_token, Number(expires_in) || 0);
  setCurrentUser(user);
  return user;
}

export function listMyWorkspaces(): Promise<Workspace[]> {
  return request('/api/users/workspaces');
}

export function acceptInvitation(token: string): Promise<Workspace> {
  return request('/api/invitations/accept', { method: 'POST', body: { token } });
}
