// The one fetch wrapper every API call goes through: JSON in and out, the bearer token,
// and on a 401 one refresh + retry; if that fails too, the session is cleared and the app
// goes to /login.
// The refresh itself (one at a time across tabs) is in tokens.ts.
import { ApiError, type ErrorBody } from './errors';
import { clearSession, currentAccessToken, readRefresh, refreshSession, sessionExpired } from './tokens';

export interface RequestOptions {
  method?: string;
  body?: unknown;
  query?: Record<string, string | number | undefined | null>;
  /** Send the bearer token and handle 401 by refreshing (default true). */
  auth?: boolean;
}

function buildUrl(path: string, query?: RequestOptions['query']): string {
  if (!query) return path;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    qs.set(k, String(v));
  }
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

async function parseError(res: Response): Promise<ApiError> {
  const ra = res.headers.get('Retry-After');
  const retryAfter = ra && /^\d+$/.test(ra) ? Number(ra) : null;
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  const err = (body as ErrorBody | null)?.error;
  if (err && typeof err.message === 'string') {
    return new ApiError(res.status, err.code ?? 'error', err.message, err.details, retryAfter);
  }
  return new ApiError(
    res.status,
    'http_error',
    `Request failed (${res.status} ${res.statusText || 'error'})`,
    undefined,
    retryAfter,
  );
}

async function send(url: string, opts: RequestOptions, withAuth: boolean): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const accessToken = currentAccessToken();
  if (withAuth && accessToken) headers['Authorization'] = `Bearer ${accessToken}`;
  try {
    return await fetch(url, {
      method: opts.method ?? 'GET',
      headers,
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
    });
  } catch {
    throw new ApiError(0, 'network_error', 'Could not reach the server. Check your connection.');
  }
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const url = buildUrl(path, opts.query);
  const withAuth = opts.auth !== false;

  if (withAuth && !currentAccessToken() && readRefresh()) await refreshSession();

  let res = await send(url, opts, withAuth);
  if (res.status === 401 && withAuth) {
    const refreshed = await refreshSession();
    if (refreshed) res = await send(url, opts, withAuth);
    if (!refreshed || res.status === 401) {
      const err = await parseError(res);
      // Refused even with a fresh token, or no refresh token left: the session is over.
      // (A refresh that failed for a network reason keeps it for the next try.)
      if (refreshed || !readRefresh()) {
        clearSession();
        sessionExpired();
      }
      throw err;
    }
  }
  if (!res.ok) throw await parseError(res);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}
