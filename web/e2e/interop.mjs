// Interop: stock npm clients — `yjs` + `y-websocket`'s WebsocketProvider, unmodified, in
// Node (with the `ws` package as its WebSocket) — co-edit a post through a real Copydesk
// server: text both ways, awareness both ways, and a reconnect that resyncs.
//
//   COPYDESK_BIN=../target/debug/copydesk node e2e/interop.mjs
// Prints `interop: N passed, M failed` last; exits non-zero on failure.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';

const BIN = path.resolve(process.env.COPYDESK_BIN || new URL('../../target/debug/copydesk', import.meta.url).pathname);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'copydesk-interop-'));
let server;

function startServer() {
  return new Promise((resolve, reject) => {
    server = spawn(BIN, ['serve'], {
      cwd: tmp,
      env: { ...process.env, COPYDESK__SERVER__PORT: '0', COPYDESK__STATIC__DIR: path.join(tmp, 'none'), COPYDESK__LOG__LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
    readline.createInterface({ input: server.stdout }).on('line', (line) => {
      if (line.includes('"listening"')) resolve(`http://${JSON.parse(line).addr}`);
    });
  });
}

async function waitFor(what, pred, ms = 10000) {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
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

function provider(base, postId, token, doc) {
  return new WebsocketProvider(base.replace(/^http/, 'ws') + '/api/collab', postId, doc, {
    params: { token },
    WebSocketPolyfill: WebSocket,
    disableBc: true,
  });
}

async function main() {
  const base = await startServer();
  await api(base, 'POST', '/api/auth/register', { email: 'interop@example.com', password: 'tidy-otter-lamp-42', name: 'Interop' });
  const mailDir = path.join(tmp, 'data', 'mail');
  let token;
  await waitFor('the verification email', () => {
    if (!fs.existsSync(mailDir)) return false;
    for (const f of fs.readdirSync(mailDir)) {
      const m = fs.readFileSync(path.join(mailDir, f), 'utf8').match(/verify-email\?token=([A-Za-z0-9_-]+)/);
      if (m) token = m[1];
    }
    return Boolean(token);
  });
  const auth = await api(base, 'POST', '/api/auth/verify-email', { token });
  const access = auth.access_token;
  const ws = await api(base, 'POST', '/api/workspaces', { name: 'Interop' }, access);
  const post = await api(base, 'POST', `/api/workspaces/${ws.id}/posts`, { caption: 'Hello', platforms: ['x'] }, access);

  const docA = new Y.Doc();
  const docB = new Y.Doc();
  const a = provider(base, post.id, access, docA);
  const b = provider(base, post.id, access, docB);
  await waitFor('both providers to sync', () => a.synced && b.synced);
  const textA = docA.getText('caption');
  const textB = docB.getText('caption');
  if (textA.toString() !== 'Hello') throw new Error(`initial caption is ${JSON.stringify(textA.toString())}`);

  textA.insert(5, ' from A');
  await waitFor('B to see A', () => textB.toString() === 'Hello from A');
  textB.insert(0, 'B says: ');
  await waitFor('A to see B', () => textA.toString() === 'B says: Hello from A');

  a.awareness.setLocalStateField('user', { name: 'Ana', color: '#e11d48' });
  await waitFor('B to see A\'s cursor state', () => b.awareness.getStates().get(docA.clientID)?.user?.name === 'Ana');

  // B drops; A keeps typing; B reconnects and resyncs.
  b.disconnect();
  textA.insert(textA.length, '!');
  b.connect();
  await waitFor('B to resync after reconnecting', () => textB.toString() === 'B says: Hello from A!');

  // The REST view is the same document.
  await waitFor('REST to agree', async () => (await api(base, 'GET', `/api/posts/${post.id}`, null, access)).caption === textA.toString());
  a.destroy();
  b.destroy();
}

let failed = 0;
try {
  await main();
  console.log('[interop] stock yjs + y-websocket clients co-edited through Copydesk');
} catch (e) {
  failed = 1;
  console.error('[interop] FAILED:', e);
} finally {
  server?.removeAllListeners('exit');
  server?.kill('SIGTERM');
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`interop: ${1 - failed} passed, ${failed} failed`);
process.exit(failed);
