// The composer's sidebar: the approval card, then comments and (for the team) version history.
import type { Post, Role, User } from '../../api';
import type { CollabConnection } from '../../collab/connection';
import { CommentsPanel } from '../../components/CommentsPanel';
import { HistoryPanel } from '../../components/HistoryPanel';
import { ApprovalPanel } from './ApprovalPanel';
import type { PostComments } from './usePostComments';

export type SideTab = 'comments' | 'history';

interface Props {
  workspaceId: string;
  /** The saved post (null while loading). */
  post: Post | null;
  approvalMode: string | undefined;
  onPostChanged: () => void;
  postId: string;
  me: User | null;
  role: Role | undefined;
  sideTab: SideTab;
  setSideTab: (t: SideTab) => void;
  openComments: number;
  eventsConnected: boolean;
  c: PostComments;
  /** The live document once synced (anchors are made and resolved against it), else null. */
  conn: CollabConnection | null;
  activateComment: (id: string | null) => void;
  composerRef: { current: HTMLTextAreaElement | null };
  readOnly: boolean;
  historyKey: number;
  bumpHistory: () => void;
}

export function SidePanel({
  workspaceId,
  post,
  approvalMode,
  onPostChanged,
  postId,
  me,
  role,
  sideTab,
  setSideTab,
  openComments,
  eventsConnected,
  c,
  conn,
  activateComment,
  composerRef,
  readOnly,
  historyKey,
  bumpHistory,
}: Props) {
  return (
    <aside class="composer-side card" aria-label="Approval, comments and history">
      {post && (
        <ApprovalPanel workspaceId={workspaceId} post={post} me={me} role={role} approvalMode={approvalMode} onChanged={onPostChanged} />
      )}
      <div class="side-tabs" role="tablist">
        <button type="button" role="tab" aria-selected={sideTab === 'comments'} class={sideTab === 'comments' ? 'active' : ''} onClick={() => setSideTab('comments')} data-testid="side-tab-comments">
          Comments{openComments ? ` (${openComments})` : ''}
        </button>
        {role !== 'client' && (
          <button type="button" role="tab" aria-selected={sideTab === 'history'} class={sideTab === 'history' ? 'active' : ''} onClick={() => setSideTab('history')} data-testid="side-tab-history">
            History
          </button>
        )}
        <span class={`events-dot${eventsConnected ? ' on' : ''}`} title={eventsConnected ? 'Live updates on' : 'Live updates reconnecting'} data-testid="events-status" data-connected={eventsConnected ? 'true' : 'false'} />
      </div>
      {sideTab === 'comments' && me ? (
        <CommentsPanel
          postId={postId}
          comments={c.comments}
          loadError={c.commentsError}
          people={c.members}
          me={me}
          role={role}
          conn={conn}
          pending={c.pending}
          onClearPending={() => c.setPending(null)}
          activeId={c.activeComment}
          onActivate={activateComment}
          upsert={c.upsertComment}
          remove={c.removeComment}
          reload={c.reloadComments}
          composerRef={composerRef}
        />
      ) : (
        <HistoryPanel postId={postId} canEdit={!readOnly} refreshKey={historyKey} onRestored={bumpHistory} />
      )}
    </aside>
  );
}
