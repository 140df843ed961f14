// Shared client-side state: the signed-in user and their workspaces.
import { useEffect, useState } from 'preact/hooks';
import {
  getCurrentUser,
  getProfile,
  hasSession,
  listMyWorkspaces,
  onAuthChange,
  type User,
  type Workspace,
} from './api';

export function useUser(): User | null {
  const [user, setUser] = useState<User | null>(getCurrentUser);
  useEffect(() => onAuthChange(setUser), []);
  return user;
}

/**
 * Resolves the signed-in user on start-up: with a stored refresh token, the
 * first API call refreshes the access token; a dead token yields null.
 */
let bootPromise: Promise<User | null> | null = null;
export function bootSession(): Promise<User | null> {
  if (getCurrentUser()) return Promise.resolve(getCurrentUser());
  if (!hasSession()) return Promise.resolve(null);
  if (!bootPromise) {
    bootPromise = getProfile()
      .catch(() => null)
      .finally(() => {
        bootPromise = null;
      });
  }
  return bootPromise;
}

// ---------------------------------------------------------------- workspaces

interface WorkspacesState {
  items: Workspace[] | null;
  error: string | null;
}

let wsState: WorkspacesState = { items: null, error: null };
const wsListeners = new Set<(s: WorkspacesState) => void>();
let wsLoading: Promise<Workspace[]> | null = null;

function setWs(s: WorkspacesState): void {
  wsState = s;
  for (const l of wsListeners) l(s);
}

/** (Re)load the caller's workspaces (GET /api/users/workspaces). */
export function reloadWorkspaces(): Promise<Workspace[]> {
  if (!wsLoading) {
    wsLoading = listMyWorkspaces()
      .then((items) => {
        setWs({ items, error: null });
        return items;
      })
      .catch((e: unknown) => {
        setWs({ items: wsState.items, error: e instanceof Error ? e.message : String(e) });
        return wsState.items ?? [];
      })
      .finally(() => {
        wsLoading = null;
      });
  }
  return wsLoading;
}

export function resetWorkspaces(): void {
  setWs({ items: null, error: null });
}

export function useWorkspaces(): WorkspacesState {
  const [s, set] = useState<WorkspacesState>(wsState);
  useEffect(() => {
    wsListeners.add(set);
    if (wsState.items === null) void reloadWorkspaces();
    return () => {
      wsListeners.delete(set);
    };
  }, []);
  return s;
}

/** Where to land after signing in. */
export async function homePath(): Promise<string> {
  const items = await reloadWorkspaces();
  const first = items[0];
  return first ? `/w/${first.id}/posts` : '/workspaces';
}
