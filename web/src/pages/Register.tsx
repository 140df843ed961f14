import { useEffect, useState } from 'preact/hooks';
import { getCurrentUser, register, toApiError, type ApiError } from '../api';
import { AuthLayout } from '../components/AuthLayout';
import { ErrorBanner, Field, Notice } from '../components/ui';
import { Link, navigate, useLocation } from '../router';
import { homePath } from '../session';

export default function RegisterPage() {
  const { query } = useLocation();
  const invitationToken = query.get('invitation_token') ?? undefined;
  const [name, setName] = useState('');
  const [email, setEmail] = useState(query.get('email') ?? '');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);

  // Already signed in (and not here for an invitation): go home.
  useEffect(() => {
    if (getCurrentUser() && !invitationToken) void homePath().then((to) => navigate(to, { replace: true }));
  }, []);
  const [error, setError] = useState<ApiError | null>(null);
  const [sentMessage, setSentMessage] = useState<string | null>(null);

  const onSubmit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await register({
        name: name.trim(),
        email: email.trim(),
        password,
        invitation_token: invitationToken,
      });
      if (res.kind === 'signed_in') {
        navigate(await homePath(), { replace: true });
      } else {
        setSentMessage(res.message);
      }
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };

  if (sentMessage !== null) {
    return (
      <AuthLayout title="Check your email">
        <div data-testid="check-email">
          <p>
            We sent a verification link to <strong>{email.trim()}</strong>. Open it to activate your
            account, then sign in.
          </p>
          {sentMessage && <p class="muted">{sentMessage}</p>}
        </div>
        <p class="auth-links">
          <Link href="/login">Back to sign in</Link>
        </p>
      </AuthLayout>
    );
  }

  const loginHref = invitationToken
    ? `/login?invitation_token=${encodeURIComponent(invitationToken)}`
    : '/login';

  return (
    <AuthLayout title="Create your account">
      {invitationToken && (
        <Notice>Use the email address the invitation was sent to, and you're in right away.</Notice>
      )}
      <form onSubmit={onSubmit} noValidate data-testid="register-form">
        <ErrorBanner error={error} />
        <Field label="Name" name="name" error={error}>
          <input
            id="f-name"
            autocomplete="name"
            required
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
            data-testid="register-name"
          />
        </Field>
        <Field label="Email" name="email" error={error}>
          <input
            id="f-email"
            type="email"
            autocomplete="email"
            required
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
            data-testid="register-email"
          />
        </Field>
        <Field label="Password" name="password" error={error} hint="At least 8 characters.">
          <input
            id="f-password"
            type="password"
            autocomplete="new-password"
            required
            minLength={8}
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            data-testid="register-password"
          />
        </Field>
        <button type="submit" class="btn btn-primary btn-block" disabled={busy} data-testid="register-submit">
          {busy ? 'Creating account…' : 'Create account'}
        </button>
      </form>
      <p class="auth-links">
        <span>
          Already have an account? <Link href={loginHref}>Sign in</Link>
        </span>
      </p>
    </AuthLayout>
  );
}
