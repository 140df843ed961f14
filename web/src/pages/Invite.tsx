import { useEffect, useRef, useState } from 'preact/hooks';
import { acceptInvitation, toApiError, type ApiError } from '../api';
import { AuthLayout } from '../components/AuthLayout';
import { ErrorBanner, Spinner } from '../components/ui';
import { Link, navigate, useLocation } from '../router';
import { bootSession, reloadWorkspaces } from '../session';

/** /invite?token=… — accept directly when signed in, else sign up / in carrying the token. */
export default function InvitePage() {
  const { query } = useLocation();
  const token = query.get('token') ?? '';
  const [state, setState] = useState<'checking' | 'guest' | 'accepting'>('checking');
  const [error, setError] = useState<ApiError | string | null>(null);
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    if (!token) {
      setError('This invitation link is missing its token.');
      return;
    }
    void (async () => {
      const user = await bootSession();
      if (!user) {
        setState('guest');
        return;
      }
      setState('accepting');
      try {
        const ws = await acceptInvitation(token);
        await reloadWorkspaces();
        navigate(`/w/${ws.id}/posts`, { replace: true });
      } catch (e) {
        setError(toApiError(e));
      }
    })();
  }, [token]);

  const t = encodeURIComponent(token);
  return (
    <AuthLayout title="Workspace invitation">
      <div data-testid="invite-page">
        {error ? (
          <>
            <ErrorBanner error={error} />
            <p class="auth-links">
              <Link href="/workspaces">Go to your workspaces</Link>
            </p>
          </>
        ) : state === 'guest' ? (
          <>
            <p>You've been invited to join a workspace on Copydesk.</p>
            <div class="stack">
              <Link href={`/register?invitation_token=${t}`} class="btn btn-primary btn-block" data-testid="invite-register">
                Create an account
              </Link>
              <Link href={`/login?invitation_token=${t}`} class="btn btn-block" data-testid="invite-login">
                I already have an account
              </Link>
            </div>
          </>
        ) : (
          <Spinner label={state === 'accepting' ? 'Joining the workspace…' : 'Checking your session…'} />
        )}
      </div>
    </AuthLayout>
  );
}
