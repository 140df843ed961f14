// Posts: the post model, per-platform validation, listing with filters, CRUD.
import { request } from './client';

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

const ws = (id: string) => `/api/workspaces/${encodeURIComponent(id)}`;

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
