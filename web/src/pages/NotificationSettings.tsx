// Notification preferences (`/settings/notifications`): per type × channel (in-app, email,
// push), the daily email digest, and Web Push in this browser: turn it on (permission is
// asked only from the button), the registered browsers (remove), and a test push.
import { useEffect, useState } from 'preact/hooks';
import {
  getNotificationPreferences,
  listPushSubscriptions,
  sendTestPush,
  toApiError,
  updateNotificationPreferences,
  type ApiError,
  type NotificationPreferences,
  type PushSubscriptionInfo,
  type TypePreference,
} from '../api';
import { AppLayout } from '../components/AppLayout';
import { ErrorBanner, Notice, Spinner, formatDateTime, humanize } from '../components/ui';
import { currentSubscription, disablePush, enablePush, permission, pushSupport } from '../push';

const THIS_BROWSER_KEY = 'copydesk.push_subscription_id';
const CHANNELS: { key: 'in_app' | 'email' | 'push'; label: string }[] = [
  { key: 'in_app', label: 'In app' },
  { key: 'email', label: 'Email' },
  { key: 'push', label: 'Push' },
];

function thisBrowserId(): string | null {
  try {
    return localStorage.getItem(THIS_BROWSER_KEY);
  } catch {
    return null;
  }
}
function setThisBrowserId(id: string | null): void {
  try {
    if (id) localStorage.setItem(THIS_BROWSER_KEY, id);
    else localStorage.removeItem(THIS_BROWSER_KEY);
  } catch {
    /* ignore */
  }
}

function browserName(ua: string | null): string {
  if (!ua) return 'Browser';
  const b = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Windows/.test(ua) ? 'Windows' : /Mac OS X/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : '';
  return os ? `${b} on ${os}` : b;
}

function PushSection() {
  const support = pushSupport();
  const [subs, setSubs] = useState<PushSubscriptionInfo[] | null>(null);
  const [mine, setMine] = useState<string | null>(thisBrowserId);
  const [subscribedHere, setSubscribedHere] = useState(false);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const load = () =>
    listPushSubscriptions().then(
      (s) => setSubs(s),
      (e) => {
        setSubs([]);
        setError(toApiError(e).message);
      },
    );

  useEffect(() => {
    void load();
    void currentSubscription().then((s) => setSubscribedHere(!!s), () => setSubscribedHere(false));
  }, []);

  const run = async (what: string, fn: () => Promise<void>) => {
    setBusy(what);
    setError(null);
    setNotice(null);
    try {
      await fn();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(null);
    }
  };

  const here = !!mine && !!subs?.some((s) => s.id === mine) && subscribedHere;

  return (
    <section class="card stack" aria-labelledby="push-h" data-testid="push-section">
      <h2 id="push-h">Push notifications</h2>
      {support === 'insecure' && <p class="muted">Push needs the site to be served over HTTPS.</p>}
      {support === 'unsupported' && <p class="muted">This browser does not support push notifications.</p>}
      {error && (
        <p class="alert alert-error" role="alert" data-testid="push-error">
          {error}
        </p>
      )}
      {notice && <Notice testid="push-notice">{notice}</Notice>}
      {support === 'supported' && (
        <div class="row">
          {here ? (
            <span class="small ok" data-testid="push-on">
              Push is on in this browser.
            </span>
          ) : (
            <button
              type="button"
              class="btn btn-primary btn-sm"
              disabled={busy !== null || permission() === 'denied'}
              onClick={() =>
                void run('enable', async () => {
                  const id = await enablePush();
                  setThisBrowserId(id);
                  setMine(id);
                  setSubscribedHere(true);
                  setNotice('Push is on in this browser.');
                  await load();
                })
              }
              data-testid="push-enable"
            >
              {busy === 'enable' ? 'Turning on…' : 'Turn on push in this browser'}
            </button>
          )}
          {permission() === 'denied' && <span class="small muted">Notifications are blocked for this site in the browser settings.</span>}
        </div>
      )}
      <h3 class="h-small">Your browsers</h3>
      {subs === null ? (
        <Spinner />
      ) : subs.length === 0 ? (
        <p class="muted small" data-testid="push-none">
          No browser receives push notifications.
        </p>
      ) : (
        <ul class="list">
          {subs.map((s) => (
            <li key={s.id} class="list-row" data-testid="push-subscription">
              <div class="list-main">
                <strong>
                  {browserName(s.user_agent)}
                  {s.id === mine ? ' (this browser)' : ''}
                </strong>
                <span class="small muted">
                  {s.endpoint_origin} · since {formatDateTime(s.created_at)}
                </span>
              </div>
              <button
                type="button"
                class="btn btn-danger-ghost btn-sm"
                disabled={busy !== null}
                onClick={() =>
                  void run(`rm-${s.id}`, async () => {
                    await disablePush(s.id, s.id === mine);
                    if (s.id === mine) {
                      setThisBrowserId(null);
                      setMine(null);
                      setSubscribedHere(false);
                    }
                    await load();
                  })
                }
                data-testid="push-remove"
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <div>
        <button
          type="button"
          class="btn btn-sm"
          disabled={busy !== null || !subs?.length}
          onClick={() =>
            void run('test', async () => {
              await sendTestPush();
              setNotice('Test push sent to your browsers.');
            })
          }
          data-testid="push-test"
        >
          Send a test push
        </button>
      </div>
    </section>
  );
}

export default function NotificationSettingsPage() {
  const [prefs, setPrefs] = useState<NotificationPreferences | null>(null);
  const [saved, setSaved] = useState<string>('');
  const [error, setError] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    getNotificationPreferences().then(
      (p) => {
        setPrefs(p);
        setSaved(JSON.stringify(p));
      },
      (e) => setError(toApiError(e)),
    );
  }, []);

  const setOne = (type: string, key: 'in_app' | 'email' | 'push', on: boolean) =>
    setPrefs((p) => (p ? { ...p, types: p.types.map((t) => (t.type === type ? { ...t, [key]: on } : t)) } : p));

  const save = async (e: Event) => {
    e.preventDefault();
    if (!prefs) return;
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const p = await updateNotificationPreferences(prefs);
      setPrefs(p);
      setSaved(JSON.stringify(p));
      setNotice('Preferences saved.');
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };

  const dirty = !!prefs && JSON.stringify(prefs) !== saved;

  return (
    <AppLayout>
      <div class="page-head">
        <h1>Notifications</h1>
      </div>
      {notice && <Notice testid="prefs-notice">{notice}</Notice>}
      <ErrorBanner error={error} testid="prefs-error" />
      <form class="card stack" onSubmit={save} data-testid="prefs-form" aria-labelledby="prefs-h">
        <h2 id="prefs-h">What to tell you, and how</h2>
        {!prefs ? (
          !error && <Spinner />
        ) : (
          <>
            <div class="table-wrap">
              <table class="table prefs-table">
                <caption class="sr-only">Notification channels per type</caption>
                <thead>
                  <tr>
                    <th scope="col">Notification</th>
                    {CHANNELS.map((c) => (
                      <th key={c.key} scope="col" class="center-cell">
                        {c.label}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {prefs.types.map((t: TypePreference) => (
                    <tr key={t.type} data-testid="pref-row" data-type={t.type}>
                      <th scope="row">{t.label || humanize(t.type)}</th>
                      {CHANNELS.map((c) => (
                        <td key={c.key} class="center-cell">
                          <input
                            type="checkbox"
                            checked={t[c.key]}
                            onChange={(e) => setOne(t.type, c.key, e.currentTarget.checked)}
                            aria-label={`${t.label || humanize(t.type)}: ${c.label}`}
                            data-testid={`pref-${t.type}-${c.key}`}
                          />
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <div class="field">
              <label for="prefs-digest">Email digest</label>
              <select id="prefs-digest" value={prefs.email_digest} onChange={(e) => setPrefs({ ...prefs, email_digest: e.currentTarget.value as 'off' | 'daily' })} data-testid="prefs-digest">
                <option value="off">Off: send each email as it happens</option>
                <option value="daily">Daily: one email a day with everything</option>
              </select>
            </div>
            <div>
              <button type="submit" class="btn btn-primary" disabled={busy || !dirty} data-testid="prefs-save">
                {busy ? 'Saving…' : 'Save preferences'}
              </button>
            </div>
          </>
        )}
      </form>
      <PushSection />
    </AppLayout>
  );
}
