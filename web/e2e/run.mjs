#!/usr/bin/env node
// End-to-end test of the Copydesk web UI against a real server binary.
//
//   npm run e2e                                   # uses ../target/debug/copydesk
//   COPYDESK_BIN=/path/to/copydesk npm run e2e
//   COPYDESK_BIN=e2e/mock-server.mjs npm run e2e  # against the in-memory mock
//
//   # two nodes on PostgreSQL + Redis (an empty database; both nodes share it and Redis):
//   COPYDESK_E2E_NODES=2 COPYDESK_E2E_DATABASE_URL=postgres://…/copydesk_e2e \
//     COPYDESK_E2E_REDIS_URL=redis://127.0.0.1:6379 npm run e2e
//
// Env:
//   COPYDESK_BIN        server binary (default ../target/debug/copydesk, relative to web/)
//   COPYDESK_E2E_ARGS   extra CLI args for the server (space separated, default none)
//   COPYDESK_CHROMIUM   browser binary (or CHROMIUM; default /usr/bin/chromium)
//   COPYDESK_E2E_NODES  server nodes to start (1 or 2; 2 needs the two URLs below)
//   COPYDESK_E2E_DATABASE_URL  database for the nodes (default: a fresh SQLite file)
//   COPYDESK_E2E_REDIS_URL     Redis for the nodes (default: none, in-process bus)
//   COPYDESK_E2E_ACCESS_TTL    access-token lifetime the servers get, in seconds (default
//                       30: short, so the live scenario outlives several tokens)
//   COPYDESK_E2E_KEEP=1 keep the temp dir (database, mail, browser profile)
//   COPYDESK_E2E_HEADFUL=1 show the browser (needs a display)
//   COPYDESK_E2E_LIVE=0 skip scenario 3 (the live composer)
//   COPYDESK_E2E_APPROVALS=0 skip scenario 4 (approvals, review link, notifications)
//   COPYDESK_E2E_APPROVALS_MORE=1 more of scenario 4 (see e2e/approvals.mjs, moreFlows)
//   COPYDESK_E2E_SHOTS=<dir> save screenshots of scenario 3's key moments there
//
// Starts its own server(s) on free ports with a fresh database and a mail outbox
// directory, then drives Chromium through three scenarios:
// 1. setup: the first super admin is created through /setup with the one-time link from
//    the server log, which then no longer works.
// 2. register → verify via the emailed link → create workspace → invite a new member and
//    an existing account (an invitation either way; the account joins by accepting it) →
//    create a post whose caption is too long for Bluesky (problem shown live) → fix →
//    save → list → search / status filters → duplicate → delete the copy.
// 3. the live composer, with a second browser: the invited member signs up and both
//    open the post → each sees the other's typing, cursor and name → the owner comments
//    on a selected word → the member sees the anchored comment live, inserts text before
//    it and the highlight stays on the word → reply → the owner saves a named version,
//    edits, restores it and the member's editor follows → a reviewer cannot type → the
//    sockets outlive their access tokens (renewed in band, never reopened) → the member,
//    demoted to reviewer, goes read-only on the open socket → the reviewer, removed from
//    the workspace, sees "no longer have access" and nothing reconnects. Every socket URL
//    carries a ticket, never a token.
// 4. approvals (e2e/approvals.mjs): a creator submits a post, the approver's bell shows it,
//    the approver approves from the inbox, a client approves through a review link (no
//    account, phone-sized), and the creator's open post page follows every step live.
// With two nodes, the owner uses node 1 and the others node 2.
// Prints `e2e: N passed, M failed` last (N + M = the scenarios); exits 1 on a failure.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { approvalsFlow } from './approvals.mjs';

const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPO_DIR = path.resolve(WEB_DIR, '..');
const DIST_DIR = path.join(WEB_DIR, 'dist');
const BIN = path.resolve(WEB_DIR, process.env.COPYDESK_BIN || '../target/debug/copydesk');
const BIN_ARGS = (process.env.COPYDESK_E2E_ARGS ?? '').split(/\s+/).filter(Boolean);
const CHROMIUM = process.env.COPYDESK_CHROMIUM || process.env.CHROMIUM || '/usr/bin/chromium';
const KEEP = process.env.COPYDESK_E2E_KEEP === '1';
const NODES = Number(process.env.COPYDESK_E2E_NODES || 1);
const DATABASE_URL = process.env.COPYDESK_E2E_DATABASE_URL || '';
const REDIS_URL = process.env.COPYDESK_E2E_REDIS_URL || '';
const ACCESS_TTL = Number(process.env.COPYDESK_E2E_ACCESS_TTL || 30);
const LIVE = process.env.COPYDESK_E2E_LIVE !== '0';
const APPROVALS = process.env.COPYDESK_E2E_APPROVALS !== '0';
const STEP_TIMEOUT = 15_000;

const log = (...a) => console.log('[e2e]', ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- server

/** Settings shared by every node of this run (a cluster needs the same keys everywhere). */
function clusterEnv(tmp) {
  const env = {
    COPYDESK__DATABASE__URL: DATABASE_URL || `sqlite://${path.join(tmp, 'e2e.db')}?mode=rwc`,
    COPYDESK__AUTH__JWT_SECRET: randomBytes(32).toString('hex'),
    COPYDESK__SECURITY__ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    COPYDESK__AUTH__ACCESS_TTL_SECS: String(ACCESS_TTL),
  };
  if (REDIS_URL) {
    env.COPYDESK__REDIS__URL = REDIS_URL;
    env.COPYDESK__REDIS__PREFIX = `e2e-${randomBytes(4).toString('hex')}`;
  }
  return env;
}

function startServer(tmp, node, shared, mailDir) {
  const dataDir = path.join(tmp, `node${node}`);
  fs.mkdirSync(dataDir, { recursive: true });
  const env = {
    ...process.env,
    ...shared,
    COPYDESK__SERVER__PORT: '0',
    COPYDESK__DATABASE__DATA_DIR: dataDir,
    COPYDESK__MAIL__OUTBOX_DIR: mailDir,
    COPYDESK__STATIC__DIR: DIST_DIR,
    RUST_LOG: process.env.RUST_LOG ?? 'info',
  };
  if (!REDIS_URL) delete env.COPYDESK__REDIS__URL;
  const child = spawn(BIN, BIN_ARGS, { cwd: REPO_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = [];
  /** Every line that mentions a setup link (kept apart: `output` only keeps the last 400). */
  const setupLines = [];
  const remember = (stream, name) => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        output.push(`${name}: ${line}`);
        if (output.length > 400) output.shift();
        if (line.includes('/setup?token=')) setupLines.push({ at: Date.now(), line });
        child.emit('line', line);
      }
    });
  };
  remember(child.stdout, 'out');
  remember(child.stderr, 'err');

  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node ${node}: server did not log "listening" within 60 s`)), 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${BIN}: ${e.message}`));
    });
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`node ${node}: server exited early (code ${code}, signal ${sig})`));
    });
    child.on('line', (line) => {
      if (!line.includes('listening')) return;
      const addr = findAddr(line);
      if (!addr) return;
      clearTimeout(timer);
      resolve(addr);
    });
  });
  return { node, child, output, setupLines, ready };
}

/** Pull "addr" out of a JSON log line (top level or nested under fields/span). */
function findAddr(line) {
  let found = null;
  try {
    const walk = (v) => {
      if (found || !v || typeof v !== 'object') return;
      if (typeof v.addr === 'string') found = v.addr;
      else for (const x of Object.values(v)) walk(x);
    };
    walk(JSON.parse(line.slice(line.indexOf('{'))));
  } catch {
    found = /"addr"\s*:\s*"([^"]+)"/.exec(line)?.[1] ?? null;
  }
  if (!found) return null;
  // A wildcard bind address is not dialable as such.
  return found.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '127.0.0.1:');
}

async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  for (let i = 0; i < 50 && child.exitCode === null && child.signalCode === null; i++) await sleep(100);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/**
 * The one-time setup tokens in the servers' logs, newest first (with several nodes, should
 * a later node have issued a new token, that is the one that works), waiting up to
 * `timeout` for the first.
 */
async function findSetupTokens(servers, timeout = 10_000) {
  const end = Date.now() + timeout;
  while (Date.now() < end) {
    const found = [];
    for (const s of servers) {
      for (const { at, line } of s.setupLines) {
        const m = /\/setup\?token=([A-Za-z0-9_\-.~%]+)/.exec(line);
        if (m) found.push({ at, token: decodeURIComponent(m[1]) });
      }
    }
    if (found.length) return [...new Set(found.sort((a, b) => b.at - a.at).map((x) => x.token))];
    await sleep(100);
  }
  throw new Error('no setup link (…/setup?token=…) in the server log');
}

/** JSON over fetch, for the few checks done beside the browser. */
async function api(base, method, p, body, token) {
  const res = await fetch(base + p, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: json };
}

// ---------------------------------------------------------------- mail

function decodeQuotedPrintable(s) {
  const bytes = [];
  const text = s.replace(/=\r?\n/g, '');
  for (let i = 0; i < text.length; i++) {
    const hex = text[i] === '=' ? text.slice(i + 1, i + 3) : '';
    if (/^[0-9A-F]{2}$/i.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(...Buffer.from(text[i], 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Decode an .eml naively: the body (of each MIME part) per its Content-Transfer-Encoding.
 * Mailers choose 8bit, quoted-printable ("=3D", "=\r\n" soft breaks) or base64 by content.
 */
function decodeMail(raw) {
  const parts = raw.split(/\r?\n--[^\r\n]+\r?\n/);
  return parts
    .map((part) => {
      const split = part.search(/\r?\n\r?\n/);
      if (split < 0) return part;
      const head = part.slice(0, split);
      const body = part.slice(split).replace(/^\r?\n\r?\n/, '');
      const cte = /^content-transfer-encoding:\s*([\w-]+)/im.exec(head)?.[1]?.toLowerCase();
      const decoded =
        cte === 'quoted-printable'
          ? decodeQuotedPrintable(body)
          : cte === 'base64'
            ? Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')
            : body;
      return `${head}\n\n${decoded}`;
    })
    .join('\n')
    .replace(/&amp;/g, '&');
}

/** Wait for the newest outbox .eml that contains `needle` (after decoding). */
async function waitForMail(dir, needle, { since = 0, timeout = 15_000 } = {}) {
  const end = Date.now() + timeout;
  while (Date.now() < end) {
    const files = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.eml'))
      .map((f) => ({ f, m: fs.statSync(path.join(dir, f)).mtimeMs }))
      .filter((x) => x.m >= since)
      .sort((a, b) => b.m - a.m);
    for (const { f } of files) {
      const text = decodeMail(fs.readFileSync(path.join(dir, f), 'utf8'));
      if (text.includes(needle)) return text;
    }
    await sleep(200);
  }
  throw new Error(`no email containing "${needle}" appeared in ${dir}`);
}

// ---------------------------------------------------------------- test

async function expectVisible(locator, what, timeout = STEP_TIMEOUT) {
  try {
    await locator.first().waitFor({ state: 'visible', timeout });
  } catch {
    throw new Error(`expected to see ${what}`);
  }
}

async function expectCount(locator, n, what, timeout = STEP_TIMEOUT) {
  const end = Date.now() + timeout;
  let c = -1;
  while (Date.now() < end) {
    c = await locator.count();
    if (c === n) return;
    await sleep(100);
  }
  throw new Error(`expected ${n} × ${what}, found ${c}`);
}

async function waitForPath(page, re, what) {
  try {
    await page.waitForURL((u) => re.test(new URL(u).pathname), { timeout: STEP_TIMEOUT });
  } catch {
    throw new Error(`expected to land on ${what}, but URL is ${page.url()}`);
  }
}

async function listSettled(page) {
  await page.waitForSelector('[data-testid="posts-list"][data-loading="false"]', { timeout: STEP_TIMEOUT });
}

// ---------------------------------------------------------------- scenario 1: setup

async function setupFlow(page, base, servers, state) {
  const rnd = Math.random().toString(36).slice(2, 8);
  const email = `admin-${rnd}@example.com`;
  const password = 'admin horse battery staple';
  const t = (id) => page.getByTestId(id);

  state.step = 'setup: find the setup link';
  const tokens = await findSetupTokens(servers);
  const before = await api(base, 'GET', '/api/setup');
  if (before.status !== 200 || before.body?.needed !== true) throw new Error(`GET /api/setup answered ${before.status} ${JSON.stringify(before.body)}, expected {"needed":true}`);

  state.step = 'setup: create the super admin';
  let token = null;
  for (const candidate of tokens) {
    await page.goto(`${base}/setup?token=${encodeURIComponent(candidate)}`);
    await t('setup-name').fill('Ada Admin');
    await t('setup-email').fill(email);
    await t('setup-password').fill(password);
    await t('setup-submit').click();
    const outcome = await Promise.race([
      page.waitForURL((u) => new URL(u).pathname === '/workspaces', { timeout: STEP_TIMEOUT }).then(() => 'ok'),
      t('setup-error').waitFor({ state: 'visible', timeout: STEP_TIMEOUT }).then(() => 'refused'),
    ]).catch(() => 'timeout');
    if (outcome === 'ok') {
      token = candidate;
      break;
    }
    if (outcome === 'timeout') throw new Error(`expected /workspaces after the setup, but URL is ${page.url()}`);
    log(`a logged setup token was refused (${tokens.length} logged)`);
  }
  if (!token) throw new Error(`every setup token in the log was refused: ${(await t('setup-error').textContent())?.trim()}`);
  await waitUntil(() => t('current-user').textContent(), (x) => x?.trim() === 'Ada Admin', 'the new admin signed in');

  state.step = 'setup: the link is spent';
  const after = await api(base, 'GET', '/api/setup');
  if (after.body?.needed !== false) throw new Error(`GET /api/setup after the setup answered ${JSON.stringify(after.body)}`);
  const again = await api(base, 'POST', '/api/setup', { token, email: `other-${rnd}@example.com`, password, name: 'Mallory' });
  if (again.status !== 404) throw new Error(`a second POST /api/setup with the same token answered ${again.status}, expected 404`);
  const login = await api(base, 'POST', '/api/auth/login', { email, password });
  if (login.status !== 200 || login.body?.user?.is_super_admin !== true) throw new Error(`the setup account is not a super admin: ${login.status} ${JSON.stringify(login.body?.user)}`);
  await page.goto(`${base}/setup?token=${encodeURIComponent(token)}`);
  await expectVisible(t('setup-done'), 'the "already set up" notice on the used link');

  state.step = 'setup: sign out';
  await page.goto(`${base}/workspaces`);
  await t('logout').click();
  await waitForPath(page, /^\/login$/, 'the sign-in page after signing out');
  return { email, password, name: 'Ada Admin' };
}

// ---------------------------------------------------------------- scenario 2: accounts and posts

async function flow(page, base, mailDir, state, admin) {
  const rnd = Math.random().toString(36).slice(2, 8);
  const email = `owner-${rnd}@example.com`;
  const password = 'correct horse battery staple';
  const t = (id) => page.getByTestId(id);

  state.step = 'register';
  const t0 = Date.now() - 1000;
  await page.goto(`${base}/register`);
  await t('register-name').fill('Olivia Owner');
  await t('register-email').fill(email);
  await t('register-password').fill(password);
  await t('register-submit').click();
  await expectVisible(t('check-email'), 'the "check your email" message');

  state.step = 'verify email';
  const mail = await waitForMail(mailDir, '/verify-email?token=', { since: t0 });
  const m = /\/verify-email\?token=([^\s"'<>&]+)/.exec(mail);
  if (!m) throw new Error('verify-email link not found in the email');
  log('verification token found in the outbox email');
  await page.goto(`${base}/verify-email?token=${m[1]}`);
  // Confirming takes the password chosen at sign-up.
  await t('verify-password').fill(password);
  await t('verify-submit').click();
  await waitForPath(page, /^\/workspaces$/, '/workspaces after verification');
  await expectVisible(t('current-user'), 'the signed-in user in the top bar');

  state.step = 'create workspace';
  const wsName = `E2E Team ${rnd}`;
  await t('workspace-name').fill(wsName);
  await t('workspace-create').click();
  await waitForPath(page, /^\/w\/[^/]+\/posts$/, 'the new workspace posts page');
  const wsId = new URL(page.url()).pathname.split('/')[2];
  await expectVisible(t('posts-empty'), 'the empty posts list');
  const switcherText = await t('workspace-switcher').locator('option:checked').textContent();
  if (switcherText?.trim() !== wsName) throw new Error(`workspace switcher shows "${switcherText}", expected "${wsName}"`);

  state.step = 'invite member';
  const invitee = `teammate-${rnd}@example.com`;
  await t('nav-members').click();
  await waitForPath(page, new RegExp(`^/w/${wsId}/members$`), 'the members page');
  await expectVisible(page.locator(`[data-testid="member-row"][data-email="${email}"]`), 'the owner in the members table');
  await t('invite-email').fill(invitee);
  await t('invite-role').selectOption('content_creator');
  await t('invite-submit').click();
  await expectVisible(page.locator(`[data-testid="invitation-row"][data-email="${invitee}"]`), 'the pending invitation');
  await expectVisible(t('members-notice'), 'the invitation confirmation');

  if (admin) {
    // An address that has an account is invited all the same (never added silently, never
    // told apart); the account joins by accepting the emailed invitation.
    state.step = 'invite an existing account';
    const t1 = Date.now() - 1000;
    await t('invite-email').fill(admin.email);
    await t('invite-role').selectOption('content_manager');
    await t('invite-submit').click();
    await expectVisible(page.locator(`[data-testid="invitation-row"][data-email="${admin.email}"]`), 'a pending invitation for the existing account');
    await expectCount(page.locator(`[data-testid="member-row"][data-email="${admin.email}"]`), 0, 'the existing account among members before accepting');
    const notice = (await t('members-notice').textContent()) ?? '';
    if (!/invitation sent/i.test(notice)) throw new Error(`the members notice reads "${notice}"`);

    state.step = 'existing account accepts the invitation';
    const mail = await waitForMail(mailDir, admin.email, { since: t1 });
    const m = /\/invite\?token=([^\s"'<>&]+)/.exec(mail);
    if (!m) throw new Error(`no invitation link in the email to ${admin.email}`);
    const login = await api(base, 'POST', '/api/auth/login', { email: admin.email, password: admin.password });
    if (login.status !== 200) throw new Error(`the admin could not sign in: ${login.status}`);
    const accepted = await api(base, 'POST', '/api/invitations/accept', { token: decodeURIComponent(m[1]) }, login.body.access_token);
    if (accepted.status >= 300) throw new Error(`POST /api/invitations/accept answered ${accepted.status} ${JSON.stringify(accepted.body)}`);
    await page.reload();
    await expectVisible(page.locator(`[data-testid="member-row"][data-email="${admin.email}"]`), 'the existing account among members after accepting');
    await expectCount(page.locator(`[data-testid="invitation-row"][data-email="${admin.email}"]`), 0, 'its invitation after accepting');
  }

  state.step = 'compose post';
  const word = `zebra${rnd}`;
  const title = `Launch teaser ${rnd}`;
  await t('nav-posts').click();
  await waitForPath(page, new RegExp(`^/w/${wsId}/posts$`), 'the posts page');
  await t('new-post').click();
  await waitForPath(page, new RegExp(`^/w/${wsId}/posts/new$`), 'the new post form');
  await t('post-title').fill(title);
  await t('platform-x').check();
  await t('platform-bluesky').check();
  let long = `Big news ${word}: our summer collection is here. `;
  while (long.length <= 320) long += 'Fresh colours, lighter fabrics and a few surprises we cannot wait to show you. ';
  await t('post-caption').fill(long.trim());
  const problems = t('problems-bluesky').locator('.problem');
  await expectVisible(problems, 'a live Bluesky problem for the long caption');
  log(`bluesky problem shown: "${(await problems.first().textContent())?.trim()}"`);
  const countText = (await t('count-bluesky').textContent())?.trim() ?? '';
  if (!/\/300$/.test(countText)) throw new Error(`Bluesky counter shows "${countText}", expected "…/300"`);
  if (!(await t('count-bluesky').getAttribute('class'))?.includes('over'))
    throw new Error('Bluesky counter is not marked as over the limit');

  state.step = 'fix and save post';
  const caption = `Big news ${word}: our summer collection is here. Swipe to see it first!`;
  await t('post-caption').fill(caption);
  await expectCount(t('problems-bluesky').locator('.problem'), 0, 'Bluesky problems after the fix');
  await expectCount(t('problems-x').locator('.problem'), 0, 'X problems after the fix');
  await t('post-save').click();
  await expectVisible(t('post-saved'), 'the "Saved" notice');
  await waitForPath(page, new RegExp(`^/w/${wsId}/posts/[0-9a-f-]{36}$`), 'the saved post URL');

  state.step = 'post in list';
  const row = (ttl) => page.locator(`[data-testid="post-row"][data-title="${ttl}"]`);
  await t('nav-posts').click();
  await waitForPath(page, new RegExp(`^/w/${wsId}/posts$`), 'the posts page');
  await expectVisible(row(title), `the post "${title}" in the list`);

  state.step = 'filters';
  await t('filter-q').fill(word);
  await page.waitForURL((u) => new URL(u).searchParams.get('q') === word, { timeout: STEP_TIMEOUT });
  await listSettled(page);
  await expectCount(t('post-row'), 1, 'rows when searching for the caption word');
  await expectVisible(row(title), 'the post found by text search');
  await t('filter-q').fill(`${word}-nomatch`);
  await expectVisible(t('posts-empty'), 'an empty list for a search that matches nothing');
  await t('filter-q').fill(word);
  await expectVisible(row(title), 'the post found by text search again');
  await t('filter-status').selectOption('published');
  await expectVisible(t('posts-empty'), 'an empty list when filtering by status "published"');
  await expectCount(row(title), 0, 'the post under status "published"');
  await t('filter-status').selectOption('draft');
  await expectVisible(row(title), 'the post under status "draft"');
  await t('filter-status').selectOption('');
  await listSettled(page);

  state.step = 'duplicate';
  await row(title).getByTestId('post-duplicate').click();
  const copyTitle = `${title} (copy)`;
  await expectVisible(row(copyTitle), `the duplicate "${copyTitle}"`);
  await expectCount(t('post-row'), 2, 'rows after duplicating');

  state.step = 'delete copy';
  page.once('dialog', (d) => void d.accept());
  await row(copyTitle).getByTestId('post-delete').click();
  await expectCount(row(copyTitle), 0, 'the deleted copy');
  await expectVisible(row(title), 'the original post after deleting the copy');

  state.step = 'reload keeps session and data';
  await page.reload();
  await listSettled(page);
  await expectVisible(row(title), 'the original post after a reload');
  await expectCount(row(copyTitle), 0, 'the deleted copy after a reload');

  state.step = 'sign-up does not make a super admin';
  const me = await api(base, 'POST', '/api/auth/login', { email, password });
  if (me.status !== 200 || me.body?.user?.is_super_admin !== false) throw new Error(`the signed-up owner: ${me.status} ${JSON.stringify(me.body?.user)}`);
  return { wsId, title, word, caption, ownerName: 'Olivia Owner', ownerEmail: email, invitee };
}

// ---------------------------------------------------------------- scenario 3: live composer

/** The text of a CodeMirror editor, without remote-cursor widgets and placeholders. */
async function editorText(page, testid) {
  return page.locator(`[data-testid="${testid}"] .cm-content`).evaluate((el) =>
    [...el.querySelectorAll('.cm-line')]
      .map((line) => {
        const c = line.cloneNode(true);
        c.querySelectorAll('.cm-ySelectionCaret, .cm-widgetBuffer, .cm-placeholder').forEach((x) => x.remove());
        return c.textContent.replace(/\u2060/g, '');
      })
      .join('\n'),
  );
}

/** The text each comment highlight covers in an editor: {commentId: text}. */
async function highlights(page, testid) {
  return page.locator(`[data-testid="${testid}"] .cm-content`).evaluate((el) => {
    const out = {};
    for (const m of el.querySelectorAll('.cm-comment-anchor[data-comment-id]')) {
      const c = m.cloneNode(true);
      c.querySelectorAll('.cm-ySelectionCaret, .cm-widgetBuffer').forEach((x) => x.remove());
      const id = m.getAttribute('data-comment-id');
      out[id] = (out[id] ?? '') + c.textContent.replace(/\u2060/g, '');
    }
    return out;
  });
}

/** Poll `get()` until `ok(value)`; fail with the last value. */
async function waitUntil(get, ok, what, timeout = STEP_TIMEOUT) {
  const end = Date.now() + timeout;
  let v;
  while (Date.now() < end) {
    try {
      v = await get();
      if (ok(v)) return v;
    } catch (e) {
      v = `(error: ${e instanceof Error ? e.message.split('\n')[0] : e})`;
    }
    await sleep(100);
  }
  throw new Error(`expected ${what}; last seen: ${JSON.stringify(v)}`);
}

/** Sign up through an invitation email sent to `email`; lands on the workspace. */
async function joinByInvitation(page, base, mailDir, email, name, password) {
  const mail = await waitForMail(mailDir, email);
  const m = /\/invite\?token=([^\s"'<>&]+)/.exec(mail);
  if (!m) throw new Error(`no invitation link in the email to ${email}`);
  await page.goto(`${base}/invite?token=${m[1]}`);
  await page.getByTestId('invite-register').click();
  await page.getByTestId('register-name').fill(name);
  await page.getByTestId('register-email').fill(email);
  await page.getByTestId('register-password').fill(password);
  await page.getByTestId('register-submit').click();
  await waitForPath(page, /^\/w\/[^/]+\/posts$/, `the workspace after ${name} joined`);
}

async function openLive(page, url, who) {
  await page.goto(url);
  await expectVisible(page.locator('[data-testid="collab-status"][data-status="synced"]'), `${who}'s editor synced with the live document`);
  await expectVisible(page.locator('[data-testid="post-caption"] .cm-content'), `${who}'s caption editor`);
}

/** With COPYDESK_E2E_SHOTS=<dir>, save a screenshot of `page` as <dir>/<name>.png. */
async function snap(page, name) {
  const dir = process.env.COPYDESK_E2E_SHOTS;
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`) });
}

/** The same path on another node. */
const onBase = (url, base) => base + new URL(url).pathname + new URL(url).search;

/**
 * `bases`: the node each person uses ({A, B, R}); `sockets`: the WebSockets each page
 * opened (see watchSockets).
 */
async function liveFlow(pages, bases, mailDir, info, state, sockets) {
  const { A, B, R } = pages;
  const password = 'correct horse battery staple';
  const nameB = 'Bruno Builder';
  const cap = '[data-testid="post-caption"] .cm-content';

  state.step = 'live: teammate joins';
  await joinByInvitation(B, bases.B, mailDir, info.invitee, nameB, password);

  state.step = 'live: both open the post';
  await A.goto(`${bases.A}/w/${info.wsId}/posts`);
  await listSettled(A);
  await A.locator(`[data-testid="post-row"][data-title="${info.title}"] [data-testid="post-link"]`).click();
  await waitForPath(A, new RegExp(`^/w/${info.wsId}/posts/[0-9a-f-]{36}$`), 'the post page');
  const postUrl = A.url();
  await expectVisible(A.locator('[data-testid="collab-status"][data-status="synced"]'), "the owner's editor synced");
  await openLive(B, onBase(postUrl, bases.B), 'the teammate');
  await waitUntil(() => editorText(B, 'post-caption'), (t) => t === info.caption, "the teammate's editor to show the saved caption");
  await waitUntil(() => A.locator('[data-testid="presence-user"]').evaluateAll((els) => els.map((e) => e.dataset.name)), (n) => n.includes(nameB), `${nameB} among the owner's "who is here" avatars`);
  await waitUntil(() => B.locator('[data-testid="presence-user"]').evaluateAll((els) => els.map((e) => e.dataset.name)), (n) => n.includes(info.ownerName), `${info.ownerName} among the teammate's avatars`);

  // A second tab of the owner (same browser profile: one refresh token for both) has the
  // post open too: the two tabs must not both refresh (one refresh at a time across tabs,
  // the new token shared), and both keep their sockets.
  state.step = 'live: the owner opens a second tab';
  const A2 = await pages.ownerTab();
  await openLive(A2, postUrl, "the owner's second tab");
  await A.bringToFront(); // the owner goes on in the first tab; the second stays open behind it

  // From here on, A's and B's sockets must stay open past their access tokens' expiry.
  const t0 = Date.now();
  const opened0 = sockets.counts();

  state.step = 'live: A types, B sees';
  await A.locator(cap).click();
  await A.keyboard.press('Control+End');
  await A.keyboard.type(' Hello from Olivia.');
  await waitUntil(() => editorText(B, 'post-caption'), (t) => t.endsWith(' Hello from Olivia.'), "the owner's typing in the teammate's editor");

  state.step = 'live: B types, A sees';
  await B.locator(cap).click();
  await B.keyboard.press('Control+End');
  await B.keyboard.type(' Bruno was here.');
  await waitUntil(() => editorText(A, 'post-caption'), (t) => t.endsWith(' Hello from Olivia. Bruno was here.'), "the teammate's typing in the owner's editor");

  state.step = 'live: remote cursors with names';
  const labels = (page) => page.locator(`${cap} .cm-ySelectionInfo`).allTextContents();
  await waitUntil(() => labels(A), (l) => l.includes(nameB), `${nameB}'s cursor label in the owner's editor`);
  await waitUntil(() => labels(B), (l) => l.includes(info.ownerName), `${info.ownerName}'s cursor label in the teammate's editor`);
  await expectVisible(A.locator(`${cap} .cm-ySelectionCaret`), "the teammate's caret in the owner's editor");
  await snap(A, '1-owner-cursors');
  await snap(B, '1-teammate-cursors');

  state.step = 'live: A comments on a selected word';
  const idx = info.caption.indexOf(info.word);
  await A.locator(cap).click();
  await A.keyboard.press('Control+Home');
  for (let i = 0; i < idx; i++) await A.keyboard.press('ArrowRight');
  for (let i = 0; i < info.word.length; i++) await A.keyboard.press('Shift+ArrowRight');
  await snap(A, '2-owner-selection');
  await A.getByTestId('comment-selection').click();
  await expectVisible(A.getByTestId('comment-pending-anchor'), 'the quoted selection above the comment box');
  await A.getByTestId('comment-body').fill('Is this the right word?');
  await A.getByTestId('comment-submit').click();
  const threadA = A.locator('[data-testid="comment-thread"]');
  await expectVisible(threadA, "the owner's new comment thread");
  const commentId = await threadA.first().getAttribute('data-comment-id');
  await waitUntil(() => highlights(A, 'post-caption'), (h) => h[commentId] === info.word, `the commented word "${info.word}" highlighted in the owner's editor`);

  state.step = 'live: B sees the anchored comment live';
  const threadB = B.locator(`[data-testid="comment-thread"][data-comment-id="${commentId}"]`);
  await expectVisible(threadB, 'the comment appearing in the teammate\'s sidebar without a reload');
  const bodyB = (await threadB.getByTestId('comment-body-text').first().textContent())?.trim();
  if (bodyB !== 'Is this the right word?') throw new Error(`teammate sees comment body "${bodyB}"`);
  await waitUntil(() => highlights(B, 'post-caption'), (h) => h[commentId] === info.word, "the commented word highlighted in the teammate's editor");

  state.step = 'live: the anchor survives an insert before it';
  await B.locator(cap).click();
  await B.keyboard.press('Control+Home');
  await B.keyboard.type('NEW! ');
  await waitUntil(() => editorText(A, 'post-caption'), (t) => t.startsWith('NEW! Big news'), "the teammate's insert in the owner's editor");
  await waitUntil(() => highlights(B, 'post-caption'), (h) => h[commentId] === info.word, 'the highlight still on the same word (teammate)');
  await waitUntil(() => highlights(A, 'post-caption'), (h) => h[commentId] === info.word, 'the highlight still on the same word (owner)');
  await snap(B, '3-teammate-anchor-after-insert');
  const quote = (await threadB.getByTestId('comment-quote').textContent()) ?? '';
  if (!quote.includes(info.word)) throw new Error(`the sidebar quote reads "${quote}"`);

  state.step = 'live: B replies, A sees it';
  await threadB.getByTestId('comment-reply').click();
  await threadB.getByTestId('comment-reply-body').fill('Yes, keep it.');
  await threadB.getByTestId('comment-reply-submit').click();
  await expectVisible(A.locator(`[data-testid="comment-thread"][data-comment-id="${commentId}"] [data-testid="comment-reply-item"]`), "the teammate's reply in the owner's sidebar");

  state.step = 'live: A saves a named version';
  const savedText = await editorText(A, 'post-caption');
  await A.getByTestId('side-tab-history').click();
  await A.getByTestId('version-name').fill('Before rewrite');
  await A.getByTestId('version-save').click();
  const vrow = A.locator('[data-testid="version-row"][data-name="Before rewrite"]');
  await expectVisible(vrow, 'the named version in the history');

  state.step = 'live: A edits after the version';
  await A.locator(cap).click();
  await A.keyboard.press('Control+End');
  await A.keyboard.type(' DROP THIS LATER.');
  await waitUntil(() => editorText(B, 'post-caption'), (t) => t.endsWith('DROP THIS LATER.'), "the owner's edit in the teammate's editor");

  state.step = 'live: A views the version diff and restores it';
  await vrow.getByTestId('version-open').click();
  const view = vrow.getByTestId('version-view');
  await expectVisible(view.getByTestId('version-diff'), "the version's changes");
  const ins = await view.locator('ins.diff-ins').allTextContents();
  if (!ins.join(' ').includes('DROP')) throw new Error(`the diff does not show the later edit as added (ins: ${JSON.stringify(ins)})`);
  await snap(A, '4-owner-version-diff');
  A.once('dialog', (d) => void d.accept());
  await view.getByTestId('version-restore').click();
  await waitUntil(() => editorText(A, 'post-caption'), (t) => t === savedText, "the restored text in the owner's editor");
  await waitUntil(() => editorText(B, 'post-caption'), (t) => t === savedText, "the restored text in the teammate's editor");
  await snap(B, '5-teammate-after-restore');

  state.step = 'live: A attaches media by URL, B sees it';
  // Typed character by character: the document (whose server refuses a media entry without
  // a complete http(s) URL, closing the socket) only gets the URL once it is complete.
  const mediaUrl = 'https://cdn.example.com/launch.png';
  await A.getByTestId('media-add').click();
  await A.getByTestId('media-url').last().click();
  await A.keyboard.type(mediaUrl);
  await A.getByTestId('media-alt').last().fill('The launch banner');
  const mediaValues = (page) => page.getByTestId('media-url').evaluateAll((els) => els.map((e) => e.value));
  await waitUntil(() => mediaValues(B), (v) => v.includes(mediaUrl), "the owner's media URL in the teammate's form");
  await waitUntil(() => B.getByTestId('media-alt').evaluateAll((els) => els.map((e) => e.value)), (v) => v.includes('The launch banner'), "the media's alt text in the teammate's form");
  await expectVisible(A.locator('[data-testid="collab-status"][data-status="synced"]'), "the owner's editor still live after attaching media");

  state.step = 'live: sockets outlive their access tokens';
  if (ACCESS_TTL <= 120) {
    const wait = ACCESS_TTL * 1000 + 8000 - (Date.now() - t0);
    if (wait > 0) {
      log(`waiting ${Math.ceil(wait / 1000)} s more: the sockets must outlive their first access token (${ACCESS_TTL} s)`);
      await sleep(wait);
    }
    await A.locator(cap).click();
    await A.keyboard.press('Control+End');
    await A.keyboard.type(' Still live.');
    await waitUntil(() => editorText(B, 'post-caption'), (t) => t.endsWith(' Still live.'), "the owner's typing in the teammate's editor after the tokens expired");
    await waitUntil(() => editorText(A2, 'post-caption'), (t) => t.endsWith(' Still live.'), "the owner's typing in the owner's second tab");
    const now = sockets.counts();
    for (const who of ['owner', 'owner-tab2', 'teammate']) {
      for (const kind of ['collab', 'events']) {
        const k = `${who}/${kind}`;
        if ((now[k] ?? 0) !== (opened0[k] ?? 0)) {
          throw new Error(`${who}'s ${kind} socket was reopened ${(now[k] ?? 0) - (opened0[k] ?? 0)} time(s) while its access token expired (it should have been renewed in band)`);
        }
      }
      if (!sockets.sentInBandAuth(who, 'collab')) throw new Error(`${who} never sent an in-band auth message (2, 1, token) on the collab socket`);
      if (!sockets.sentInBandAuth(who, 'events')) throw new Error(`${who} never sent {"type":"auth"} on the events socket`);
      if (!sockets.receivedAuthOk(who)) throw new Error(`${who}'s events socket never got "auth.ok"`);
    }
    const refused = sockets.refreshes().filter((r) => r.status !== 200);
    if (refused.length) throw new Error(`refreshes refused: ${JSON.stringify(refused)}`);
    // The owner's tabs share a refresh token: one refresh per renewal, never one each.
    const ownerTimes = sockets.refreshes().filter((r) => r.who.startsWith('owner') && r.at >= t0).map((r) => r.at).sort((a, b) => a - b);
    if (ownerTimes.length === 0) throw new Error("the owner's tabs never refreshed while their tokens expired");
    for (let i = 1; i < ownerTimes.length; i++) {
      if (ownerTimes[i] - ownerTimes[i - 1] < 3000) throw new Error(`the owner's two tabs both refreshed for the same expiry (${ownerTimes[i] - ownerTimes[i - 1]} ms apart)`);
    }
  } else log(`access tokens last ${ACCESS_TTL} s: not waiting for them to expire`);
  await A2.close();

  state.step = 'live: reviewer is read-only';
  const reviewer = `reviewer-${Math.random().toString(36).slice(2, 8)}@example.com`;
  await A.goto(`${bases.A}/w/${info.wsId}/members`);
  await A.getByTestId('invite-email').fill(reviewer);
  await A.getByTestId('invite-role').selectOption('reviewer');
  await A.getByTestId('invite-submit').click();
  await expectVisible(A.locator(`[data-testid="invitation-row"][data-email="${reviewer}"]`), 'the reviewer invitation');
  await joinByInvitation(R, bases.R, mailDir, reviewer, 'Rita Reviewer', password);
  await openLive(R, onBase(postUrl, bases.R), 'the reviewer');
  await expectVisible(R.locator('[data-testid="post-caption"][data-readonly="true"]'), "the reviewer's caption editor marked read-only");
  await expectVisible(R.getByTestId('post-readonly'), 'the read-only notice');
  const before = await editorText(R, 'post-caption');
  await R.locator(cap).click();
  await R.keyboard.press('Control+End');
  await R.keyboard.type('HACKED');
  await sleep(800);
  const after = await editorText(R, 'post-caption');
  if (after !== before) throw new Error(`the reviewer could type: "${after}"`);
  const onB = await editorText(B, 'post-caption');
  if (onB.includes('HACKED')) throw new Error('the reviewer\'s typing reached the teammate');
  await expectVisible(R.locator(`[data-testid="comment-thread"][data-comment-id="${commentId}"]`), 'the comment thread for the reviewer');
  await snap(R, '6-reviewer-readonly');

  state.step = 'live: a demoted editor goes read-only on the open socket';
  const bSockets = sockets.counts()['teammate/collab'] ?? 0;
  const bBefore = await editorText(B, 'post-caption');
  await A.locator(`[data-testid="member-row"][data-email="${info.invitee}"] [data-testid="member-role"]`).selectOption('reviewer');
  await expectVisible(A.getByTestId('members-notice'), 'the role change confirmation');
  await expectVisible(B.locator('[data-testid="post-caption"][data-readonly="true"]'), "the demoted teammate's caption editor marked read-only");
  await expectVisible(B.getByTestId('post-readonly'), "the read-only notice for the demoted teammate");
  await B.locator(cap).click();
  await B.keyboard.press('Control+End');
  await B.keyboard.type('DEMOTED');
  await sleep(800);
  if ((await editorText(B, 'post-caption')) !== bBefore) throw new Error('the demoted teammate could still type');
  if ((await editorText(A, 'post-caption').catch(() => '')).includes('DEMOTED')) throw new Error("the demoted teammate's typing reached the owner");
  if ((sockets.counts()['teammate/collab'] ?? 0) !== bSockets) throw new Error("the demoted teammate's collab socket was reopened (it should stay open, read-only)");
  await snap(B, '7-teammate-demoted');

  state.step = 'live: a removed member loses access without reconnecting';
  A.once('dialog', (d) => void d.accept());
  await A.locator(`[data-testid="member-row"][data-email="${reviewer}"] [data-testid="member-remove"]`).click();
  await expectCount(A.locator(`[data-testid="member-row"][data-email="${reviewer}"]`), 0, 'the removed reviewer among members');
  await expectVisible(R.getByTestId('post-access-lost'), 'the "no longer have access" state for the removed reviewer');
  const heading = (await R.getByTestId('post-access-lost').locator('h1').textContent())?.trim();
  if (heading !== 'You no longer have access to this post.') throw new Error(`the access-lost heading reads "${heading}"`);
  const rSockets = sockets.counts()['reviewer/collab'] ?? 0;
  await sleep(3000);
  const rAfter = sockets.counts()['reviewer/collab'] ?? 0;
  if (rAfter !== rSockets) throw new Error(`the removed reviewer reopened the collab socket ${rAfter - rSockets} time(s) after losing access`);
  await snap(R, '8-reviewer-removed');

  state.step = 'live: sockets open with tickets only';
  const bad = sockets.all().filter((x) => !/[?&]ticket=/.test(x.url) || /[?&]token=/.test(x.url));
  if (bad.length) throw new Error(`sockets opened without a ticket or with a token in the URL:\n  ${bad.map((x) => `${x.who}: ${x.url.replace(/(ticket|token)=[^&]+/g, '$1=…')}`).join('\n  ')}`);
}

// ---------------------------------------------------------------- main

/** Records the WebSockets every page opens: URL, frames sent and received. */
function socketRecorder() {
  const list = [];
  /** Every POST /api/auth/refresh answered: {who, status, at}. */
  const refreshes = [];
  const kindOf = (url) => (/\/api\/collab\//.test(url) ? 'collab' : /\/api\/events/.test(url) ? 'events' : 'other');
  return {
    watch(pg, who) {
      pg.on('response', (r) => {
        if (new URL(r.url()).pathname === '/api/auth/refresh') refreshes.push({ who, status: r.status(), at: Date.now() });
      });
      pg.on('websocket', (ws) => {
        const rec = { who, url: ws.url(), kind: kindOf(ws.url()), sent: [], received: [] };
        list.push(rec);
        ws.on('framesent', (f) => rec.sent.push(f.payload));
        ws.on('framereceived', (f) => {
          // Keep text frames (events) and nothing of the binary document traffic.
          if (typeof f.payload === 'string') rec.received.push(f.payload);
        });
      });
    },
    all: () => list,
    refreshes: () => refreshes,
    /** {"<who>/<kind>": sockets opened so far}. */
    counts() {
      const c = {};
      for (const x of list) c[`${x.who}/${x.kind}`] = (c[`${x.who}/${x.kind}`] ?? 0) + 1;
      return c;
    },
    sentInBandAuth(who, kind) {
      return list.some(
        (x) =>
          x.who === who &&
          x.kind === kind &&
          x.sent.some((p) =>
            kind === 'collab'
              ? typeof p !== 'string' && p.length > 2 && p[0] === 2 && p[1] === 1
              : typeof p === 'string' && /"type"\s*:\s*"auth"/.test(p),
          ),
      );
    },
    receivedAuthOk(who) {
      return list.some((x) => x.who === who && x.kind === 'events' && x.received.some((p) => /"type"\s*:\s*"auth\.ok"/.test(p)));
    },
  };
}

const BROWSER_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function main() {
  const scenarios = ['setup', 'accounts and posts', ...(LIVE ? ['live composer'] : []), ...(APPROVALS ? ['approvals'] : [])];
  const results = new Map(); // name -> 'passed' | 'failed'
  const summary = () => {
    const passed = [...results.values()].filter((r) => r === 'passed').length;
    return { passed, failed: scenarios.length - passed };
  };

  if (!fs.existsSync(path.join(DIST_DIR, 'index.html'))) {
    log('web/dist missing: running npm run build');
    const r = spawnSync('npm', ['run', 'build'], { cwd: WEB_DIR, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm run build failed');
  }
  if (!fs.existsSync(BIN)) throw new Error(`server binary not found: ${BIN} (set COPYDESK_BIN)`);
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install -y chromium)`);
  if (NODES !== 1 && NODES !== 2) throw new Error(`COPYDESK_E2E_NODES must be 1 or 2, not ${process.env.COPYDESK_E2E_NODES}`);
  if (NODES === 2 && (!DATABASE_URL.startsWith('postgres') || !REDIS_URL)) {
    throw new Error('two nodes need a shared PostgreSQL database and Redis: set COPYDESK_E2E_DATABASE_URL=postgres://… and COPYDESK_E2E_REDIS_URL=redis://…');
  }

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'copydesk-e2e-'));
  const mailDir = path.join(tmp, 'mail');
  fs.mkdirSync(mailDir, { recursive: true });
  const shared = clusterEnv(tmp);
  const servers = [];
  let context = null;
  let browser2 = null;
  const state = { step: 'start server' };
  const browserErrors = [];
  const shots = [];
  const sockets = socketRecorder();

  const fail = async (scenario, e) => {
    results.set(scenario, 'failed');
    console.error(`[e2e] FAILED (${scenario}) at step "${state.step}": ${e instanceof Error ? e.message : e}`);
    for (const [pg, who] of shots) {
      const shot = `/tmp/e2e-${state.step.replace(/[^a-z0-9]+/gi, '-')}-${who}.png`;
      try {
        await pg.screenshot({ path: shot, fullPage: true });
        console.error(`[e2e] screenshot: ${shot} (page ${pg.url()})`);
      } catch (se) {
        console.error(`[e2e] screenshot failed: ${se}`);
      }
    }
    if (browserErrors.length) console.error(`[e2e] browser errors:\n  ${browserErrors.join('\n  ')}`);
    for (const s of servers) console.error(`[e2e] last output of node ${s.node}:\n  ${s.output.slice(-40).join('\n  ')}`);
  };

  try {
    // Node 1 first: it applies the migrations; then the others on the same database.
    const bases = [];
    for (let n = 1; n <= NODES; n++) {
      const server = startServer(tmp, n, shared, mailDir);
      servers.push(server);
      bases.push(`http://${await server.ready}`);
      log(`node ${n} listening at ${bases[n - 1]}${DATABASE_URL ? ` (${DATABASE_URL.split(':')[0]}${REDIS_URL ? ' + redis' : ''})` : ''}`);
    }
    const base1 = bases[0];
    const base2 = bases[NODES - 1];

    state.step = 'launch browser';
    context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
      executablePath: CHROMIUM,
      headless: process.env.COPYDESK_E2E_HEADFUL !== '1',
      args: process.env.COPYDESK_E2E_HEADFUL === '1' ? BROWSER_ARGS : ['--headless', ...BROWSER_ARGS],
      viewport: { width: 1280, height: 900 },
    });
    context.setDefaultTimeout(STEP_TIMEOUT);
    const page = context.pages()[0] ?? (await context.newPage());
    const watch = (pg, who) => {
      shots.push([pg, who]);
      sockets.watch(pg, who);
      pg.on('console', (msg) => {
        if (msg.type() === 'error') browserErrors.push(`${who} console: ${msg.text()}`);
      });
      pg.on('pageerror', (e) => browserErrors.push(`${who} pageerror: ${e.message}`));
      pg.on('response', (r) => {
        if (r.status() >= 500) browserErrors.push(`${who} HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
      });
    };
    watch(page, 'owner');
    const checkErrors = () => {
      const csp = browserErrors.filter((e) => /Content Security Policy/i.test(e));
      if (csp.length) throw new Error(`CSP violations:\n  ${csp.join('\n  ')}`);
      const fatal = browserErrors.filter((e) => / pageerror: | HTTP 5/.test(e));
      if (fatal.length) throw new Error(`browser errors:\n  ${fatal.join('\n  ')}`);
    };

    // Scenario 1: the first super admin, through the one-time setup link.
    let admin = null;
    try {
      admin = await setupFlow(page, base1, servers, state);
      checkErrors();
      results.set('setup', 'passed');
      log('setup completed');
    } catch (e) {
      await fail('setup', e);
      admin = null;
    }

    // Scenario 2: accounts, workspace, members, composing and listing posts (one browser).
    let info = null;
    try {
      info = await flow(page, base1, mailDir, state, admin);
      checkErrors();
      results.set('accounts and posts', 'passed');
      log('flow completed');
    } catch (e) {
      await fail('accounts and posts', e);
    }

    // Scenario 3: the live composer: two people co-writing, comments, history, a reviewer,
    // token renewal on open sockets, demotion and removal while connected.
    if (LIVE && info) {
      try {
        state.step = 'live: launch second browser';
        browser2 = await chromium.launch({
          executablePath: CHROMIUM,
          headless: process.env.COPYDESK_E2E_HEADFUL !== '1',
          args: BROWSER_ARGS,
        });
        const newPage = async (who) => {
          const ctx = await browser2.newContext({ viewport: { width: 1280, height: 900 } });
          ctx.setDefaultTimeout(STEP_TIMEOUT);
          const pg = await ctx.newPage();
          watch(pg, who);
          return pg;
        };
        const B = await newPage('teammate');
        const R = await newPage('reviewer');
        if (NODES > 1) log(`owner on node 1 (${base1}), teammate and reviewer on node 2 (${base2})`);
        const ownerTab = async () => {
          const pg = await context.newPage();
          watch(pg, 'owner-tab2');
          return pg;
        };
        await liveFlow({ A: page, B, R, ownerTab }, { A: base1, B: base2, R: base2 }, mailDir, info, state, sockets);
        checkErrors();
        results.set('live composer', 'passed');
        log('live composer flow completed');
      } catch (e) {
        await fail('live composer', e);
      }
    } else if (LIVE) {
      console.error('[e2e] live composer not run: the accounts and posts scenario failed');
    }

    // Scenario 4: approvals, the client review link and notifications (e2e/approvals.mjs).
    if (APPROVALS && info) {
      try {
        state.step = 'approvals: launch browser';
        browser2 ??= await chromium.launch({
          executablePath: CHROMIUM,
          headless: process.env.COPYDESK_E2E_HEADFUL !== '1',
          args: BROWSER_ARGS,
        });
        const newPage = async (who, opts = {}) => {
          const ctx = await browser2.newContext({ viewport: { width: 1280, height: 900 }, ...opts });
          ctx.setDefaultTimeout(STEP_TIMEOUT);
          const pg = await ctx.newPage();
          watch(pg, who);
          return pg;
        };
        await approvalsFlow({ A: page, newPage }, base1, mailDir, info, state, { expectVisible, expectCount, waitUntil, waitForPath, joinByInvitation, snap });
        checkErrors();
        results.set('approvals', 'passed');
        log('approvals flow completed');
      } catch (e) {
        await fail('approvals', e);
      }
    } else if (APPROVALS) {
      console.error('[e2e] approvals not run: the accounts and posts scenario failed');
    }
  } catch (e) {
    await fail('(harness)', e);
  } finally {
    if (browser2) await browser2.close().catch(() => {});
    if (context) await context.close().catch(() => {});
    for (const s of servers.slice().reverse()) await stopServer(s.child);
    if (KEEP) log(`kept ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }
  for (const name of scenarios) log(`${results.get(name) === 'passed' ? 'PASS' : 'FAIL'}  ${name}`);
  return summary();
}

main()
  .catch((e) => {
    console.error(`[e2e] ${e instanceof Error ? e.message : e}`);
    return { passed: 0, failed: 2 + (LIVE ? 1 : 0) + (APPROVALS ? 1 : 0) };
  })
  .then(({ passed, failed }) => {
    console.log(`e2e: ${passed} passed, ${failed} failed`);
    process.exit(failed === 0 ? 0 : 1);
  });
