// Interop: stock npm clients — `yjs` + `y-websocket`'s WebsocketProvider, unmodified, in
// Node (with the `ws` package as its WebSocket) — co-edit a post through a real Copydesk
// server, the way any client would use its socket contract:
//
//   - every connection opens with a single-use ticket (POST /api/auth/ws-ticket), put in
//     the provider's `params` before each connect();
//   - a connection's access ends at its access token's expiry (close 4401) unless the client
//     sends a fresh token in band (y-protocols message 2 "auth", subtype 1, the token);
//   - the event stream takes {"type":"auth","token"} and answers auth.ok.
//
//   COPYDESK_BIN=../target/debug/copydesk node e2e/interop.mjs
//   # two nodes sharing PostgreSQL + Redis (an empty database): client A on node 1, B on node 2
//   COPYDESK_E2E_NODES=2 COPYDESK_E2E_DATABASE_URL=postgres://…/copydesk_interop \
//     COPYDESK_E2E_REDIS_URL=redis://… node e2e/interop.mjs
//
// Env: COPYDESK_BIN, COPYDESK_E2E_NODES (1|2), COPYDESK_E2E_DATABASE_URL (default SQLite),
// COPYDESK_E2E_REDIS_URL, COPYDESK_INTEROP_ACCESS_TTL (access-token lifetime in seconds the
// server gets, default 8: short, so that a socket outlives a token).
// Prints `interop: N passed, M failed` last (one per check); exits non-zero on failure.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import WebSocket from 'ws';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import { WebsocketProvider } from 'y-websocket';

const BIN = path.resolve(process.env.COPYDESK_BIN || new URL('../../target/debug/copydesk', import.meta.url).pathname);
const NODES = Number(process.env.COPYDESK_E2E_NODES || 1);
const DATABASE_URL = process.env.COPYDESK_E2E_DATABASE_URL || '';
const REDIS_URL = process.env.COPYDESK_E2E_REDIS_URL || '';
const TTL = Number(process.env.COPYDESK_INTEROP_ACCESS_TTL || 8);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'copydesk-interop-'));
const mailDir = path.join(tmp, 'mail');
const servers = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function startServer(node, shared) {
  return new Promise((resolve, reject) => {
    const dataDir = path.join(tmp, `node${node}`);
    fs.mkdirSync(dataDir, { recursive: true });
    const env = {
      ...process.env,
      ...shared,
      COPYDESK__SERVER__PORT: '0',
      COPYDESK__DATABASE__DATA_DIR: dataDir,
      COPYDESK__MAIL__OUTBOX_DIR: mailDir,
      COPYDESK__STATIC__DIR: path.join(tmp, 'none'),
      COPYDESK__LOG__LEVEL: 'info',
    };
    if (!REDIS_URL) delete env.COPYDESK__REDIS__URL;
    const server = spawn(BIN, ['serve'], { cwd: tmp, env, stdio: ['ignore', 'pipe', 'inherit'] });
    servers.push(server);
    server.on('exit', (code) => reject(new Error(`node ${node}: server exited with ${code}`)));
    readline.createInterface({ input: server.stdout }).on('line', (line) => {
      if (line.includes('"listening"')) {
        const m = /"addr"\s*:\s*"([^"]+)"/.exec(line);
        if (m) resolve(`http://${m[1].replace(/^0\.0\.0\.0:/, '127.0.0.1:')}`);
      }
    });
  });
}

async function waitFor(what, pred, ms = 10000) {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function api(base, method, p, body, token) {
  const res = await fetch(base + p, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** A signed-in session: an access token renewed (refresh rotates) when near expiry. */
class Session {
  constructor(base, auth) {
    this.base = base;
    this.set(auth);
  }
  set(auth) {
    this.accessToken = auth.access_token;
    this.refreshToken = auth.refresh_token;
    this.expiresAt = Date.now() + auth.expires_in * 1000;
  }
  async refresh() {
    this.set(await api(this.base, 'POST', '/api/auth/refresh', { refresh_token: this.refreshToken }));
    return this.accessToken;
  }
  async access(minValidMs = 3000) {
    if (this.expiresAt - Date.now() < minValidMs) await this.refresh();
    return this.accessToken;
  }
  async ticket(base = this.base) {
    const t = await api(base, 'POST', '/api/auth/ws-ticket', {}, await this.access());
    if (typeof t?.ticket !== 'string' || !t.ticket) throw new Error(`ws-ticket answered ${JSON.stringify(t)}`);
    return t.ticket;
  }
}

/** The in-band re-authentication frame: auth (2), subtype token (1), the access token. */
function authFrame(token) {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, 2);
  encoding.writeVarUint(enc, 1);
  encoding.writeVarString(enc, token);
  return encoding.toUint8Array(enc);
}

/** A stock provider; `closes` collects the close codes it sees. */
function provider(base, postId, ticket, doc) {
  const p = new WebsocketProvider(base.replace(/^http/, 'ws') + '/api/collab', postId, doc, {
    params: { ticket },
    WebSocketPolyfill: WebSocket,
    disableBc: true,
  });
  p.closes = [];
  p.on('connection-close', (ev) => p.closes.push(ev?.code ?? null));
  return p;
}

/** Reconnect a stock provider the ticket way: a new ticket in params, then connect(). */
async function reconnect(p, session, base) {
  p.params = { ticket: await session.ticket(base) };
  p.connect();
}

/** Open a raw socket; resolves with 'open' or the refusal ('unexpected-response <status>' / 'close <code>'). */
function rawOpen(url) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('open', () => {
      resolve({ result: 'open', ws });
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve({ result: `unexpected-response ${res.statusCode}` });
      ws.terminate();
    });
    ws.on('error', () => resolve({ result: 'error' }));
    ws.on('close', (code) => resolve({ result: `close ${code}` }));
  });
}

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

const ctx = {};

test('stock clients co-edit through the server (a ticket per connection)', async () => {
  const shared = {
    COPYDESK__DATABASE__URL: DATABASE_URL || `sqlite://${path.join(tmp, 'interop.db')}?mode=rwc`,
    COPYDESK__AUTH__JWT_SECRET: randomBytes(32).toString('hex'),
    COPYDESK__SECURITY__ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    COPYDESK__AUTH__ACCESS_TTL_SECS: String(TTL),
    ...(REDIS_URL ? { COPYDESK__REDIS__URL: REDIS_URL, COPYDESK__REDIS__PREFIX: `interop-${randomBytes(4).toString('hex')}` } : {}),
  };
  ctx.bases = [];
  for (let n = 1; n <= NODES; n++) ctx.bases.push(await startServer(n, shared)); // node 1 migrates first
  const [baseA] = ctx.bases;
  const baseB = ctx.bases[NODES - 1];
  console.log(`[interop] ${NODES} node(s): ${ctx.bases.join(', ')}${DATABASE_URL ? ` on ${DATABASE_URL.split(':')[0]}` : ''}${REDIS_URL ? ' + redis' : ''}`);

  await api(baseA, 'POST', '/api/auth/register', { email: 'interop@example.com', password: 'tidy-otter-lamp-42', name: 'Interop' });
  let token;
  await waitFor('the verification email', () => {
    if (!fs.existsSync(mailDir)) return false;
    for (const f of fs.readdirSync(mailDir)) {
      // Undo quoted-printable soft line breaks and "=3D" only if the mailer used them: in
      // plain text a token may itself start with "3D" right after "token=".
      const raw = fs.readFileSync(path.join(mailDir, f), 'utf8');
      const text = /^content-transfer-encoding:\s*quoted-printable/im.test(raw)
        ? raw.replace(/=\r?\n/g, '').replace(/=3D/gi, '=')
        : raw;
      const m = text.match(/verify-email\?token=([A-Za-z0-9_-]+)/);
      if (m) token = m[1];
    }
    return Boolean(token);
  });
  const session = new Session(baseA, await api(baseA, 'POST', '/api/auth/verify-email', { token, password: 'tidy-otter-lamp-42' }));
  ctx.session = session;
  const ws = await api(baseA, 'POST', '/api/workspaces', { name: 'Interop' }, await session.access());
  const post = await api(baseA, 'POST', `/api/workspaces/${ws.id}/posts`, { title: 'Interop', caption: 'Hello', platforms: ['x'] }, await session.access());
  ctx.post = post;

  ctx.docA = new Y.Doc();
  ctx.docB = new Y.Doc();
  ctx.a = provider(baseA, post.id, await session.ticket(baseA), ctx.docA);
  ctx.b = provider(baseB, post.id, await session.ticket(baseB), ctx.docB);
  ctx.baseA = baseA;
  ctx.baseB = baseB;
  await waitFor('both providers to sync', () => ctx.a.synced && ctx.b.synced);
  const textA = ctx.docA.getText('caption');
  const textB = ctx.docB.getText('caption');
  if (textA.toString() !== 'Hello') throw new Error(`initial caption is ${JSON.stringify(textA.toString())}`);

  textA.insert(5, ' from A');
  await waitFor('B to see A', () => textB.toString() === 'Hello from A');
  textB.insert(0, 'B says: ');
  await waitFor('A to see B', () => textA.toString() === 'B says: Hello from A');
});

test('awareness both ways', async () => {
  // (The server stamps user.id and user.name with the signed-in user's; the colour is ours.)
  ctx.a.awareness.setLocalStateField('user', { name: 'Ana', color: '#e11d48' });
  await waitFor("B to see A's cursor state", () => ctx.b.awareness.getStates().get(ctx.docA.clientID)?.user?.color === '#e11d48');
  ctx.b.awareness.setLocalStateField('user', { name: 'Bo', color: '#2563eb' });
  await waitFor("A to see B's cursor state", () => ctx.a.awareness.getStates().get(ctx.docB.clientID)?.user?.color === '#2563eb');
});

test('a reconnect with a new ticket resyncs both ways', async () => {
  const textA = ctx.docA.getText('caption');
  const textB = ctx.docB.getText('caption');
  ctx.b.disconnect();
  textA.insert(textA.length, '!');
  textB.insert(0, '>'); // made offline: must not be lost
  await reconnect(ctx.b, ctx.session, ctx.baseB);
  await waitFor('B to resync after reconnecting', () => textB.toString() === '>B says: Hello from A!');
  await waitFor("A to get B's offline edit", () => textA.toString() === '>B says: Hello from A!');
  // The REST view is the same document.
  await waitFor('REST to agree', async () => (await api(ctx.baseA, 'GET', `/api/posts/${ctx.post.id}`, null, await ctx.session.access())).caption === textA.toString());
});

test('a ticket works once; an access token in the URL opens nothing', async () => {
  const url = `${ctx.baseA.replace(/^http/, 'ws')}/api/collab/${ctx.post.id}`;
  const ticket = await ctx.session.ticket(ctx.baseA);
  const first = await rawOpen(`${url}?ticket=${encodeURIComponent(ticket)}`);
  if (first.result !== 'open') throw new Error(`a fresh ticket did not open the socket: ${first.result}`);
  first.ws.close();
  const again = await rawOpen(`${url}?ticket=${encodeURIComponent(ticket)}`);
  if (again.result === 'open') throw new Error('a spent ticket opened a second socket');
  const other = await rawOpen(`${ctx.baseB.replace(/^http/, 'ws')}/api/collab/${ctx.post.id}?ticket=${encodeURIComponent(ticket)}`);
  if (other.result === 'open') throw new Error('a spent ticket opened a socket on the other node');
  const withToken = await rawOpen(`${url}?token=${encodeURIComponent(await ctx.session.access())}`);
  if (withToken.result === 'open') throw new Error('?token=<access JWT> still opens a socket');
  const events = await rawOpen(`${ctx.baseA.replace(/^http/, 'ws')}/api/events?token=${encodeURIComponent(await ctx.session.access())}`);
  if (events.result === 'open') throw new Error('?token=<access JWT> still opens the event stream');
});

test('in-band re-authentication keeps a socket open past its token; without it the server closes 4401', async () => {
  const textA = ctx.docA.getText('caption');
  const textB = ctx.docB.getText('caption');
  // Fresh sockets for both, with tickets bought from tokens that are fresh now.
  await ctx.session.refresh();
  ctx.a.disconnect();
  ctx.b.disconnect();
  await reconnect(ctx.a, ctx.session, ctx.baseA);
  await reconnect(ctx.b, ctx.session, ctx.baseB);
  await waitFor('both providers to sync again', () => ctx.a.synced && ctx.b.synced);
  const closesA = ctx.a.closes.length;
  const closesB = ctx.b.closes.length;
  // A renews its access in band every TTL/2; B never does.
  const renew = setInterval(async () => {
    try {
      const t = await ctx.session.refresh();
      if (ctx.a.ws && ctx.a.wsconnected) ctx.a.ws.send(authFrame(t));
    } catch (e) {
      console.error('[interop] refresh failed:', e.message);
    }
  }, (TTL * 1000) / 2);
  try {
    // The server may allow a few seconds of leeway past the expiry.
    await waitFor('the server to close B with 4401', () => ctx.b.closes.length > closesB, TTL * 1000 + 20_000);
    if (ctx.b.closes[closesB] !== 4401) throw new Error(`B was closed with ${ctx.b.closes[closesB]}, expected 4401`);
    if (ctx.a.closes.length !== closesA) throw new Error(`A, which re-authenticated in band, was closed too (${ctx.a.closes.slice(closesA)})`);
    if (!ctx.a.wsconnected) throw new Error('A is not connected');
    // A stays usable after its first token's expiry.
    textA.insert(0, '[A after expiry] ');
    // B (closed, the stock provider stops on 44xx) edits offline, then comes back the
    // way a client must after 4401: renewed token, new ticket. Nothing is lost.
    textB.insert(textB.length, ' [B offline]');
    await reconnect(ctx.b, ctx.session, ctx.baseB);
    await waitFor('A and B to converge after the 4401 reconnect', () => textA.toString() === textB.toString() && textA.toString().includes('[B offline]') && textB.toString().startsWith('[A after expiry] '));
    if (ctx.a.closes.length !== closesA) throw new Error(`A was closed (${ctx.a.closes.slice(closesA)})`);
  } finally {
    clearInterval(renew);
  }
});

test('the event stream re-authenticates in band (auth → auth.ok; a bad token closes 4401)', async () => {
  const url = `${ctx.baseB.replace(/^http/, 'ws')}/api/events?ticket=`;
  const opened = await rawOpen(url + encodeURIComponent(await ctx.session.ticket(ctx.baseB)));
  if (opened.result !== 'open') throw new Error(`the event stream did not open with a ticket: ${opened.result}`);
  const ws = opened.ws;
  const messages = [];
  let closed = null;
  ws.on('message', (d) => messages.push(String(d)));
  ws.on('close', (code) => (closed = code));
  ws.send(JSON.stringify({ type: 'auth', token: await ctx.session.refresh() }));
  await waitFor('auth.ok', () => messages.some((m) => JSON.parse(m).type === 'auth.ok'));
  const ok = JSON.parse(messages.find((m) => JSON.parse(m).type === 'auth.ok'));
  if (Number.isNaN(Date.parse(ok.expires_at))) throw new Error(`auth.ok without a valid expires_at: ${JSON.stringify(ok)}`);
  ws.send(JSON.stringify({ type: 'auth', token: 'not-a-token' }));
  await waitFor('the close after a bad token', () => closed !== null);
  if (closed !== 4401) throw new Error(`a bad in-band token closed the stream with ${closed}, expected 4401`);
});

let passed = 0;
let failed = 0;
let broken = null;
for (const t of tests) {
  if (broken) {
    failed++;
    console.error(`[interop] not run: ${t.name} (after "${broken}" failed)`);
    continue;
  }
  try {
    await t.fn();
    passed++;
    console.log(`[interop] ok: ${t.name}`);
  } catch (e) {
    failed++;
    broken = t.name;
    console.error(`[interop] FAILED: ${t.name}:`, e);
  }
}
ctx.a?.destroy();
ctx.b?.destroy();
// Stop the servers and wait for them (their logs still go to our pipe while they shut down).
await Promise.all(
  servers.reverse().map(
    (s) =>
      new Promise((resolve) => {
        s.removeAllListeners('exit');
        if (s.exitCode !== null || s.signalCode !== null) return resolve();
        const t = setTimeout(() => {
          s.kill('SIGKILL');
          resolve();
        }, 10_000);
        s.on('exit', () => {
          clearTimeout(t);
          resolve();
        });
        s.kill('SIGTERM');
      }),
  ),
);
fs.rmSync(tmp, { recursive: true, force: true });
console.log(`interop: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
