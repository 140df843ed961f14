// Accounts and sessions: sign-up, sign-in, email verification, password reset, sign-out.
import { request } from './client';
import { applyAuth, clearSession, currentAccessToken } from './tokens';

export interface User {
  id: string;
  email: string;
  name: string;
  is_super_admin: boolean;
  email_verified: boolean;
  created_at: string;
  updated_at: string;
}

export interface AuthResponse {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
  user: User;
}

export interface MessageResponse {
  message: string;
}

export type RegisterResult =
  | { kind: 'check_email'; message: string }
  | { kind: 'signed_in'; auth: AuthResponse };

export async function register(input: {
  email: string;
  password: string;
  name: string;
  invitation_token?: string;
}): Promise<RegisterResult> {
  const body = await request<AuthResponse | MessageResponse>('/api/auth/register', {
    method: 'POST',
    body: input,
    auth: false,
  });
  if (body && 'access_token' in body) {
    applyAuth(body);
    return { kind: 'signed_in', auth: body };
  }
  return { kind: 'check_email', message: (body as MessageResponse)?.message ?? '' };
}

export async function login(input: {
  email: string;
  password: string;
  invitation_token?: string;
}): Promise<AuthResponse> {
  const res = await request<AuthResponse>('/api/auth/login', {
    method: 'POST',
    body: input,
    auth: false,
  });
  applyAuth(res);
  return res;
}

export async function verifyEmail(token: string, password: string): Promise<AuthResponse> {
  const res = await request<AuthResponse>('/api/auth/verify-email', {
    method: 'POST',
    body: { token, password },
    auth: false,
  });
  applyAuth(res);
  return res;
}

export async function logout(): Promise<void> {
  try {
    const accessToken = currentAccessToken();
    if (accessToken) {
      await fetch('/api/auth/logout', {
        method: 'POST',
        headers: { Authorization: `Bearer ${accessToken}` },
      });
    }
  } catch {
    /* best effort */
  } finally {
    clearSession();
  }
}

export function forgotPassword(email: string): Promise<MessageResponse> {
  return request('/api/auth/forgot-password', { method: 'POST', body: { email }, auth: false });
}

export function resetPassword(token: string, password: string): Promise<void> {
  return request('/api/auth/reset-password', {
    method: 'POST',
    body: { token, password },
    auth: false,
  });
}

// ---------------------------------------------------------------- first super admin

/** Whether the instance still needs its first super admin (`GET /api/setup`). */
export async function getSetupStatus(): Promise<{ needed: boolean }> {
  const res = await request<{ needed?: unknown }>('/api/setup', { auth: false });
  return { needed: res?.needed === true };
}

/**
 * Create the first super admin with the one-time token from the server log; signs in.
 * A wrong or used token answers 404 `not_found`.
 */
export async function completeSetup(input: { token: string; email: string; password: string; name: string }): Promise<AuthResponse> {
  const res = await request<AuthResponse>('/api/setup', { method: 'POST', body: input, auth: false });
  applyAuth(res);
  return res;
}

// ---------------------------------------------------------------- socket tickets

export interface WsTicket {
  ticket: string;
  expires_in: number;
}

/**
 * A single-use ticket (valid ~30 s) to open one WebSocket (`?ticket=`). The socket's access
 * lasts until the access token used here expires, unless renewed in band.
 */
export function wsTicket(): Promise<WsTicket> {
  return request<WsTicket>('/api/auth/ws-ticket', { method: 'POST' });
}
