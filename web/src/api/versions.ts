// Version history of a post: list, save, read, diff against now, restore.
import { request } from './client';
import type { UserRef } from './comments';
import type { Post } from './posts';

const postPath = (id: string) => `/api/posts/${encodeURIComponent(id)}`;

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
