import { useEffect, useState } from 'preact/hooks';
import { ApiError, completeSetup, getSetupStatus, toApiError } from '../api';
import { AuthLayout } from '../components/AuthLayout';
import { ErrorBanner, Field, Notice, Spinner } from '../components/ui';
import { Link, navigate, useLocation } from '../router';
import { homePath, resetWorkspaces } from '../session';

/**
 * /setup?token=… — create the instance's first super admin. The server prints this link
 * (with a one-time token) in its log on first start; the account it creates is verified
 * and signed in at once.
 */
export default function SetupPage() {
  const { query } = useLocation();
  const linkToken = query.get('token') ?? '';
  const [needed, setNeeded] = useState<boolean | null>(null);
  const [statusError, setStatusError] = useState<ApiError | null>(null);
  const [token, setToken] = useState(linkToken);
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  useEffect(() => {
    let cancelled = false;
    getSetupStatus()
      .then((s) => !cancelled && setNeeded(s.needed))
      .catch((e) => !cancelled && setStatusError(toApiError(e)));
    return () => {
      cancelled = true;
    };
  }, []);

  const onSubmit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await completeSetup({ token: token.trim(), name: name.trim(), email: email.trim(), password });
      resetWorkspaces();
      navigate(await homePath(), { replace: true });
    } catch (err) {
      const apiErr = toApiError(err);
      if (apiErr.status === 404) {
        setError(
          Object.assign(apiErr, {
            message: 'This setup link is invalid or has already been used. Use the setup link from the server log of this instance.',
          }),
        );
        // Someone may have completed the setup meanwhile.
        void getSetupStatus().then((s) => setNeeded(s.needed), () => {});
      } else setError(apiErr);
    } finally {
      setBusy(false);
    }
  };

  if (statusError) {
    return (
      <AuthLayout title="Set up Copydesk">
        <ErrorBanner error={statusError} />
      </AuthLayout>
    );
  }
  if (needed === null) {
    return (
      <AuthLayout title="Set up Copydesk">
        <Spinner />
      </AuthLayout>
    );
  }
  if (!needed) {
    return (
      <AuthLayout title="Set up Copydesk">
        <Notice testid="setup-done">This Copydesk instance already has its administrator.</Notice>
        <p class="auth-links">
          <Link href="/login">Go to sign in</Link>
        </p>
      </AuthLayout>
    );
  }

  return (
    <AuthLayout title="Create the administrator">
      <p class="muted">
        This account will be the instance's super admin: it can see and manage every workspace.
      </p>
      <form onSubmit={onSubmit} noValidate data-testid="setup-form">
        <ErrorBanner error={error} testid="setup-error" />
        {!linkToken && (
          <Field label="Setup token" name="token" error={error} hint="From the setup link in the server log (…/setup?token=…).">
            <input
              id="f-token"
              required
              autocomplete="off"
              value={token}
              onInput={(e) => setToken(e.currentTarget.value)}
              data-testid="setup-token"
            />
          </Field>
        )}
        <Field label="Name" name="name" error={error}>
          <input
            id="f-name"
            autocomplete="name"
            required
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
            data-testid="setup-name"
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
            data-testid="setup-email"
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
            data-testid="setup-password"
          />
        </Field>
        <button type="submit" class="btn btn-primary btn-block" disabled={busy || !token.trim()} data-testid="setup-submit">
          {busy ? 'Creating…' : 'Create administrator'}
        </button>
      </form>
    </AuthLayout>
  );
}
