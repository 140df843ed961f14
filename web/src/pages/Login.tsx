import { useEffect, useState } from 'preact/hooks';
import { getCurrentUser, getSetupStatus, login, toApiError, type ApiError } from '../api';
import { AuthLayout } from '../components/AuthLayout';
import { ErrorBanner, Field, Notice } from '../components/ui';
import { Link, navigate, useLocation } from '../router';
import { homePath } from '../session';

export default function LoginPage() {
  const { query } = useLocation();
  const invitationToken = query.get('invitation_token') ?? undefined;
  const next = query.get('next');
  const [email, setEmail] = useState(query.get('email') ?? '');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);

  // Already signed in (and not here for an invitation): go home.
  useEffect(() => {
    if (getCurrentUser() && !invitationToken) void homePath().then((to) => navigate(to, { replace: true }));
  }, []);
  // A fresh instance has no administrator yet: say where the setup link is.
  const [setupNeeded, setSetupNeeded] = useState(false);
  useEffect(() => {
    void getSetupStatus().then((s) => setSetupNeeded(s.needed), () => {});
  }, []);
  const [error, setError] = useState<ApiError | null>(null);

  const onSubmit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login({ email: email.trim(), password, invitation_token: invitationToken });
      const safeNext = next && next.startsWith('/') && !next.startsWith('//') ? next : null;
      navigate(safeNext && !invitationToken ? safeNext : await homePath(), { replace: true });
    } catch (err) {
      const apiErr = toApiError(err);
      if (apiErr.code === 'too_many_attempts' && apiErr.retryAfter) {
        setError(
          Object.assign(apiErr, {
            message: `${apiErr.message} Try again in ${apiErr.retryAfter} seconds.`,
          }),
        );
      } else setError(apiErr);
    } finally {
      setBusy(false);
    }
  };

  const registerHref = invitationToken
    ? `/register?invitation_token=${encodeURIComponent(invitationToken)}`
    : '/register';

  return (
    <AuthLayout title="Sign in">
      {invitationToken && <Notice>Sign in to accept your workspace invitation.</Notice>}
      {setupNeeded && (
        <Notice testid="setup-needed">
          This Copydesk instance has no administrator yet. Open the setup link printed in the server log
          (<code>/setup?token=…</code>) to create it.
        </Notice>
      )}
      <form onSubmit={onSubmit} noValidate data-testid="login-form">
        <ErrorBanner error={error} />
        <Field label="Email" name="email" error={error}>
          <input
            id="f-email"
            type="email"
            autocomplete="email"
            required
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
            data-testid="login-email"
          />
        </Field>
        <Field label="Password" name="password" error={error}>
          <input
            id="f-password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            data-testid="login-password"
          />
        </Field>
        <button type="submit" class="btn btn-primary btn-block" disabled={busy} data-testid="login-submit">
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p class="auth-links">
        <Link href="/forgot-password">Forgot password?</Link>
        <span>
          No account? <Link href={registerHref} data-testid="register-link">Create one</Link>
        </span>
      </p>
    </AuthLayout>
  );
}
