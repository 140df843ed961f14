// Who is here: one avatar per user with the post open (from Yjs awareness).
import type { CollabState, PresenceUser } from '../collab/connection';
import { initials } from '../collab/colors';

const STATUS_TEXT: Record<CollabState['status'], string> = {
  connecting: 'Connecting…',
  connected: 'Syncing…',
  synced: 'Live',
  offline: 'Offline — reconnecting',
  closed: 'Disconnected',
};

export function PresenceBar({ users, state }: { users: PresenceUser[]; state: CollabState }) {
  return (
    <div class="presence" data-testid="presence">
      <span class={`live-dot status-${state.status}`} data-testid="collab-status" data-status={state.status} title={state.closedReason ?? STATUS_TEXT[state.status]}>
        {STATUS_TEXT[state.status]}
      </span>
      <ul class="avatars" aria-label="People here">
        {users.map((u) => (
          <li key={u.id} class="avatar" style={{ background: u.color }} title={u.self ? `${u.name} (you)` : u.name} data-testid="presence-user" data-user-id={u.id} data-name={u.name} data-self={u.self ? 'true' : 'false'}>
            {initials(u.name)}
            <span class="sr-only">{u.self ? `${u.name} (you)` : u.name}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
