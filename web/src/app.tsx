import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { hasSession, setSessionExpiredHandler } from './api';
import { Spinner } from './components/ui';
import { matchPath, navigate, Redirect, useLocation, type Params } from './router';
import { bootSession, homePath, resetWorkspaces, useUser } from './session';

import ApprovalSettingsPage from './pages/ApprovalSettings';
import ApprovalsPage from './pages/Approvals';
import ForgotPasswordPage from './pages/ForgotPassword';
import InvitePage from './pages/Invite';
import LoginPage from './pages/Login';
import MembersPage from './pages/Members';
import NotFoundPage from './pages/NotFound';
import NotificationSettingsPage from './pages/NotificationSettings';
import PostEditPage from './pages/PostEdit';
import PostsPage from './pages/Posts';
import RegisterPage from './pages/Register';
import ResetPasswordPage from './pages/ResetPassword';
import ReviewPage from './pages/Review';
import SetupPage from './pages/Setup';
import VerifyEmailPage from './pages/VerifyEmail';
import WebhooksPage from './pages/Webhooks';
import WorkspacesPage from './pages/Workspaces';

// 'guest' pages (sign in / up) send an already signed-in user home themselves.
type Access = 'public' | 'guest' | 'auth';

interface Route {
  path: string;
  access: Access;
  render: (p: Params) => JSX.Element;
}

const ROUTES: Route[] = [
  { path: '/', access: 'auth', render: () => <Home /> },
  { path: '/login', access: 'guest', render: () => <LoginPage /> },
  { path: '/register', access: 'guest', render: () => <RegisterPage /> },
  { path: '/verify-email', access: 'public', render: () => <VerifyEmailPage /> },
  { path: '/forgot-password', access: 'public', render: () => <ForgotPasswordPage /> },
  { path: '/reset-password', access: 'public', render: () => <ResetPasswordPage /> },
  { path: '/invite', access: 'public', render: () => <InvitePage /> },
  { path: '/setup', access: 'public', render: () => <SetupPage /> },
  { path: '/workspaces', access: 'auth', render: () => <WorkspacesPage /> },
  { path: '/w/:workspaceId', access: 'auth', render: (p) => <Redirect to={`/w/${p.workspaceId}/posts`} /> },
  { path: '/w/:workspaceId/posts', access: 'auth', render: (p) => <PostsPage key={p.workspaceId} workspaceId={p.workspaceId!} /> },
  { path: '/w/:workspaceId/posts/new', access: 'auth', render: (p) => <PostEditPage workspaceId={p.workspaceId!} /> },
  {
    path: '/w/:workspaceId/posts/:postId',
    access: 'auth',
    render: (p) => <PostEditPage workspaceId={p.workspaceId!} postId={p.postId} />,
  },
  { path: '/w/:workspaceId/members', access: 'auth', render: (p) => <MembersPage workspaceId={p.workspaceId!} /> },
  { path: '/w/:workspaceId/webhooks', access: 'auth', render: (p) => <WebhooksPage key={p.workspaceId} workspaceId={p.workspaceId!} /> },
  { path: '/w/:workspaceId/approvals', access: 'auth', render: (p) => <ApprovalsPage key={p.workspaceId} workspaceId={p.workspaceId!} /> },
  {
    path: '/w/:workspaceId/settings/approvals',
    access: 'auth',
    render: (p) => <ApprovalSettingsPage key={p.workspaceId} workspaceId={p.workspaceId!} />,
  },
  { path: '/settings/notifications', access: 'auth', render: () => <NotificationSettingsPage /> },
  // The client review page: no account.
  { path: '/review/:token', access: 'public', render: (p) => <ReviewPage key={p.token} token={p.token!} /> },
];

function Home() {
  useEffect(() => {
    void homePath().then((to) => navigate(to, { replace: true }));
  }, []);
  return <Spinner />;
}

/** Waits for the stored session (if any) to be resumed before rendering. */
function Gate({ access, children }: { access: Access; children: ComponentChildren }) {
  const user = useUser();
  const { path, query } = useLocation();
  const [booting, setBooting] = useState(!user && hasSession());

  useEffect(() => {
    if (!user && hasSession()) {
      setBooting(true);
      void bootSession().finally(() => setBooting(false));
    } else setBooting(false);
  }, [user]);

  if (booting) return <Spinner label="Loading your session…" />;

  if (access === 'auth' && !user) {
    const next = path + (query.toString() ? `?${query}` : '');
    return <Redirect to={`/login?next=${encodeURIComponent(next)}`} />;
  }
  return <>{children}</>;
}

export function App() {
  const { path } = useLocation();

  useEffect(() => {
    setSessionExpiredHandler(() => {
      resetWorkspaces();
      const here = window.location.pathname + window.location.search;
      if (!here.startsWith('/login')) navigate(`/login?next=${encodeURIComponent(here)}`, { replace: true });
    });
  }, []);

  for (const r of ROUTES) {
    const params = matchPath(r.path, path);
    if (params) return <Gate access={r.access}>{r.render(params)}</Gate>;
  }
  return <NotFoundPage />;
}
