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

export async function verifyEmail(token: string): Promise<AuthResponse> {
  const res = await request<AuthResponse>('/api/auth/verify-email', {
    method: 'POST',
    body: { token },
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
