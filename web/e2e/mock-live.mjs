// The live half of the mock server (see mock-server.mjs): one Y.Doc per post behind a
// y-websocket endpoint (/api/collab/<postId>?ticket=…), comments, versions and the
// /api/events stream — the contracts of issue #3, in memory, for UI work without the
// Rust server. Same document layout as the real one: meta.title, caption,
// content:<platform>, media.
//
// Sockets open with a single-use ticket; their access lasts until the expiry of the access
// token the ticket was bought with (then close 4401) unless renewed in band (collab: auth
// message subtype 1 with the token; events: {"type":"auth","token"} → auth.ok). Losing
// access (removed, post deleted, signed out) closes with 4403; a demotion to a read-only
// role sends "permission denied" and keeps the socket open.
import { randomUUID } from 'node:crypto';
import * as Y from 'yjs';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as authProtocol from 'y-protocols/auth';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import { WebSocketServer } from 'ws';

const MSG_SYNC = 0;
const MSG_AWARENESS = 1;
const MSG_AUTH = 2;
const MSG_QUERY_AWARENESS = 3;
const AUTH_TOKEN = 1;
const EDITORS = ['workspace_admin', 'content_manager', 'content_creator'];

export function createLive({ db, roleIn, HttpError, now, accessUser }) {
  const sockets = new Set(); // {ws, userId, kind: 'collab'|'events', postId, workspaceId, conn}
  const docs = new Map(); // postId -> { doc, awareness, conns: Map<ws, {ids:Set, readOnly}> }
  const comments = new Map(); // id -> comment
  const versions = new Map(); // postId -> [version]
  const events = []; // {type, workspace_id, data, id, at, actor_id}
  const subscribers = new Set(); // {ws, userId}
  let eventSeq = 0;

  // ------------------------------------------------------------ documents

  function room(postId) {
    let r = docs.get(postId);
    if (!r) {
      const doc = new Y.Doc();
      const awareness = new awarenessProtocol.Awareness(doc);
      awareness.setLocalState(null);
      r = { doc, awareness, conns: new Map() };
      doc.on('update', (update, origin) => {
        const enc = encoding.createEncoder();
        encoding.writeVarUint(enc, MSG_SYNC);
        syncProtocol.writeUpdate(enc, update);
        const msg = encoding.toUint8Array(enc);
        for (const ws of r.conns.keys()) if (ws !== origin) send(ws, msg);
      });
      awareness.on('update', ({ added, updated, removed }, origin) => {
        const changed = added.concat(updated, removed);
        const c = r.conns.get(origin);
        if (c) {
          for (const id of added) c.ids.add(id);
          for (const id of removed) c.ids.delete(id);
        }
        const enc = encoding.createEncoder();
        encoding.writeVarUint(enc, MSG_AWARENESS);
        encoding.writeVarUint8Array(enc, awarenessProtocol.encodeAwarenessUpdate(awareness, changed));
        const msg = encoding.toUint8Array(enc);
        for (const ws of r.conns.keys()) send(ws, msg);
      });
      docs.set(postId, r);
    }
    return r;
  }

  function replaceText(ytext, next) {
    const prev = ytext.toString();
    if (prev === next) return;
    let s = 0;
    const max = Math.min(prev.length, next.length);
    while (s < max && prev[s] === next[s]) s++;
    let e = 0;
    while (e < max - s && prev[prev.length - 1 - e] === next[next.length - 1 - e]) e++;
    if (prev.length - s - e > 0) ytext.delete(s, prev.length - s - e);
    if (next.length - s - e > 0) ytext.insert(s, next.slice(s, next.length - e));
  }

  /** Write REST content into the post's document (only the keys present). */
  function writeContent(postId, body) {
    const { doc } = room(postId);
    doc.transact(() => {
      if (typeof body.title === 'string' && doc.getMap('meta').get('title') !== body.title.trim()) doc.getMap('meta').set('title', body.title.trim());
      if (typeof body.caption === 'string') replaceText(doc.getText('caption'), body.caption);
      if (body.platform_content && typeof body.platform_content === 'object') {
        // Like the server: the map replaces the old one (overrides it does not list are
        // cleared) and a missing or null text means no override.
        for (const key of doc.share.keys()) {
          if (key.startsWith('content:') && !(key.slice(8) in body.platform_content)) replaceText(doc.getText(key), '');
        }
        for (const [pl, c] of Object.entries(body.platform_content)) replaceText(doc.getText(`content:${pl}`), c?.text ?? '');
      }
      if (Array.isArray(body.media)) {
        const arr = doc.getArray('media');
        if (JSON.stringify(arr.toJSON()) !== JSON.stringify(body.media)) {
          arr.delete(0, arr.length);
          arr.insert(0, body.media.map((m) => ({ url: m.url, kind: m.kind, alt_text: m.alt_text ?? null })));
        }
      }
    }, 'rest');
  }

  /** The text content of a post's document. */
  function readContent(postId) {
    const { doc } = room(postId);
    const platform_content = {};
    for (const key of doc.share.keys()) {
      if (key.startsWith('content:')) {
        const t = doc.getText(key).toString();
        if (t) platform_content[key.slice(8)] = t;
      }
    }
    const title = doc.getMap('meta').get('title');
    return {
      title: typeof title === 'string' ? title : '',
      caption: doc.getText('caption').toString(),
      platform_content,
      media: doc.getArray('media').toJSON(),
    };
  }

  /** A post as REST shows it: the row's fields with the document's text. */
  function merge(post) {
    const c = readContent(post.id);
    const platform_content = {};
    const keys = new Set([...Object.keys(post.platform_content ?? {}), ...Object.keys(c.platform_content)]);
    for (const pl of keys) {
      const pc = post.platform_content?.[pl] ?? { hashtags: [], mentions: [], fields: {} };
      platform_content[pl] = { hashtags: [], mentions: [], fields: {}, ...pc, text: c.platform_content[pl] || null };
    }
    return { ...post, title: c.title, caption: c.caption, media: c.media, platform_content };
  }

  function dropPost(postId) {
    const r = docs.get(postId);
    if (r) for (const ws of r.conns.keys()) ws.close(4403, 'post deleted');
    docs.delete(postId);
    versions.delete(postId);
    for (const [id, c] of comments) if (c.post_id === postId) comments.delete(id);
  }

  // ------------------------------------------------------------ events

  const hooks = new Set(); // fn(ev): server-side consumers (the notifier of issue #9)

  function emit(workspace_id, type, data, actor_id = null) {
    const ev = { id: String(++eventSeq), type, workspace_id, data, actor_id, at: now() };
    events.push(ev);
    if (events.length > 1000) events.shift();
    for (const s of subscribers) deliver(s, ev);
    for (const h of hooks) h(ev);
  }

  /** Run `fn` for every event emitted from now on (like an outbox consumer). */
  function onEmit(fn) {
    hooks.add(fn);
  }

  function visibleTo(userId, ev) {
    const role = roleIn(ev.workspace_id, userId);
    if (!role) return false;
    // notification.created: only its user (issue #9).
    if (ev.type === 'notification.created') return ev.data?.user_id === userId;
    if (role === 'client' && ev.data?.comment && ev.data.comment.visibility !== 'client') return false;
    return true;
  }

  function deliver(s, ev) {
    if (visibleTo(s.userId, ev) && s.ws.readyState === 1) s.ws.send(JSON.stringify(ev));
  }

  // ------------------------------------------------------------ sockets

  /**
   * The server's edit rules, roughly: an update that writes a media entry without an
   * http(s)/media: URL, a title over 200 characters or a text insertion over 100,000 is
   * refused (the socket closes with 1008) and applied nowhere.
   */
  function refusedEdit(update) {
    const { structs } = Y.decodeUpdate(update);
    for (const st of structs) {
      const c = st.content;
      if (c instanceof Y.ContentString && c.str.length > 100_000) return 'a text must be at most 100000 characters';
      if (c instanceof Y.ContentAny) {
        for (const v of c.arr) {
          if (typeof v === 'string' && v.length > 200) return 'title must be at most 200 characters';
          if (v && typeof v === 'object' && !Array.isArray(v) && !(typeof v.url === 'string' && /^(https?:\/\/|media:)/.test(v.url))) {
            return 'media url must be an http(s) URL or a media: reference';
          }
        }
      }
    }
    return null;
  }

  function send(ws, msg) {
    if (ws.readyState === 1) ws.send(msg, (err) => err && ws.close());
  }

  const wss = new WebSocketServer({ noServer: true });

  function refuse(socket, status, text) {
    socket.write(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    socket.destroy();
  }

  function handleUpgrade(req, socket, head) {
    const url = new URL(req.url, 'http://x');
    const collab = /^\/api\/collab\/([^/]+)$/.exec(url.pathname);
    if (!collab && url.pathname !== '/api/events') return refuse(socket, 404, 'Not Found');
    // Only a ticket opens a socket (`?token=` is not accepted), once.
    const ticket = url.searchParams.get('ticket') ?? '';
    const t = db.tickets.get(ticket);
    const ok = t && !t.used && t.expiresAt > Date.now() && t.accessExp > Date.now() && t.version === (db.tokenVersion.get(t.userId) ?? 0);
    if (t) t.used = true;
    if (!ok) return refuse(socket, 401, 'Unauthorized');
    const userId = t.userId;
    if (collab) {
      const post = db.posts.get(decodeURIComponent(collab[1]));
      const role = post && roleIn(post.workspace_id, userId);
      if (!post || !role || (role === 'client' && !post.client_visible)) return refuse(socket, 404, 'Not Found');
      wss.handleUpgrade(req, socket, head, (ws) => {
        const entry = { ws, userId, kind: 'collab', postId: post.id, workspaceId: post.workspace_id, conn: null };
        track(entry, t.accessExp);
        entry.conn = collabConnection(ws, post.id, !EDITORS.includes(role) && !db.users.get(userId).user.is_super_admin, entry);
      });
    } else {
      wss.handleUpgrade(req, socket, head, (ws) => {
        const entry = { ws, userId, kind: 'events', postId: null, workspaceId: null, conn: null };
        track(entry, t.accessExp);
        ws.on('message', (data, isBinary) => {
          if (isBinary) return ws.close(1003, 'text only');
          let msg;
          try {
            msg = JSON.parse(String(data));
          } catch {
            return ws.close(1007, 'not JSON');
          }
          if (msg?.type !== 'auth') return;
          const exp = reauth(entry, msg.token);
          if (exp) ws.send(JSON.stringify({ type: 'auth.ok', expires_at: new Date(exp).toISOString() }));
        });
        eventsConnection(ws, userId, url.searchParams.get('since'));
      });
    }
  }

  /** A socket's access ends at `exp` (close 4401) unless renewed in band. */
  function track(entry, exp) {
    sockets.add(entry);
    setExpiry(entry, exp);
    entry.ws.on('close', () => {
      clearTimeout(entry.timer);
      sockets.delete(entry);
    });
  }

  function setExpiry(entry, exp) {
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => entry.ws.close(4401, 'access token expired'), Math.max(0, exp - Date.now()));
  }

  /** In-band re-authentication: a valid access token of the same user extends the socket. */
  function reauth(entry, tok) {
    const id = typeof tok === 'string' ? accessUser(tok) : null;
    if (!id || id !== entry.userId) {
      entry.ws.close(4401, 'invalid token');
      return null;
    }
    const exp = db.accessExp.get(tok);
    setExpiry(entry, exp);
    return exp;
  }

  /** Close a user's sockets (all, or those of one workspace's posts). */
  function closeUser(userId, code, reason, workspaceId = null) {
    for (const e of [...sockets]) {
      if (e.userId !== userId) continue;
      if (workspaceId && e.workspaceId !== workspaceId) continue;
      e.ws.close(code, reason);
    }
  }

  /** A member's role changed: their open documents in that workspace follow it. */
  function roleChanged(workspaceId, userId, role) {
    const readOnly = !EDITORS.includes(role) && !db.users.get(userId)?.user.is_super_admin;
    for (const e of sockets) {
      if (e.kind !== 'collab' || e.userId !== userId || e.workspaceId !== workspaceId || !e.conn) continue;
      const was = e.conn.readOnly;
      e.conn.readOnly = readOnly;
      if (readOnly && !was) {
        const enc = encoding.createEncoder();
        encoding.writeVarUint(enc, MSG_AUTH);
        authProtocol.writePermissionDenied(enc, 'your role no longer allows editing');
        send(e.ws, encoding.toUint8Array(enc));
      }
    }
  }

  function collabConnection(ws, postId, readOnly, entry) {
    const r = room(postId);
    const conn = { ids: new Set(), readOnly };
    r.conns.set(ws, conn);
    ws.binaryType = 'arraybuffer';
    ws.on('message', (data) => {
      try {
        const buf = new Uint8Array(data);
        const decoder = decoding.createDecoder(buf);
        const enc = encoding.createEncoder();
        const type = decoding.readVarUint(decoder);
        if (type === MSG_SYNC) {
          const sub = decoding.readVarUint(decoder);
          if (sub === syncProtocol.messageYjsSyncStep1) {
            encoding.writeVarUint(enc, MSG_SYNC);
            syncProtocol.readSyncStep1(decoder, enc, r.doc);
          } else {
            const update = decoding.readVarUint8Array(decoder);
            if (conn.readOnly) {
              // Refuse anything new from a read-only role (an empty step 2 is fine).
              const diff = Y.decodeUpdate(Y.diffUpdate(update, Y.encodeStateVector(r.doc)));
              if (diff.structs.length > 0 || diff.ds.clients.size > 0) {
                encoding.writeVarUint(enc, MSG_AUTH);
                authProtocol.writePermissionDenied(enc, 'permission denied');
              }
            } else {
              const why = refusedEdit(update);
              if (why) return ws.close(1008, why);
              Y.applyUpdate(r.doc, update, ws);
            }
          }
        } else if (type === MSG_AWARENESS) {
          awarenessProtocol.applyAwarenessUpdate(r.awareness, decoding.readVarUint8Array(decoder), ws);
        } else if (type === MSG_AUTH) {
          if (decoding.readVarUint(decoder) === AUTH_TOKEN) reauth(entry, decoding.readVarString(decoder));
        } else if (type === MSG_QUERY_AWARENESS) {
          encoding.writeVarUint(enc, MSG_AWARENESS);
          encoding.writeVarUint8Array(enc, awarenessProtocol.encodeAwarenessUpdate(r.awareness, [...r.awareness.getStates().keys()]));
        }
        if (encoding.length(enc) > 1) send(ws, encoding.toUint8Array(enc));
      } catch (e) {
        console.error('collab message error', e);
      }
    });
    ws.on('close', () => {
      r.conns.delete(ws);
      awarenessProtocol.removeAwarenessStates(r.awareness, [...conn.ids], null);
    });
    // Sync step 1 from the server, then the awareness states we know.
    const enc = encoding.createEncoder();
    encoding.writeVarUint(enc, MSG_SYNC);
    syncProtocol.writeSyncStep1(enc, r.doc);
    send(ws, encoding.toUint8Array(enc));
    const states = [...r.awareness.getStates().keys()];
    if (states.length) {
      const a = encoding.createEncoder();
      encoding.writeVarUint(a, MSG_AWARENESS);
      encoding.writeVarUint8Array(a, awarenessProtocol.encodeAwarenessUpdate(r.awareness, states));
      send(ws, encoding.toUint8Array(a));
    }
    return conn;
  }

  function eventsConnection(ws, userId, since) {
    const s = { ws, userId };
    if (since) for (const ev of events) if (Number(ev.id) > Number(since)) deliver(s, ev);
    subscribers.add(s);
    ws.on('close', () => subscribers.delete(s));
  }

  // ------------------------------------------------------------ diff

  function diff(before, after) {
    const a = before.match(/\s+|[^\s]+/g) ?? [];
    const b = after.match(/\s+|[^\s]+/g) ?? [];
    const n = a.length;
    const m = b.length;
    const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i][j] = a[i] === b[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    const out = [];
    const push = (op, text) => {
      const last = out[out.length - 1];
      if (last && last.op === op) last.text += text;
      else out.push({ op, text });
    };
    let i = 0;
    let j = 0;
    while (i < n && j < m) {
      if (a[i] === b[j]) {
        push('equal', a[i]);
        i++;
        j++;
      } else if (L[i + 1][j] >= L[i][j + 1]) push('delete', a[i++]);
      else push('insert', b[j++]);
    }
    while (i < n) push('delete', a[i++]);
    while (j < m) push('insert', b[j++]);
    return out;
  }

  // ------------------------------------------------------------ REST

  const userRef = (id) => {
    const u = id && db.users.get(id)?.user;
    return u ? { id: u.id, name: u.name } : null;
  };

  function snapshot(postId, kind, name, userId) {
    const v = { id: randomUUID(), post_id: postId, name: name ?? null, kind, created_by: userRef(userId), created_at: now(), content: readContent(postId) };
    delete v.content.media;
    if (!versions.has(postId)) versions.set(postId, []);
    versions.get(postId).push(v);
    return v;
  }

  const versionView = ({ content: _c, ...v }) => v;

  function commentView(c) {
    const author = userRef(c.author_id) ?? (c.guest_name ? { id: null, name: c.guest_name } : null);
    return { ...c, author, author_id: undefined, guest_name: undefined, resolved_by: userRef(c.resolved_by_id), resolved_by_id: undefined };
  }

  /** Client-visible comments of a post (the review page's). */
  function clientComments(postId) {
    return [...comments.values()].filter((c) => c.post_id === postId && c.visibility === 'client').map(commentView);
  }

  /** A comment written through a review link (no account): client-visible, by name. */
  function addGuestComment(post, name, body) {
    const c = {
      id: randomUUID(), post_id: post.id, workspace_id: post.workspace_id, parent_id: null, author_id: null, guest_name: name,
      body, visibility: 'client', anchor: null, mentions: [], reactions: [], resolved_at: null, resolved_by_id: null, edited_at: null,
      created_at: now(), updated_at: now(),
    };
    comments.set(c.id, c);
    const view = commentView(c);
    emit(c.workspace_id, 'comment.created', { comment: view, post_id: c.post_id }, null);
    return view;
  }

  function route(method, url, pattern) {
    if (method !== pattern[0]) return null;
    const a = url.split('/').filter(Boolean);
    const b = pattern[1].split('/').filter(Boolean);
    if (a.length !== b.length) return null;
    const params = {};
    for (let i = 0; i < a.length; i++) {
      if (b[i].startsWith(':')) params[b[i].slice(1)] = decodeURIComponent(a[i]);
      else if (a[i] !== b[i]) return null;
    }
    return params;
  }

  /** Comments / versions routes; null when the path is not one of them. */
  function api(m, p, body, user) {
    let r;
    const postFor = (id) => {
      const post = db.posts.get(id);
      const role = post && roleIn(post.workspace_id, user.id);
      if (!post || !role || (role === 'client' && !post.client_visible)) throw new HttpError(404, 'not_found', 'Post not found');
      return { post, role };
    };
    const commentFor = (id) => {
      const c = comments.get(id);
      if (!c) throw new HttpError(404, 'not_found', 'Comment not found');
      const { role } = postFor(c.post_id);
      if (role === 'client' && c.visibility !== 'client') throw new HttpError(404, 'not_found', 'Comment not found');
      return { c, role };
    };
    const canEdit = (role) => EDITORS.includes(role) || user.is_super_admin;
    const changed = (c, type) => {
      c.updated_at = now();
      const view = commentView(c);
      emit(c.workspace_id, type, { comment: view, post_id: c.post_id }, user.id);
      return [200, view];
    };

    if ((r = route(m, p, ['GET', '/api/posts/:id/comments']))) {
      const { role } = postFor(r.id);
      const items = [...comments.values()].filter((c) => c.post_id === r.id && (role !== 'client' || c.visibility === 'client'));
      return [200, { items: items.map(commentView) }];
    }
    if ((r = route(m, p, ['POST', '/api/posts/:id/comments']))) {
      const { post, role } = postFor(r.id);
      const text = String(body.body ?? '').trim();
      if (!text) throw new HttpError(422, 'validation_failed', 'Some fields are invalid', { fields: { body: 'must not be empty' } });
      let visibility = body.visibility ?? 'internal';
      if (role === 'client') {
        if (visibility !== 'client' && body.visibility) throw new HttpError(403, 'forbidden', 'Clients can only post client comments');
        visibility = 'client';
      }
      if (body.parent_id) {
        const parent = comments.get(body.parent_id);
        if (!parent || parent.post_id !== r.id) throw new HttpError(422, 'validation_failed', 'Unknown parent', { fields: { parent_id: 'unknown comment' } });
      }
      const a = body.anchor;
      if (a && (typeof a.start !== 'string' || typeof a.end !== 'string' || typeof a.field !== 'string')) throw new HttpError(422, 'validation_failed', 'Bad anchor', { fields: { anchor: 'needs field, start, end' } });
      const c = {
        id: randomUUID(), post_id: r.id, workspace_id: post.workspace_id, parent_id: body.parent_id ?? null, author_id: user.id,
        body: text, visibility, anchor: a ? { field: a.field, start: a.start, end: a.end, quote: String(a.quote ?? '') } : null,
        mentions: Array.isArray(body.mentions) ? body.mentions.filter((id) => roleIn(post.workspace_id, id)) : [],
        reactions: [], resolved_at: null, resolved_by_id: null, edited_at: null, created_at: now(), updated_at: now(),
      };
      comments.set(c.id, c);
      const view = commentView(c);
      emit(c.workspace_id, 'comment.created', { comment: view, post_id: c.post_id }, user.id);
      for (const uid of c.mentions) {
        if (uid !== user.id) emit(c.workspace_id, 'comment.mentioned', { comment_id: c.id, post_id: c.post_id, visibility: c.visibility, comment: view, user_id: uid, by: user.id }, user.id);
      }
      return [201, view];
    }
    if ((r = route(m, p, ['PUT', '/api/comments/:id']))) {
      const { c } = commentFor(r.id);
      if (c.author_id !== user.id) throw new HttpError(403, 'forbidden', 'Only the author can edit a comment');
      c.body = String(body.body ?? '').trim() || c.body;
      c.edited_at = now();
      return changed(c, 'comment.updated');
    }
    if ((r = route(m, p, ['DELETE', '/api/comments/:id']))) {
      const { c, role } = commentFor(r.id);
      if (c.author_id !== user.id && !['workspace_admin', 'content_manager'].includes(role)) throw new HttpError(403, 'forbidden', 'Not yours');
      for (const [id, x] of comments) if (id === c.id || x.parent_id === c.id) comments.delete(id);
      emit(c.workspace_id, 'comment.deleted', { comment: commentView(c), post_id: c.post_id }, user.id);
      return [204, null];
    }
    if ((r = route(m, p, ['POST', '/api/comments/:id/resolve'])) || (r = route(m, p, ['POST', '/api/comments/:id/reopen']))) {
      const { c } = commentFor(r.id);
      const resolve = p.endsWith('/resolve');
      c.resolved_at = resolve ? now() : null;
      c.resolved_by_id = resolve ? user.id : null;
      return changed(c, resolve ? 'comment.resolved' : 'comment.reopened');
    }
    if ((r = route(m, p, ['PUT', '/api/comments/:id/reactions/:emoji'])) || (r = route(m, p, ['DELETE', '/api/comments/:id/reactions/:emoji']))) {
      const { c } = commentFor(r.id);
      const add = m === 'PUT';
      let rx = c.reactions.find((x) => x.emoji === r.emoji);
      if (add) {
        if (!rx) c.reactions.push((rx = { emoji: r.emoji, count: 0, user_ids: [] }));
        if (!rx.user_ids.includes(user.id)) rx.user_ids.push(user.id);
      } else if (rx) rx.user_ids = rx.user_ids.filter((id) => id !== user.id);
      for (const x of c.reactions) x.count = x.user_ids.length;
      c.reactions = c.reactions.filter((x) => x.count > 0);
      return changed(c, add ? 'comment.reaction_added' : 'comment.reaction_removed');
    }
    if ((r = route(m, p, ['GET', '/api/posts/:id/versions']))) {
      postFor(r.id);
      return [200, { items: (versions.get(r.id) ?? []).slice().reverse().map(versionView) }];
    }
    if ((r = route(m, p, ['POST', '/api/posts/:id/versions']))) {
      const { post, role } = postFor(r.id);
      if (!canEdit(role)) throw new HttpError(403, 'forbidden', 'You cannot save versions');
      const name = String(body.name ?? '').trim();
      if (!name) throw new HttpError(422, 'validation_failed', 'Some fields are invalid', { fields: { name: 'must not be empty' } });
      const v = snapshot(r.id, 'named', name, user.id);
      emit(post.workspace_id, 'post.version_saved', { post_id: r.id, version_id: v.id, name }, user.id);
      return [201, versionView(v)];
    }
    const versionFor = (postId, vid) => {
      const v = (versions.get(postId) ?? []).find((x) => x.id === vid);
      if (!v) throw new HttpError(404, 'not_found', 'Version not found');
      return v;
    };
    if ((r = route(m, p, ['GET', '/api/posts/:id/versions/:vid']))) {
      postFor(r.id);
      return [200, versionFor(r.id, r.vid)];
    }
    if ((r = route(m, p, ['GET', '/api/posts/:id/versions/:vid/diff']))) {
      postFor(r.id);
      const v = versionFor(r.id, r.vid);
      const cur = readContent(r.id);
      const fields = [
        ['title', v.content.title, cur.title],
        ['caption', v.content.caption, cur.caption],
        ...[...new Set([...Object.keys(v.content.platform_content), ...Object.keys(cur.platform_content)])].sort().map((pl) => [`content:${pl}`, v.content.platform_content[pl] ?? '', cur.platform_content[pl] ?? '']),
      ];
      return [200, { fields: fields.map(([field, before, after]) => ({ field, before, after, changes: diff(before, after) })) }];
    }
    if ((r = route(m, p, ['POST', '/api/posts/:id/versions/:vid/restore']))) {
      const { post, role } = postFor(r.id);
      if (!canEdit(role)) throw new HttpError(403, 'forbidden', 'You cannot restore versions');
      const v = versionFor(r.id, r.vid);
      // Like the server: kind "restore" keeps the state just before the restore.
      snapshot(r.id, 'restore', null, user.id);
      const { doc } = room(r.id);
      doc.transact(() => {
        const cur = readContent(r.id);
        writeContent(r.id, {
          title: v.content.title,
          caption: v.content.caption,
          platform_content: Object.fromEntries([...new Set([...Object.keys(cur.platform_content), ...Object.keys(v.content.platform_content)])].map((pl) => [pl, { text: v.content.platform_content[pl] ?? '' }])),
        });
      }, 'restore');
      post.updated_at = now();
      post.updated_by = user.id;
      emit(post.workspace_id, 'post.version_restored', { post_id: r.id, version_id: v.id }, user.id);
      emit(post.workspace_id, 'post.updated', { post_id: r.id, title: readContent(r.id).title, status: post.status }, user.id);
      return [200, merge(post)];
    }
    return null;
  }

  return { handleUpgrade, writeContent, readContent, merge, dropPost, emit, snapshot, api, closeUser, roleChanged, clientComments, addGuestComment, onEmit };
}
