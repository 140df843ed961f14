// Approvals (issue #9): the workspace's approval mode, workflows, a post's approval rounds
// and decisions, the approver's inbox, share links and the public client review API.
import { request } from './client';
import type { Media, Platform, PlatformContent, PostStatus } from './posts';
import type { Role } from './workspaces';

export type ApprovalMode = 'none' | 'optional' | 'required' | 'multi_level';
export const APPROVAL_MODES: ApprovalMode[] = ['none', 'optional', 'required', 'multi_level'];

export type DeadlineAction = 'remind' | 'reassign' | 'auto_approve' | 'escalate';
export const DEADLINE_ACTIONS: DeadlineAction[] = ['remind', 'reassign', 'auto_approve', 'escalate'];

export interface WorkflowStep {
  name: string;
  /** 1.. ; steps with the same order run in parallel. */
  order: number;
  approvers: { user_ids: string[]; roles: Role[] };
  /** null: every approver; n: any n of them. */
  required: number | null;
  /** The step passes at once when the submitter is one of its approvers. */
  auto_approve: boolean;
  deadline_hours: number | null;
  on_deadline: DeadlineAction;
  backup_user_id: string | null;
}

export interface WorkflowConditions {
  platforms: Platform[];
  tags: string[];
  campaign: string | null;
}

export interface WorkflowInput {
  name: string;
  is_default: boolean;
  conditions: WorkflowConditions;
  steps: WorkflowStep[];
}

export interface Workflow extends WorkflowInput {
  id: string;
  workspace_id: string;
  created_at: string;
  updated_at: string;
}

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'changes_requested' | 'withdrawn' | 'voided';
export type StepStatus = 'waiting' | 'active' | 'approved' | 'rejected' | 'changes_requested' | 'skipped';
export type Decision = 'approve' | 'reject' | 'request_changes';

export interface PersonRef {
  user_id: string;
  name: string;
  share_link_id?: string | null;
}

/** Who acted: a member (user_id) or a client through a share link (share_link_id). */
export interface Actor {
  user_id: string | null;
  name: string;
  share_link_id: string | null;
}

export interface StepDecision {
  decision: Decision | 'withdraw' | string;
  comment: string | null;
  by: Actor;
  at: string;
}

export interface ApprovalStep {
  id: string;
  name: string;
  order: number;
  status: StepStatus;
  /** null: all approvers. */
  required: number | null;
  /** Approvals so far. */
  approvals: number;
  approvers: PersonRef[];
  roles: string[];
  deadline_at: string | null;
  on_deadline?: DeadlineAction | string;
  waiting_on: PersonRef[];
  decisions: StepDecision[];
}

export interface Approval {
  id: string;
  post_id: string;
  round: number;
  status: ApprovalStatus;
  workflow: { id: string | null; name: string };
  content_hash: string;
  version_id: string | null;
  /** null when the submitter's account is gone. */
  submitted_by: PersonRef | null;
  /** The comment given when submitting. */
  submit_comment?: string | null;
  submitted_at: string;
  decided_at: string | null;
  current_order: number | null;
  steps: ApprovalStep[];
  approved_version_id?: string | null;
}

export interface InboxItem {
  post: { id: string; title: string; status: PostStatus };
  approval: Approval;
}

export interface ShareLink {
  id: string;
  label: string | null;
  post_ids: string[];
  permissions: SharePermission[];
  expires_at: string | null;
  revoked_at: string | null;
  /** The creator's user id. */
  created_by: string | PersonRef | null;
  created_at: string;
  url: string;
  token?: string;
}

export type SharePermission = 'view' | 'comment' | 'approve';

const ws = (id: string) => `/api/workspaces/${encodeURIComponent(id)}`;
const post = (id: string) => `/api/posts/${encodeURIComponent(id)}`;

// ---------------------------------------------------------------- mode

/** Set the workspace's approval mode (`PUT /api/workspaces/{id}` with `approval_mode`). */
export function setApprovalMode(workspaceId: string, approval_mode: ApprovalMode): Promise<{ approval_mode?: ApprovalMode }> {
  return request(ws(workspaceId), { method: 'PUT', body: { approval_mode } });
}

// ---------------------------------------------------------------- workflows

export async function listWorkflows(workspaceId: string): Promise<Workflow[]> {
  const res = await request<{ workflows: Workflow[] }>(`${ws(workspaceId)}/approval-workflows`);
  return res?.workflows ?? [];
}

export function createWorkflow(workspaceId: string, input: WorkflowInput): Promise<Workflow> {
  return request(`${ws(workspaceId)}/approval-workflows`, { method: 'POST', body: input });
}

export function updateWorkflow(id: string, input: WorkflowInput): Promise<Workflow> {
  return request(`/api/approval-workflows/${encodeURIComponent(id)}`, { method: 'PUT', body: input });
}

export function deleteWorkflow(id: string): Promise<void> {
  return request(`/api/approval-workflows/${encodeURIComponent(id)}`, { method: 'DELETE' });
}

// ---------------------------------------------------------------- a post's approval

export function submitForApproval(postId: string, input: { comment?: string; workflow_id?: string }): Promise<Approval> {
  return request(`${post(postId)}/submit`, { method: 'POST', body: input });
}

export type ApprovalAction = 'approve' | 'reject' | 'request-changes' | 'withdraw';

export function decideApproval(postId: string, action: ApprovalAction, comment?: string): Promise<Approval> {
  return request(`${post(postId)}/${action}`, { method: 'POST', body: comment ? { comment } : {} });
}

/** The current (latest) round, or null when the post was never submitted (404). */
export async function getApproval(postId: string): Promise<Approval | null> {
  try {
    return await request<Approval>(`${post(postId)}/approval`);
  } catch (e) {
    if ((e as { status?: number }).status === 404) return null;
    throw e;
  }
}

export async function listApprovalRounds(postId: string): Promise<Approval[]> {
  const res = await request<{ rounds: Approval[] }>(`${post(postId)}/approvals`);
  return res?.rounds ?? [];
}

export async function approvalInbox(workspaceId: string): Promise<InboxItem[]> {
  const res = await request<{ items: InboxItem[] }>(`${ws(workspaceId)}/approvals/inbox`);
  return res?.items ?? [];
}

// ---------------------------------------------------------------- share links

export function createShareLink(
  workspaceId: string,
  input: { post_ids: string[]; permissions: SharePermission[]; expires_in_hours?: number; label?: string },
): Promise<ShareLink> {
  return request(`${ws(workspaceId)}/share-links`, { method: 'POST', body: input });
}

export async function listShareLinks(workspaceId: string): Promise<ShareLink[]> {
  const res = await request<{ share_links: ShareLink[] }>(`${ws(workspaceId)}/share-links`);
  return res?.share_links ?? [];
}

export function revokeShareLink(id: string): Promise<void> {
  return request(`/api/share-links/${encodeURIComponent(id)}`, { method: 'DELETE' });
}

/** The link's absolute URL (the server's `url`, made absolute; else `/review/<token>`). */
export function shareLinkUrl(l: Pick<ShareLink, 'url' | 'token'>): string {
  const u = l.url || (l.token ? `/review/${encodeURIComponent(l.token)}` : '');
  try {
    return new URL(u, window.location.origin).toString();
  } catch {
    return u;
  }
}

// ---------------------------------------------------------------- public review (no account)

export interface ReviewPreview {
  platform: Platform;
  /** The platform's display name. */
  name?: string;
  text: string;
  char_count: number;
  limit: number;
}

export interface ReviewComment {
  id: string;
  body: string;
  created_at: string;
  /** The author's name (the server's shape); an object is accepted too. */
  author?: string | { id?: string | null; name: string } | null;
  author_name?: string | null;
  name?: string | null;
}

export interface ReviewPost {
  id: string;
  title: string;
  status: PostStatus;
  caption: string;
  platforms: Platform[];
  platform_content: Partial<Record<Platform, PlatformContent>>;
  media: Media[];
  previews: ReviewPreview[];
  approval: Approval | null;
  comments: ReviewComment[];
}

export interface ReviewData {
  link: { permissions: SharePermission[]; expires_at: string | null; label: string | null; workspace_name: string };
  posts: ReviewPost[];
}

const review = (token: string) => `/api/review/${encodeURIComponent(token)}`;

export function getReview(token: string): Promise<ReviewData> {
  return request(review(token), { auth: false });
}

export function reviewComment(token: string, postId: string, name: string, body: string): Promise<ReviewComment> {
  return request(`${review(token)}/posts/${encodeURIComponent(postId)}/comments`, { method: 'POST', body: { name, body }, auth: false });
}

export function reviewDecide(token: string, postId: string, action: Exclude<ApprovalAction, 'withdraw'>, name: string, comment?: string): Promise<Approval> {
  return request(`${review(token)}/posts/${encodeURIComponent(postId)}/${action}`, {
    method: 'POST',
    body: comment ? { name, comment } : { name },
    auth: false,
  });
}

// ---------------------------------------------------------------- events

/** The payload of `approval.*` events. */
export interface ApprovalEvent {
  post_id: string;
  title: string;
  request_id: string;
  client_visible: boolean;
  status: PostStatus;
  step: { id: string; name: string; order: number } | null;
  decision: Decision | null;
  comment: string | null;
  by: Actor | null;
  action: DeadlineAction | null;
  deadline_at: string | null;
  recipients: string[];
}
