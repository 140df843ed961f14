import { AuthLayout } from '../components/AuthLayout';
import { Link } from '../router';

export default function NotFoundPage() {
  return (
    <AuthLayout title="Page not found">
      <p>There's nothing at this address.</p>
      <p class="auth-links">
        <Link href="/">Go home</Link>
      </p>
    </AuthLayout>
  );
}
