import type { ComponentChildren } from 'preact';
import type { ApiError } from '../api';

/** The error.message of a failed request, shown near a form. */
export function ErrorBanner({ error, testid = 'form-error' }: { error: ApiError | string | null; testid?: string }) {
  if (!error) return null;
  const message = typeof error === 'string' ? error : error.message;
  return (
    <div class="alert alert-error" role="alert" data-testid={testid}>
      {message}
    </div>
  );
}

export function Notice({ children, testid }: { children: ComponentChildren; testid?: string }) {
  return (
    <div class="alert alert-info" role="status" data-testid={testid}>
      {children}
    </div>
  );
}

/** A field error from error.details.fields[name]. */
export function FieldError({ error, name, id }: { error: ApiError | null; name: string; id?: string }) {
  const msg = error?.fields[name];
  if (!msg) return null;
  return (
    <p class="field-error" id={id ?? `err-${name}`} data-testid={`field-error-${name}`}>
      {msg}
    </p>
  );
}

interface FieldProps {
  label: string;
  name: string;
  error?: ApiError | null;
  hint?: string;
  children: ComponentChildren;
}

/** Label + control + hint + field error. The control should use id=`f-${name}`. */
export function Field({ label, name, error = null, hint, children }: FieldProps) {
  return (
    <div class={`field${error?.fields[name] ? ' has-error' : ''}`}>
      <label for={`f-${name}`}>{label}</label>
      {children}
      {hint && <p class="hint">{hint}</p>}
      <FieldError error={error} name={name} />
    </div>
  );
}

export function Spinner({ label = 'Loading…' }: { label?: string }) {
  return (
    <p class="muted" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" /> {label}
    </p>
  );
}

export function humanize(s: string): string {
  const t = s.replace(/_/g, ' ');
  return t.charAt(0).toUpperCase() + t.slice(1);
}

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** Comma/newline separated text → trimmed non-empty list. */
export function splitList(s: string): string[] {
  return s
    .split(/[,\n]/)
    .map((x) => x.trim())
    .filter(Boolean);
}

/** "just now", "5 min ago", "3 h ago", then the date and time. */
export function timeAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.max(1, Math.round(s / 60))} min ago`;
  if (s < 86400 && new Date(t).toDateString() === new Date(now).toDateString()) return `${Math.round(s / 3600)} h ago`;
  return formatDateTime(iso);
}
