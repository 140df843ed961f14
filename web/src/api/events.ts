// The live event stream's messages.

/** One message of the `/api/events` stream. */
export interface DomainEvent {
  type: string;
  workspace_id: string;
  data: Record<string, unknown>;
  id: string | number;
  actor_id?: string | null;
  at: string;
}
