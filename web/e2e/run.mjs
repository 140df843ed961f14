#!/usr/bin/env node
// End-to-end test of the Copydesk web UI against a real server binary.
//
//   npm run e2e                                   # uses ../target/debug/copydesk
//   COPYDESK_BIN=/path/to/copydesk npm run e2e
//   COPYDESK_BIN=e2e/mock-server.mjs npm run e2e  # against the in-memory mock
//
// Env:
//   COPYDESK_BIN        server binary (default ../target/debug/copydesk, relative to web/)
//   COPYDESK_E2E_ARGS   extra CLI args for the server (space separated, default none)
//   COPYDESK_CHROMIUM   browser binary (or CHROMIUM; default /usr/bin/chromium)
//   COPYDESK_E2E_KEEP=1 keep the temp dir (database, mail, browser profile)
//   COPYDESK_E2E_HEADFUL=1 show the browser (needs a display)
//
// Starts its own server on a free port with a fresh SQLite database and a mail
// outbox directory, then drives Chromium through: register → verify via the
// emailed link → create workspace → invite a member → create a post whose
// caption is too long for Bluesky (problem shown live) → fix → save → list →
// search / status filters → duplicate → delete the copy.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPO_DIR = path.resolve(WEB_DIR, '..');
const DIST_DIR = path.join(WEB_DIR, 'dist');
const BIN = path.resolve(WEB_DIR, process.env.COPYDESK_BIN || '../target/debug/copydesk');
const BIN_ARGS = (process.env.COPYDESK_E2E_ARGS ?? '').split(/\s+/).filter(Boolean);
const CHROMIUM = process.env.COPYDESK_CHROMIUM || process.env.CHROMIUM || '/usr/bin/chromium';
const KEEP = process.env.COPYDESK_E2E_KEEP === '1';
const STEP_TIMEOUT = 15_000;

const log = (...a) => console.log('[e2e]', ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- server

function startServer(tmp) {
  const mailDir = path.join(tmp, 'mail');
  fs.mkdirSync(mailDir, { recursive: true });
  const env = {
    ...process.env,
    COPYDESK__SERVER__PORT: '0',
    COPYDESK__DATABASE__URL: `sqlite://${path.join(tmp, 'e2e.db')}?mode=rwc`,
    COPYDESK__MAIL__OUTBOX_DIR: mailDir,
    COPYDESK__STATIC__DIR: DIST_DIR,
    RUST_LOG: process.env.RUST_LOG ?? 'info',
  };
  const child = spawn(BIN, BIN_ARGS, { cwd: REPO_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = [];
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
        child.emit('line', line);
      }
    });
  };
  remember(child.stdout, 'out');
  remember(child.stderr, 'err');

  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not log "listening" within 60 s')), 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${BIN}: ${e.message}`));
    });
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`server exited early (code ${code}, signal ${sig})`));
    });
    child.on('line', (line) => {
      if (!line.includes('listening')) return;
      const addr = findAddr(line);
      if (!addr) return;
      clearTimeout(timer);
      resolve(addr);
    });
  });
  return { child, output, mailDir, ready };
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

async function flow(page, base, mailDir, state) {
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
}

// ---------------------------------------------------------------- main

async function main() {
  if (!fs.existsSync(path.join(DIST_DIR, 'index.html'))) {
    log('web/dist missing: running npm run build');
    const r = spawnSync('npm', ['run', 'build'], { cwd: WEB_DIR, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm run build failed');
  }
  if (!fs.existsSync(BIN)) throw new Error(`server binary not found: ${BIN} (set COPYDESK_BIN)`);
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install -y chromium)`);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'copydesk-e2e-'));
  const server = startServer(tmp);
  let context = null;
  let page = null;
  const state = { step: 'start server' };
  const browserErrors = [];
  let passed = false;

  try {
    const addr = await server.ready;
    const base = `http://${addr}`;
    log(`server listening at ${base}`);

    state.step = 'launch browser';
    context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
      executablePath: CHROMIUM,
      headless: process.env.COPYDESK_E2E_HEADFUL !== '1',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ].filter((a) => a !== '--headless' || process.env.COPYDESK_E2E_HEADFUL !== '1'),
      viewport: { width: 1280, height: 900 },
    });
    context.setDefaultTimeout(STEP_TIMEOUT);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (msg) => {
      if (msg.type() === 'error') browserErrors.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (e) => browserErrors.push(`pageerror: ${e.message}`));
    page.on('response', (r) => {
      if (r.status() >= 500) browserErrors.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
    });

    await flow(page, base, server.mailDir, state);

    const csp = browserErrors.filter((e) => /Content Security Policy/i.test(e));
    if (csp.length) throw new Error(`CSP violations:\n  ${csp.join('\n  ')}`);
    const fatal = browserErrors.filter((e) => e.startsWith('pageerror') || e.startsWith('HTTP 5'));
    if (fatal.length) throw new Error(`browser errors:\n  ${fatal.join('\n  ')}`);
    passed = true;
    log('flow completed');
  } catch (e) {
    console.error(`[e2e] FAILED at step "${state.step}": ${e instanceof Error ? e.message : e}`);
    if (page) {
      const shot = `/tmp/e2e-${state.step.replace(/[^a-z0-9]+/gi, '-')}.png`;
      try {
        await page.screenshot({ path: shot, fullPage: true });
        console.error(`[e2e] screenshot: ${shot} (page ${page.url()})`);
      } catch (se) {
        console.error(`[e2e] screenshot failed: ${se}`);
      }
    }
    if (browserErrors.length) console.error(`[e2e] browser errors:\n  ${browserErrors.join('\n  ')}`);
    console.error(`[e2e] last server output:\n  ${server.output.slice(-40).join('\n  ')}`);
  } finally {
    if (context) await context.close().catch(() => {});
    await stopServer(server.child);
    if (KEEP) log(`kept ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }
  return passed;
}

main()
  .catch((e) => {
    console.error(`[e2e] ${e instanceof Error ? e.message : e}`);
    return false;
  })
  .then((ok) => {
    console.log(ok ? 'e2e: 1 passed, 0 failed' : 'e2e: 0 passed, 1 failed');
    process.exit(ok ? 0 : 1);
  });
