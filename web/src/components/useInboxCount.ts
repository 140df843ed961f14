// How many approval requests wait for the signed-in user in a workspace (the nav's count),
// kept current from `approval.*` events.
import { useEffect, useRef, useState } from 'preact/hooks';
import { approvalInbox } from '../api';
import { useEvents } from '../collab/useLive';

export function useInboxCount(workspaceId: string | undefined): number | null {
  const [count, setCount] = useState<number | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const load = () => {
    if (!workspaceId) return;
    approvalInbox(workspaceId).then(
      (items) => setCount(items.length),
      () => setCount(null), // approvals not available (or not allowed): no count
    );
  };
  const later = () => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(load, 250);
  };

  useEffect(() => {
    setCount(null);
    load();
    return () => {
      if (timer.current) clearTimeout(timer.current);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [workspaceId]);

  useEvents(
    !!workspaceId,
    (ev) => {
      if (ev.workspace_id === workspaceId && (ev.type.startsWith('approval.') || ev.type === 'post.deleted')) later();
    },
    later,
  );
  return count;
}
