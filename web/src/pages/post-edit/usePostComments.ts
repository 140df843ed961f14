// The comments of a post (kept current by the page's event handler), the people who can be
// @mentioned, and the selection being commented on / the thread in focus.
import { useEffect, useState } from 'preact/hooks';
import { listComments, listMembers, toApiError, type Comment, type CommentAnchor, type Role } from '../../api';
import type { Mentionable } from '../../components/MentionInput';

export interface PostComments {
  comments: Comment[] | null;
  commentsError: string | null;
  members: Mentionable[];
  pending: CommentAnchor | null;
  setPending: (a: CommentAnchor | null) => void;
  activeComment: string | null;
  setActiveComment: (id: string | null | ((cur: string | null) => string | null)) => void;
  reloadComments: () => void;
  upsertComment: (c: Comment) => void;
  removeComment: (id: string) => void;
}

export function usePostComments(workspaceId: string, postId: string | undefined, role: Role | undefined): PostComments {
  const isNew = !postId;
  const [comments, setComments] = useState<Comment[] | null>(null);
  const [commentsError, setCommentsError] = useState<string | null>(null);
  const [members, setMembers] = useState<Mentionable[]>([]);
  const [pending, setPending] = useState<CommentAnchor | null>(null);
  const [activeComment, setActiveComment] = useState<string | null>(null);

  const reloadComments = () => {
    if (!postId) return;
    listComments(postId)
      .then((items) => {
        setComments(items);
        setCommentsError(null);
      })
      .catch((e) => setCommentsError(toApiError(e).message));
  };
  useEffect(() => {
    setComments(null);
    setPending(null);
    setActiveComment(null);
    if (postId) reloadComments();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [postId]);

  useEffect(() => {
    if (isNew) return;
    let cancelled = false;
    listMembers(workspaceId)
      .then((r) => !cancelled && setMembers(r.members.map((m) => ({ id: m.user_id, name: m.name || m.email, email: m.email }))))
      .catch(() => !cancelled && setMembers([])); // e.g. clients may not list members: no picker
    return () => {
      cancelled = true;
    };
  }, [workspaceId, isNew]);

  const upsertComment = (c: Comment) => {
    if (role === 'client' && c.visibility !== 'client') return;
    setComments((list) => {
      const l = list ?? [];
      return l.some((x) => x.id === c.id) ? l.map((x) => (x.id === c.id ? c : x)) : [...l, c];
    });
  };
  const removeComment = (id: string) => {
    setComments((list) => list?.filter((x) => x.id !== id && x.parent_id !== id) ?? list);
    setActiveComment((a) => (a === id ? null : a));
  };

  return { comments, commentsError, members, pending, setPending, activeComment, setActiveComment, reloadComments, upsertComment, removeComment };
}
