import { useState } from 'preact/hooks';
import { toApiError, verifyEmail, type ApiError } from '../api';
import { AuthLayout } from '../components/AuthLayout';
import { ErrorBanner, Field, Notice } from '../components/ui';
import { Link, navigate, useLocation } from '../router';
import { homePath } from '../session';

/**
 * /verify-email?token=… — confirming an address takes the emailed link *and* the password
 * chosen at sign-up: a link someone else's sign-up sent to your inbox cannot set their
 * password on your address.
 */
export default function VerifyEmailPage() {
  const { query } = useLocation();
  const token = query.get('token') ?? '';
  const [password, setPassword] = useState('');
  const [error, setError] = useState<ApiError | string | null>(token ? null : 'This verification link is missing its token.');
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);

  async function onSubmit(e: Event) {
    e.preventDefault();
    if (!token || busy) return;
    setBusy(true);
    setError(null);
    try {
      await verifyEmail(token, password);
      setDone(true);
      navigate(await homePath(), { replace: true });
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <AuthLayout title="Confirm your email">
      <div data-testid="verify-email">
        {done ? (
          <p role="status">Email confirmed. Taking you in…</p>
        ) : (
          <>
            <Notice>Enter the password you chose when you signed up to finish.</Notice>
            <form onSubmit={onSubmit} noValidate data-testid="verify-form">
              <ErrorBanner error={error} />
              <Field label="Password" name="password" error={typeof error === 'string' ? null : error}>
                <input
                  id="f-password"
                  type="password"
                  autocomplete="current-password"
                  required
                  value={password}
                  onInput={(e) => setPassword(e.currentTarget.value)}
                  data-testid="verify-password"
                />
              </Field>
              <button type="submit" class="btn btn-primary btn-block" disabled={busy || !token} data-testid="verify-submit">
                {busy ? 'Confirming…' : 'Confirm email'}
              </button>
            </form>
            <p class="auth-links">
              <Link href="/login">Go to sign in</Link>
            </p>
          </>
        )}
      </div>
    </AuthLayout>
  );
}
