// The event stream as the post page uses it: comment events update the sidebar, version
// events refresh the history, settings changed by someone else are refetched.
import type { Comment, User } from '../../api';
import { useEvents } from '../../collab/useLive';
import type { PostComments } from './usePostComments';

interface Options {
  enabled: boolean;
  postId: string | undefined;
  me: User | null;
  comments: PostComments;
  refreshSettings: () => void;
  bumpHistory: () => void;
}

/** True while the event stream is connected. */
export function usePostEvents({ enabled, postId, me, comments, refreshSettings, bumpHistory }: Options): boolean {
  const { removeComment, upsertComment, reloadComments } = comments;
  return useEvents(
    enabled,
    (ev) => {
      const data = ev.data ?? {};
      if (ev.type.startsWith('comment.')) {
        const c = data.comment as Comment | undefined;
        if (c && c.post_id !== postId) return;
        if (!c && (data.post_id !== postId || ev.type === 'comment.mentioned')) return;
        if (ev.type === 'comment.deleted') removeComment(String(c?.id ?? data.comment_id ?? data.id ?? ''));
        else if (c && c.id) upsertComment(c);
        else reloadComments();
        return;
      }
      if (data.post_id !== postId && (data.post as { id?: string } | undefined)?.id !== postId) return;
      // post.version_saved, post.version_restored, …
      if (ev.type.includes('version')) bumpHistory();
      if (ev.type === 'post.updated' || ev.type === 'post.status_changed') {
        if (ev.actor_id !== me?.id || ev.type === 'post.status_changed') refreshSettings();
        bumpHistory();
      }
    },
    () => {
      // Back after a gap: the server replays from the last event, but refetch to be sure.
      reloadComments();
      bumpHistory();
    },
  );
}
