// Comments on a post: threads, anchors in the live document, reactions, resolve.
import { request } from './client';

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
