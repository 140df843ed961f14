import type { ComponentChildren } from 'preact';

export function AuthLayout({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <main class="auth-page">
      <div class="auth-card">
        <div class="brand brand-lg" aria-hidden="true">
          <span class="brand-mark">C</span> Copydesk
        </div>
        <h1>{title}</h1>
        {children}
      </div>
    </main>
  );
}
