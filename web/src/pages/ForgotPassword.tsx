import { useState } from 'preact/hooks';
import { forgotPassword, toApiError, type ApiError } from '../api';
import { AuthLayout } from '../components/AuthLayout';
import { ErrorBanner, Field, Notice } from '../components/ui';
import { Link } from '../router';

export default function ForgotPasswordPage() {
  const [email, setEmail] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  const onSubmit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await forgotPassword(email.trim());
      setMessage(res?.message || 'If an account exists for that address, we sent a reset link.');
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <AuthLayout title="Reset your password">
      {message ? (
        <Notice testid="forgot-sent">{message}</Notice>
      ) : (
        <form onSubmit={onSubmit} noValidate data-testid="forgot-form">
          <p class="muted">Enter your email and we'll send you a link to choose a new password.</p>
          <ErrorBanner error={error} />
          <Field label="Email" name="email" error={error}>
            <input
              id="f-email"
              type="email"
              autocomplete="email"
              required
              value={email}
              onInput={(e) => setEmail(e.currentTarget.value)}
              data-testid="forgot-email"
            />
          </Field>
          <button type="submit" class="btn btn-primary btn-block" disabled={busy} data-testid="forgot-submit">
            {busy ? 'Sending…' : 'Send reset link'}
          </button>
        </form>
      )}
      <p class="auth-links">
        <Link href="/login">Back to sign in</Link>
      </p>
    </AuthLayout>
  );
}
