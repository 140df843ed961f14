import { useState } from 'preact/hooks';
import { ApiError, resetPassword, toApiError } from '../api';
import { AuthLayout } from '../components/AuthLayout';
import { ErrorBanner, Field, Notice } from '../components/ui';
import { Link, useLocation } from '../router';

export default function ResetPasswordPage() {
  const { query } = useLocation();
  const token = query.get('token') ?? '';
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState(false);

  const onSubmit = async (e: Event) => {
    e.preventDefault();
    if (password !== confirm) {
      setError(
        new ApiError(0, 'validation', 'The passwords do not match.', {
          fields: { confirm: 'Must match the new password' },
        }),
      );
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await resetPassword(token, password);
      setDone(true);
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <AuthLayout title="Choose a new password">
      {!token ? (
        <ErrorBanner error="This reset link is missing its token." />
      ) : done ? (
        <Notice testid="reset-done">Your password was changed. You can sign in now.</Notice>
      ) : (
        <form onSubmit={onSubmit} noValidate data-testid="reset-form">
          <ErrorBanner error={error} />
          <Field label="New password" name="password" error={error} hint="At least 8 characters.">
            <input
              id="f-password"
              type="password"
              autocomplete="new-password"
              required
              minLength={8}
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
              data-testid="reset-password"
            />
          </Field>
          <Field label="Repeat new password" name="confirm" error={error}>
            <input
              id="f-confirm"
              type="password"
              autocomplete="new-password"
              required
              value={confirm}
              onInput={(e) => setConfirm(e.currentTarget.value)}
              data-testid="reset-confirm"
            />
          </Field>
          <button type="submit" class="btn btn-primary btn-block" disabled={busy} data-testid="reset-submit">
            {busy ? 'Saving…' : 'Set new password'}
          </button>
        </form>
      )}
      <p class="auth-links">
        <Link href="/login">Go to sign in</Link>
      </p>
    </AuthLayout>
  );
}
