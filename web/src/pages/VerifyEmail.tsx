import { useEffect, useRef, useState } from 'preact/hooks';
import { toApiError, verifyEmail, type ApiError } from '../api';
import { AuthLayout } from '../components/AuthLayout';
import { ErrorBanner, Spinner } from '../components/ui';
import { Link, navigate, useLocation } from '../router';
import { homePath } from '../session';

export default function VerifyEmailPage() {
  const { query } = useLocation();
  const token = query.get('token') ?? '';
  const [error, setError] = useState<ApiError | string | null>(null);
  const [done, setDone] = useState(false);
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    if (!token) {
      setError('This verification link is missing its token.');
      return;
    }
    verifyEmail(token)
      .then(async () => {
        setDone(true);
        navigate(await homePath(), { replace: true });
      })
      .catch((e) => setError(toApiError(e)));
  }, [token]);

  return (
    <AuthLayout title="Verify email">
      <div data-testid="verify-email">
        {error ? (
          <>
            <ErrorBanner error={error} />
            <p class="auth-links">
              <Link href="/login">Go to sign in</Link>
            </p>
          </>
        ) : done ? (
          <p role="status">Email verified. Taking you in…</p>
        ) : (
          <Spinner label="Verifying your email…" />
        )}
      </div>
    </AuthLayout>
  );
}
