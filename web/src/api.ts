// Typed client for the Copydesk REST API (see API-CONTRACT).
//
// Token storage: the short-lived access token lives only in memory; the
// refresh token is kept in localStorage so a reload can resume the session.
// Any authenticated request that gets a 401 triggers one refresh + retry;
// if that fails too, tokens are cleared and the app goes to /login.

// ---------------------------------------------------------------- types

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

export type Platform =
  | 'facebook'
  | 'instagram'
  | 'x'
  | 'linkedin'
  | 'tiktok'
  | 'youtube'
  | 'pinterest'
  | 'google_business'
  | 'telegram'
  | 'threads'
  | 'mastodon'
  | 'bluesky';

export type PostStatus =
  | 'draft'
  | 'in_review'
  | 'changes_requested'
  | 'approved'
  | 'scheduled'
  | 'publishing'
  | 'published'
  | 'failed'
  | 'archived';

export const POST_STATUSES: PostStatus[] = [
  'draft',
  'in_review',
  'changes_requested',
  'approved',
  'scheduled',
  'publishing',
  'published',
  'failed',
  'archived',
];

export type MediaKind = 'image' | 'video' | 'gif';

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

export interface Workspace {
  id: string;
  name: string;
  slug: string;
  role: Role;
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
  email: string;
  role: Role;
  expires_at: string;
  created_at: string;
}

export interface MembersResponse {
  members: Member[];
  invitations: Invitation[];
}

export type AddMemberResponse =
  | { status: 'added'; member: Member }
  | { status: 'invited'; invitation: Invitation };

export interface PlatformContent {
  text: string | null;
  hashtags: string[];
  mentions: string[];
  fields: Record<string, string>;
}

export interface Media {
  url: string;
  kind: MediaKind;
  alt_text?: string | null;
}

export interface PostInput {
  title: string;
  caption: string;
  platforms: Platform[];
  platform_content: Partial<Record<Platform, PlatformContent>>;
  media: Media[];
  tags: string[];
  campaign: string | null;
  labels: string[];
  status?: 'draft' | 'archived';
  scheduled_at: string | null;
  client_visible: boolean;
}

export interface Problem {
  code: string;
  field: string;
  message: string;
  limit?: number;
  actual?: number;
}

export type Validation = Partial<Record<Platform, Problem[]>>;

/** Per-platform limits; the server adds these to validate responses (beyond the contract). */
export interface PlatformRules {
  platform: Platform;
  name: string;
  max_length: number;
  max_hashtags: number | null;
  max_mentions: number | null;
  max_media: number;
  requires_media: boolean;
  required_fields: string[];
}

export interface ValidationResponse {
  validation: Validation;
  is_valid: boolean;
  rules?: Partial<Record<Platform, PlatformRules>>;
}

export interface Post extends Omit<PostInput, 'status'> {
  id: string;
  workspace_id: string;
  status: PostStatus;
  created_by: string;
  updated_by: string;
  created_at: string;
  updated_at: string;
  validation: Validation;
  is_valid: boolean;
}

export interface PostPage {
  items: Post[];
  next_cursor: string | null;
}

export type PostSort =
  | 'created_at'
  | '-created_at'
  | 'updated_at'
  | '-updated_at'
  | 'scheduled_at'
  | '-scheduled_at'
  | 'title'
  | '-title';

export interface PostFilters {
  status?: string;
  platform?: string;
  tag?: string;
  campaign?: string;
  q?: string;
  created_from?: string;
  created_to?: string;
  scheduled_from?: string;
  scheduled_to?: string;
  sort?: string;
  limit?: number;
  cursor?: string;
}

// ---------------------------------------------------------------- errors

export interface ErrorBody {
  error: {
    code: string;
    message: string;
    details?: { fields?: Record<string, string>; [k: string]: unknown };
  };
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: ErrorBody['error']['details'];
  readonly retryAfter: number | null;

  constructor(
    status: number,
    code: string,
    message: string,
    details?: ErrorBody['error']['details'],
    retryAfter: number | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }

  /** Field-level errors from `error.details.fields`, if any. */
  get fields(): Record<string, string> {
    const f = this.details?.fields;
    return f && typeof f === 'object' ? f : {};
  }
}

/** Normalise anything thrown into an ApiError (for display). */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof Error) return new ApiError(0, 'client_error', e.message);
  return new ApiError(0, 'client_error', String(e));
}

// ---------------------------------------------------------------- tokens

const REFRESH_KEY = 'copydesk.refresh_token';

let accessToken: string | null = null;
/** When the access token stops being accepted (ms since epoch), from `expires_in`. */
let accessExpiresAt = 0;
let refreshInFlight: Promise<boolean> | null = null;
type AuthListener = (user: User | null) => void;
const authListeners = new Set<AuthListener>();
let currentUser: User | null = null;

function readRefresh(): string | null {
  try {
    return localStorage.getItem(REFRESH_KEY);
  } catch {
    return null;
  }
}

function writeRefresh(token: string | null): void {
  try {
    if (token) localStorage.setItem(REFRESH_KEY, token);
    else localStorage.removeItem(REFRESH_KEY);
  } catch {
    /* storage unavailable: session lasts until reload */
  }
}

/** True when we hold a token that may let us act as a signed-in user. */
export function hasSession(): boolean {
  return accessToken !== null || readRefresh() !== null;
}

export function getCurrentUser(): User | null {
  return currentUser;
}

export function setCurrentUser(user: User | null): void {
  currentUser = user;
  for (const l of authListeners) l(user);
}

export function onAuthChange(listener: AuthListener): () => void {
  authListeners.add(listener);
  return () => authListeners.delete(listener);
}

/** Store the tokens of a successful sign-in / verify / refresh. */
export function applyAuth(res: AuthResponse): void {
  accessToken = res.access_token;
  accessExpiresAt = Date.now() + Math.max(0, Number(res.expires_in) || 0) * 1000;
  writeRefresh(res.refresh_token);
  setCurrentUser(res.user);
}

export function clearSession(): void {
  accessToken = null;
  accessExpiresAt = 0;
  writeRefresh(null);
  setCurrentUser(null);
}

/** Called when the session cannot be recovered. Set by the app (router). */
let onSessionExpired: () => void = () => {
  const next = location.pathname + location.search;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
};

export function setSessionExpiredHandler(fn: () => void): void {
  onSessionExpired = fn;
}

async function doRefresh(): Promise<boolean> {
  const rt = readRefresh();
  if (!rt) return false;
  try {
    const res = await fetch('/api/auth/refresh', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ refresh_token: rt }),
    });
    if (!res.ok) {
      // Only drop the refresh token when the server rejected it.
      if (res.status === 401 || res.status === 400) writeRefresh(null);
      return false;
    }
    applyAuth((await res.json()) as AuthResponse);
    return true;
  } catch {
    return false;
  }
}

/** Refresh the access token; concurrent callers share one request. */
export function refreshSession(): Promise<boolean> {
  if (!refreshInFlight) {
    refreshInFlight = doRefresh().finally(() => {
      refreshInFlight = null;
    });
  }
  return refreshInFlight;
}

/**
 * An access token for a WebSocket (`?token=`): the current one while it stays valid for at
 * least `minValidSecs` more, else a fresh one (`force` always refreshes). Null when the
 * session cannot be recovered.
 */
export async function freshAccessToken(minValidSecs = 30, force = false): Promise<string | null> {
  if (!force && accessToken && accessExpiresAt - Date.now() > minValidSecs * 1000) return accessToken;
  if (await refreshSession()) return accessToken;
  // A refresh that failed for a network reason leaves the old token in place.
  return readRefresh() ? accessToken : null;
}

/** ws:// or wss:// origin of this page, for the API's WebSocket endpoints. */
export function wsOrigin(): string {
  return location.origin.replace(/^http/, 'ws');
}

/** Called when a WebSocket finds the session gone for good: back to sign-in. */
export function sessionLost(): void {
  clearSession();
  onSessionExpired();
}

// ---------------------------------------------------------------- core

interface RequestOptions {
  method?: string;
  body?: unknown;
  query?: Record<string, string | number | undefined | null>;
  /** Send the bearer token and handle 401 by refreshing (default true). */
  auth?: boolean;
}

function buildUrl(path: string, query?: RequestOptions['query']): string {
  if (!query) return path;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    qs.set(k, String(v));
  }
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

async function parseError(res: Response): Promise<ApiError> {
  const ra = res.headers.get('Retry-After');
  const retryAfter = ra && /^\d+$/.test(ra) ? Number(ra) : null;
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  const err = (body as ErrorBody | null)?.error;
  if (err && typeof err.message === 'string') {
    return new ApiError(res.status, err.code ?? 'error', err.message, err.details, retryAfter);
  }
  return new ApiError(
    res.status,
    'http_error',
    `Request failed (${res.status} ${res.statusText || 'error'})`,
    undefined,
    retryAfter,
  );
}

async function send(url: string, opts: RequestOptions, withAuth: boolean): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (withAuth && accessToken) headers['Authorization'] = `Bearer ${accessToken}`;
  try {
    return await fetch(url, {
      method: opts.method ?? 'GET',
      headers,
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
    });
  } catch {
    throw new ApiError(0, 'network_error', 'Could not reach the server. Check your connection.');
  }
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const url = buildUrl(path, opts.query);
  const withAuth = opts.auth !== false;

  if (withAuth && !accessToken && readRefresh()) await refreshSession();

  let res = await send(url, opts, withAuth);
  if (res.status === 401 && withAuth) {
    const refreshed = await refreshSession();
    if (refreshed) res = await send(url, opts, withAuth);
    if (!refreshed || res.status === 401) {
      const err = await parseError(res);
      clearSession();
      onSessionExpired();
      throw err;
    }
  }
  if (!res.ok) throw await parseError(res);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

// ---------------------------------------------------------------- auth

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

// ---------------------------------------------------------------- users

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

// ---------------------------------------------------------------- workspaces

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

// ---------------------------------------------------------------- posts

export function listPosts(workspaceId: string, filters: PostFilters = {}): Promise<PostPage> {
  return request(`${ws(workspaceId)}/posts`, { query: { ...filters } });
}

export function createPost(workspaceId: string, input: PostInput): Promise<Post> {
  return request(`${ws(workspaceId)}/posts`, { method: 'POST', body: input });
}

export function validatePost(workspaceId: string, input: PostInput): Promise<ValidationResponse> {
  return request(`${ws(workspaceId)}/posts/validate`, { method: 'POST', body: input });
}

export function getPost(id: string): Promise<Post> {
  return request(`/api/posts/${encodeURIComponent(id)}`);
}

export function updatePost(id: string, input: Partial<PostInput>): Promise<Post> {
  return request(`/api/posts/${encodeURIComponent(id)}`, { method: 'PUT', body: input });
}

export function deletePost(id: string): Promise<void> {
  return request(`/api/posts/${encodeURIComponent(id)}`, { method: 'DELETE' });
}

export function duplicatePost(id: string): Promise<Post> {
  return request(`/api/posts/${encodeURIComponent(id)}/duplicate`, { method: 'POST' });
}

// ---------------------------------------------------------------- comments

export type CommentVisibility = 'internal' | 'client';

/** A range of a post's live document: `start`/`end` are base64 Yjs relative positions. */
export interface CommentAnchor {
  field: string; // "caption" | "content:<platform>" | "title"
  start: string;
  end: string;
  quote: string;
}

export interface Reaction {
  emoji: string;
  count: number;
  user_ids: string[];
}

export interface UserRef {
  id: string;
  name: string;
}

export interface Comment {
  id: string;
  post_id: string;
  workspace_id: string;
  parent_id: string | null;
  author: UserRef | null;
  body: string;
  visibility: CommentVisibility;
  anchor: CommentAnchor | null;
  mentions: string[];
  reactions: Reaction[];
  resolved_at: string | null;
  resolved_by: UserRef | string | null;
  edited_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface NewComment {
  body: string;
  parent_id?: string;
  visibility?: CommentVisibility;
  mentions?: string[];
  anchor?: CommentAnchor;
}

const postPath = (id: string) => `/api/posts/${encodeURIComponent(id)}`;
const commentPath = (id: string) => `/api/comments/${encodeURIComponent(id)}`;

export async function listComments(postId: string): Promise<Comment[]> {
  const res = await request<{ items: Comment[] }>(`${postPath(postId)}/comments`);
  return res?.items ?? [];
}

export function createComment(postId: string, input: NewComment): Promise<Comment> {
  return request(`${postPath(postId)}/comments`, { method: 'POST', body: input });
}

export function editComment(id: string, body: string, mentions?: string[]): Promise<Comment> {
  return request(commentPath(id), { method: 'PUT', body: mentions ? { body, mentions } : { body } });
}

export function deleteComment(id: string): Promise<void> {
  return request(commentPath(id), { method: 'DELETE' });
}

/** Resolve or reopen; answers the comment (or nothing, then the caller refetches). */
export function setCommentResolved(id: string, resolved: boolean): Promise<Comment | undefined> {
  return request(`${commentPath(id)}/${resolved ? 'resolve' : 'reopen'}`, { method: 'POST' });
}

export function setReaction(id: string, emoji: string, on: boolean): Promise<Comment | undefined> {
  return request(`${commentPath(id)}/reactions/${encodeURIComponent(emoji)}`, { method: on ? 'PUT' : 'DELETE' });
}

// ---------------------------------------------------------------- versions

export type VersionKind = 'auto' | 'named' | 'submit' | 'approve' | 'publish' | 'restore';

export interface Version {
  id: string;
  post_id: string;
  name: string | null;
  kind: VersionKind;
  created_by: UserRef | null;
  created_at: string;
}

export interface VersionContent {
  title: string;
  caption: string;
  platform_content: Record<string, string>;
}

export interface VersionDetail extends Version {
  content: VersionContent;
}

export interface DiffChange {
  op: 'equal' | 'insert' | 'delete';
  text: string;
}

export interface FieldDiff {
  field: string;
  before: string;
  after: string;
  changes: DiffChange[];
}

export async function listVersions(postId: string): Promise<Version[]> {
  const res = await request<{ items: Version[] }>(`${postPath(postId)}/versions`);
  return res?.items ?? [];
}

export function createVersion(postId: string, name: string): Promise<Version> {
  return request(`${postPath(postId)}/versions`, { method: 'POST', body: { name } });
}

export function getVersion(postId: string, versionId: string): Promise<VersionDetail> {
  return request(`${postPath(postId)}/versions/${encodeURIComponent(versionId)}`);
}

export async function getVersionDiff(postId: string, versionId: string): Promise<FieldDiff[]> {
  const res = await request<{ fields: FieldDiff[] }>(`${postPath(postId)}/versions/${encodeURIComponent(versionId)}/diff`);
  return res?.fields ?? [];
}

export function restoreVersion(postId: string, versionId: string): Promise<Post> {
  return request(`${postPath(postId)}/versions/${encodeURIComponent(versionId)}/restore`, { method: 'POST' });
}

// ---------------------------------------------------------------- events

/** One message of the `/api/events` stream. */
export interface DomainEvent {
  type: string;
  workspace_id: string;
  data: Record<string, unknown>;
  id: string | number;
  actor_id?: string | null;
  at: string;
}
