#!/usr/bin/env node
// In-memory stand-in for the Copydesk server, implementing the REST contract
// closely enough to develop the web UI and exercise e2e/run.mjs without the
// Rust binary:  COPYDESK_BIN=e2e/mock-server.mjs npm run e2e
//
// It honours the same environment as the real server:
//   COPYDESK__SERVER__PORT (0 = any), COPYDESK__MAIL__OUTBOX_DIR, COPYDESK__STATIC__DIR,
//   COPYDESK__AUTH__ACCESS_TTL_SECS
// and prints a JSON log line with "listening" and "addr" once bound, then the one-time
// setup link of the first super admin (`…/setup?token=…`).
//
// The session contract it follows: sockets open with single-use tickets
// (POST /api/auth/ws-ticket), keep their access until the access token's expiry unless
// renewed in band, close with 4401 at expiry and 4403 when access is lost; adding a member
// always sends an invitation; GET/POST /api/setup create the first super admin.
import { randomUUID, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createLive } from './mock-live.mjs';
import { createApprovals } from './mock-approvals.mjs';

const PORT = Number(process.env.COPYDESK__SERVER__PORT ?? 8080);
const OUTBOX = process.env.COPYDESK__MAIL__OUTBOX_DIR ?? '';
const STATIC_DIR = process.env.COPYDESK__STATIC__DIR ?? '';
const ACCESS_TTL = Number(process.env.COPYDESK__AUTH__ACCESS_TTL_SECS ?? 900);
const CSP =
  "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'";

const LIMITS = {
  facebook: 63206, instagram: 2200, x: 280, linkedin: 3000, tiktok: 2200, youtube: 5000,
  pinterest: 500, google_business: 1500, telegram: 4096, threads: 500, mastodon: 500, bluesky: 300,
};
const STATUSES = ['draft', 'in_review', 'changes_requested', 'approved', 'scheduled', 'publishing', 'published', 'failed', 'archived'];
const ROLES = ['workspace_admin', 'content_manager', 'content_creator', 'reviewer', 'client'];

const db = {
  users: new Map(), // id -> {user, password}
  verifyTokens: new Map(), // token -> userId
  resetTokens: new Map(),
  access: new Map(), // token -> userId
  accessExp: new Map(), // token -> expiry (ms)
  accessVer: new Map(), // token -> the user's token version when issued
  tokenVersion: new Map(), // userId -> version (bumped by logout / password change)
  tickets: new Map(), // ticket -> {userId, accessExp, expiresAt, used}
  refresh: new Map(),
  workspaces: new Map(), // id -> ws (without role)
  members: [], // {workspace_id, user_id, role, joined_at}
  invitations: [], // {id, workspace_id, email, role, token, expires_at, created_at}
  posts: new Map(),
};

const now = () => new Date().toISOString();
const token = () => randomBytes(24).toString('base64url');
let publicUrl = '';

class HttpError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

// Post documents, comments, versions and events (issue #3), set up below HttpError.
let live = null;
// Approvals, share links, review, notifications (issue #9).
let approvals = null;

function sendMail(to, subject, body) {
  if (!OUTBOX) return;
  fs.mkdirSync(OUTBOX, { recursive: true });
  // Quoted-printable with soft line breaks, like a real mailer would write.
  const qp = body
    .replace(/=/g, '=3D')
    .split('\n')
    .map((line) => {
      const out = [];
      let l = line;
      while (l.length > 70) {
        out.push(`${l.slice(0, 70)}=`);
        l = l.slice(70);
      }
      out.push(l);
      return out.join('\r\n');
    })
    .join('\r\n');
  const eml = [
    `To: ${to}`,
    'From: Copydesk <noreply@copydesk.test>',
    `Subject: ${subject}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    qp,
    '',
  ].join('\r\n');
  fs.writeFileSync(path.join(OUTBOX, `${Date.now()}-${randomUUID()}.eml`), eml);
}

function issueAccess(userId) {
  const a = token();
  db.access.set(a, userId);
  db.accessExp.set(a, Date.now() + ACCESS_TTL * 1000);
  db.accessVer.set(a, db.tokenVersion.get(userId) ?? 0);
  return a;
}

function authResponse(userId) {
  const a = issueAccess(userId);
  const r = token();
  db.refresh.set(r, userId);
  return { access_token: a, refresh_token: r, token_type: 'Bearer', expires_in: ACCESS_TTL, user: db.users.get(userId).user };
}

/** The user id an access token stands for while valid (not expired, not voided), else null. */
function accessUser(t) {
  const id = (db.accessExp.get(t) ?? 0) > Date.now() ? db.access.get(t) : null;
  if (!id || db.accessVer.get(t) !== (db.tokenVersion.get(id) ?? 0)) return null;
  return id;
}

function bearer(req) {
  const h = req.headers.authorization ?? '';
  return h.startsWith('Bearer ') ? h.slice(7) : '';
}

function requireUser(req) {
  const id = accessUser(bearer(req));
  if (!id) throw new HttpError(401, 'unauthorized', 'Missing or invalid access token');
  return db.users.get(id).user;
}

/** Void every access token and refresh token of a user (logout, password change). */
function endSessions(userId, keepRefresh = null) {
  db.tokenVersion.set(userId, (db.tokenVersion.get(userId) ?? 0) + 1);
  for (const [r, id] of db.refresh) if (id === userId && r !== keepRefresh) db.refresh.delete(r);
}

const setup = { token: token(), used: false };
const superAdminExists = () => [...db.users.values()].some((u) => u.user.is_super_admin);

function roleIn(wsId, userId) {
  return db.members.find((m) => m.workspace_id === wsId && m.user_id === userId)?.role ?? null;
}

function wsFor(wsId, user) {
  const w = db.workspaces.get(wsId);
  const role = w && roleIn(wsId, user.id);
  if (!w || !role) throw new HttpError(404, 'not_found', 'Workspace not found');
  return { ...w, role };
}

function memberView(m) {
  const u = db.users.get(m.user_id).user;
  return { user_id: u.id, email: u.email, name: u.name, role: m.role, joined_at: m.joined_at };
}

function invView(i, admin = true) {
  return { id: i.id, ...(admin ? { email: i.email } : {}), role: i.role, expires_at: i.expires_at, created_at: i.created_at };
}

function graphemes(s) {
  let n = 0;
  for (const _ of new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(s)) n++;
  return n;
}

function validate(p) {
  const out = {};
  for (const pl of p.platforms) {
    const c = p.platform_content?.[pl] ?? {};
    const base = c.text ?? p.caption ?? '';
    const tags = (c.hashtags ?? []).map((h) => `#${h}`).join(' ');
    const text = tags ? `${base} ${tags}` : base;
    const problems = [];
    const n = graphemes(text);
    if (n > LIMITS[pl]) {
      problems.push({ code: 'text_too_long', field: 'text', message: `Text is too long for ${pl} (${n}/${LIMITS[pl]})`, limit: LIMITS[pl], actual: n });
    }
    if (pl === 'youtube' && !c.fields?.title) problems.push({ code: 'field_required', field: 'fields.title', message: 'YouTube needs a video title' });
    if (pl === 'instagram' && !(p.media ?? []).length) problems.push({ code: 'media_required', field: 'media', message: 'Instagram needs at least one image or video' });
    out[pl] = problems;
  }
  return { validation: out, is_valid: Object.values(out).every((x) => x.length === 0) };
}

function normalizeInput(body, prev) {
  const p = { ...(prev ?? {}) };
  const fields = {};
  const keys = ['title', 'caption', 'platforms', 'platform_content', 'media', 'tags', 'campaign', 'labels', 'scheduled_at', 'client_visible'];
  for (const k of keys) if (body[k] !== undefined) p[k] = body[k];
  p.title ??= '';
  p.caption ??= '';
  p.platforms ??= [];
  p.platform_content ??= {};
  p.media ??= [];
  p.tags ??= [];
  p.campaign ??= null;
  p.labels ??= [];
  p.scheduled_at ??= null;
  p.client_visible ??= false;
  if (!p.title.trim()) fields.title = 'must not be empty';
  for (const pl of p.platforms) if (!(pl in LIMITS)) fields.platforms = `unknown platform ${pl}`;
  p.media.forEach((m, i) => {
    if (!/^https?:\/\//.test(m.url ?? '')) fields[`media[${i}].url`] = 'must be an http(s) URL';
  });
  if (Object.keys(fields).length) throw new HttpError(422, 'validation_failed', 'Some fields are invalid', { fields });
  if (body.status) p.status = body.status;
  return p;
}

function postView(p) {
  const merged = live.merge(p);
  return { ...merged, ...validate(merged) };
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

async function api(req, urlObj, body) {
  const m = req.method;
  const p = urlObj.pathname;
  let r;

  if ((r = route(m, p, ['POST', '/api/auth/register']))) {
    const email = String(body.email ?? '').trim().toLowerCase();
    const fields = {};
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) fields.email = 'must be a valid email';
    if (String(body.password ?? '').length < 8) fields.password = 'must be at least 8 characters';
    if (!String(body.name ?? '').trim()) fields.name = 'must not be empty';
    if (Object.keys(fields).length) throw new HttpError(422, 'validation_failed', 'Some fields are invalid', { fields });
    const existing = [...db.users.values()].find((u) => u.user.email === email);
    const inv = body.invitation_token && db.invitations.find((i) => i.token === body.invitation_token && i.email === email);
    if (existing) return [202, { message: 'If the address can be registered, a verification email is on its way.' }];
    const id = randomUUID();
    const user = { id, email, name: body.name.trim(), is_super_admin: false, email_verified: !!inv, created_at: now(), updated_at: now() };
    db.users.set(id, { user, password: body.password });
    if (inv) {
      db.members.push({ workspace_id: inv.workspace_id, user_id: id, role: inv.role, joined_at: now() });
      db.invitations = db.invitations.filter((i) => i !== inv);
      return [201, authResponse(id)];
    }
    const t = token();
    db.verifyTokens.set(t, id);
    sendMail(email, 'Verify your Copydesk email', `Hi ${user.name},\n\nConfirm your address: ${publicUrl}/verify-email?token=${t}\n\nThanks!`);
    return [202, { message: 'If the address can be registered, a verification email is on its way.' }];
  }
  if ((r = route(m, p, ['POST', '/api/auth/verify-email']))) {
    const id = db.verifyTokens.get(body.token);
    if (!id) throw new HttpError(400, 'invalid_token', 'This verification link is invalid or has expired.');
    // Confirming takes the password chosen at that sign-up too.
    if (body.password !== db.users.get(id).password) throw new HttpError(401, 'invalid_credentials', 'Wrong password for this sign-up.');
    db.verifyTokens.delete(body.token);
    db.users.get(id).user.email_verified = true;
    return [200, authResponse(id)];
  }
  if ((r = route(m, p, ['POST', '/api/auth/login']))) {
    const email = String(body.email ?? '').trim().toLowerCase();
    const u = [...db.users.values()].find((x) => x.user.email === email);
    if (!u || u.password !== body.password) throw new HttpError(401, 'invalid_credentials', 'Wrong email or password.');
    if (!u.user.email_verified) throw new HttpError(403, 'email_not_verified', 'Please verify your email address first.');
    if (body.invitation_token) {
      const inv = db.invitations.find((i) => i.token === body.invitation_token && i.email === email);
      if (inv) {
        db.members.push({ workspace_id: inv.workspace_id, user_id: u.user.id, role: inv.role, joined_at: now() });
        db.invitations = db.invitations.filter((i) => i !== inv);
      }
    }
    return [200, authResponse(u.user.id)];
  }
  if ((r = route(m, p, ['POST', '/api/auth/refresh']))) {
    const id = db.refresh.get(body.refresh_token);
    if (!id) throw new HttpError(401, 'invalid_refresh_token', 'Session expired.');
    db.refresh.delete(body.refresh_token);
    return [200, authResponse(id)];
  }
  if ((r = route(m, p, ['POST', '/api/auth/logout']))) {
    const u = requireUser(req);
    endSessions(u.id);
    live.closeUser(u.id, 4403, 'signed out');
    return [204, null];
  }
  if ((r = route(m, p, ['GET', '/api/setup']))) return [200, { needed: !superAdminExists() && !setup.used }];
  if ((r = route(m, p, ['POST', '/api/setup']))) {
    if (setup.used || superAdminExists() || body.token !== setup.token) throw new HttpError(404, 'not_found', 'Not found');
    const email = String(body.email ?? '').trim().toLowerCase();
    const fields = {};
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) fields.email = 'must be a valid email';
    if (String(body.password ?? '').length < 8) fields.password = 'must be at least 8 characters';
    if (!String(body.name ?? '').trim()) fields.name = 'must not be empty';
    if (Object.keys(fields).length) throw new HttpError(422, 'validation_failed', 'Some fields are invalid', { fields });
    if ([...db.users.values()].some((u) => u.user.email === email)) throw new HttpError(409, 'email_taken', 'That address already has an account', { fields: { email: 'already registered' } });
    setup.used = true;
    const id = randomUUID();
    const user = { id, email, name: String(body.name).trim(), is_super_admin: true, email_verified: true, created_at: now(), updated_at: now() };
    db.users.set(id, { user, password: body.password });
    return [201, authResponse(id)];
  }
  if ((r = route(m, p, ['POST', '/api/auth/forgot-password']))) {
    const u = [...db.users.values()].find((x) => x.user.email === String(body.email ?? '').toLowerCase());
    if (u) {
      const t = token();
      db.resetTokens.set(t, u.user.id);
      sendMail(u.user.email, 'Reset your password', `Reset: ${publicUrl}/reset-password?token=${t}`);
    }
    return [202, { message: 'If an account exists for that address, we sent a reset link.' }];
  }
  if ((r = route(m, p, ['POST', '/api/auth/reset-password']))) {
    const id = db.resetTokens.get(body.token);
    if (!id) throw new HttpError(400, 'invalid_token', 'This reset link is invalid or has expired.');
    if (String(body.password ?? '').length < 8) throw new HttpError(422, 'validation_failed', 'Some fields are invalid', { fields: { password: 'must be at least 8 characters' } });
    db.users.get(id).password = body.password;
    db.resetTokens.delete(body.token);
    endSessions(id);
    live.closeUser(id, 4403, 'password reset');
    return [204, null];
  }

  const pub = approvals.publicApi(m, p, body);
  if (pub) return pub;

  const user = requireUser(req);

  if ((r = route(m, p, ['GET', '/api/users/profile']))) return [200, user];
  if ((r = route(m, p, ['PUT', '/api/users/profile']))) {
    const rec = db.users.get(user.id);
    if (typeof body.name === 'string' && body.name.trim()) user.name = body.name.trim();
    if (body.new_password !== undefined) {
      if (body.current_password !== rec.password) throw new HttpError(400, 'invalid_password', 'The current password is wrong.', { fields: { current_password: 'is wrong' } });
      if (String(body.new_password).length < 8) throw new HttpError(422, 'validation_failed', 'Some fields are invalid', { fields: { new_password: 'must be at least 8 characters' } });
      rec.password = body.new_password;
      // Ends every other session (in the mock: every refresh token); this one gets a new access token.
      endSessions(user.id);
      return [200, { ...user, access_token: issueAccess(user.id), expires_in: ACCESS_TTL }];
    }
    user.updated_at = now();
    return [200, user];
  }
  if ((r = route(m, p, ['POST', '/api/auth/ws-ticket']))) {
    const t = token();
    db.tickets.set(t, { userId: user.id, accessExp: db.accessExp.get(bearer(req)), version: db.tokenVersion.get(user.id) ?? 0, expiresAt: Date.now() + 30_000, used: false });
    return [201, { ticket: t, expires_in: 30 }];
  }
  if ((r = route(m, p, ['GET', '/api/users/workspaces'])) || (r = route(m, p, ['GET', '/api/workspaces']))) {
    const items = db.members.filter((x) => x.user_id === user.id).map((x) => ({ ...db.workspaces.get(x.workspace_id), role: x.role }));
    return [200, items];
  }
  if ((r = route(m, p, ['POST', '/api/invitations/accept']))) {
    if (roleIn(db.invitations.find((i) => i.token === body.token)?.workspace_id, user.id)) throw new HttpError(409, 'already_member', 'You are already a member of this workspace.');
    const inv = db.invitations.find((i) => i.token === body.token);
    if (!inv) throw new HttpError(404, 'not_found', 'Invitation not found or expired.');
    if (inv.email !== user.email) throw new HttpError(403, 'forbidden', 'This invitation is for another email address.');
    db.members.push({ workspace_id: inv.workspace_id, user_id: user.id, role: inv.role, joined_at: now() });
    db.invitations = db.invitations.filter((i) => i !== inv);
    return [200, wsFor(inv.workspace_id, user)];
  }
  if ((r = route(m, p, ['POST', '/api/workspaces']))) {
    const name = String(body.name ?? '').trim();
    if (!name) throw new HttpError(422, 'validation_failed', 'Some fields are invalid', { fields: { name: 'must not be empty' } });
    const slug = (body.slug || name).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
    if ([...db.workspaces.values()].some((w) => w.slug === slug)) throw new HttpError(409, 'conflict', 'That slug is taken', { fields: { slug: 'already in use' } });
    const w = { id: randomUUID(), name, slug, approval_mode: 'optional', created_at: now(), updated_at: now() };
    db.workspaces.set(w.id, w);
    db.members.push({ workspace_id: w.id, user_id: user.id, role: 'workspace_admin', joined_at: now() });
    return [201, { ...w, role: 'workspace_admin' }];
  }
  if ((r = route(m, p, ['GET', '/api/workspaces/:id']))) return [200, wsFor(r.id, user)];
  if ((r = route(m, p, ['GET', '/api/workspaces/:id/members']))) {
    const w = wsFor(r.id, user);
    const admin = w.role === 'workspace_admin' || user.is_super_admin;
    return [200, {
      members: db.members.filter((x) => x.workspace_id === r.id).map(memberView),
      invitations: db.invitations.filter((i) => i.workspace_id === r.id).map((i) => invView(i, admin)),
    }];
  }
  if ((r = route(m, p, ['POST', '/api/workspaces/:id/members']))) {
    const w = wsFor(r.id, user);
    if (w.role !== 'workspace_admin') throw new HttpError(403, 'forbidden', 'Only workspace admins can invite.');
    const email = String(body.email ?? '').trim().toLowerCase();
    const fields = {};
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) fields.email = 'must be a valid email';
    if (!ROLES.includes(body.role)) fields.role = 'unknown role';
    if (Object.keys(fields).length) throw new HttpError(422, 'validation_failed', 'Some fields are invalid', { fields });
    // Always an invitation, whether or not the address has an account (never revealed).
    const inv = { id: randomUUID(), workspace_id: r.id, email, role: body.role, token: token(), expires_at: new Date(Date.now() + 7 * 864e5).toISOString(), created_at: now() };
    db.invitations.push(inv);
    sendMail(email, `You're invited to ${w.name}`, `Join: ${publicUrl}/invite?token=${inv.token}`);
    return [201, { status: 'invited', invitation: invView(inv) }];
  }
  if ((r = route(m, p, ['PUT', '/api/workspaces/:id/members/:uid']))) {
    wsFor(r.id, user);
    const mem = db.members.find((x) => x.workspace_id === r.id && x.user_id === r.uid);
    if (!mem) throw new HttpError(404, 'not_found', 'Member not found');
    if (!ROLES.includes(body.role)) throw new HttpError(422, 'validation_failed', 'Unknown role', { fields: { role: 'unknown role' } });
    mem.role = body.role;
    live.roleChanged(r.id, r.uid, body.role);
    return [200, memberView(mem)];
  }
  if ((r = route(m, p, ['DELETE', '/api/workspaces/:id/members/:uid']))) {
    wsFor(r.id, user);
    db.members = db.members.filter((x) => !(x.workspace_id === r.id && x.user_id === r.uid));
    live.closeUser(r.uid, 4403, 'removed from the workspace', r.id);
    return [204, null];
  }
  if ((r = route(m, p, ['DELETE', '/api/workspaces/:id/invitations/:iid']))) {
    wsFor(r.id, user);
    db.invitations = db.invitations.filter((i) => i.id !== r.iid);
    return [204, null];
  }
  if ((r = route(m, p, ['POST', '/api/workspaces/:id/posts/validate']))) {
    wsFor(r.id, user);
    const input = { ...body, platforms: body.platforms ?? [], platform_content: body.platform_content ?? {}, media: body.media ?? [] };
    return [200, validate(input)];
  }
  if ((r = route(m, p, ['POST', '/api/workspaces/:id/posts']))) {
    wsFor(r.id, user);
    const post = normalizeInput(body, null);
    Object.assign(post, { id: randomUUID(), workspace_id: r.id, status: body.status ?? 'draft', created_by: user.id, updated_by: user.id, created_at: now(), updated_at: now() });
    db.posts.set(post.id, post);
    live.writeContent(post.id, post);
    live.snapshot(post.id, 'auto', null, user.id);
    live.emit(r.id, 'post.created', { post_id: post.id, title: post.title, status: post.status }, user.id);
    return [201, postView(post)];
  }
  if ((r = route(m, p, ['GET', '/api/workspaces/:id/posts']))) {
    wsFor(r.id, user);
    const q = urlObj.searchParams;
    if (q.get('status') && !STATUSES.includes(q.get('status'))) throw new HttpError(400, 'bad_request', 'unknown status');
    let items = [...db.posts.values()].filter((x) => x.workspace_id === r.id).map((x) => live.merge(x));
    const f = (k, fn) => { const v = q.get(k); if (v) items = items.filter((x) => fn(x, v)); };
    f('status', (x, v) => x.status === v);
    f('platform', (x, v) => x.platforms.includes(v));
    f('tag', (x, v) => x.tags.includes(v));
    f('campaign', (x, v) => x.campaign === v);
    f('q', (x, v) => `${x.title} ${x.caption}`.toLowerCase().includes(v.toLowerCase()));
    f('created_from', (x, v) => x.created_at >= v);
    f('created_to', (x, v) => x.created_at <= v);
    f('scheduled_from', (x, v) => x.scheduled_at && x.scheduled_at >= v);
    f('scheduled_to', (x, v) => x.scheduled_at && x.scheduled_at <= v);
    const sort = q.get('sort') || '-created_at';
    const desc = sort.startsWith('-');
    const key = sort.replace(/^-/, '');
    items.sort((a, b) => {
      const c = String(a[key] ?? '').localeCompare(String(b[key] ?? '')) || a.id.localeCompare(b.id);
      return desc ? -c : c;
    });
    const limit = Math.min(100, Math.max(1, Number(q.get('limit') ?? 25)));
    const offset = Number(q.get('cursor') ?? 0);
    const page = items.slice(offset, offset + limit);
    return [200, { items: page.map(postView), next_cursor: offset + limit < items.length ? String(offset + limit) : null }];
  }
  const postFor = (id) => {
    const post = db.posts.get(id);
    if (!post || !roleIn(post.workspace_id, user.id)) throw new HttpError(404, 'not_found', 'Post not found');
    return post;
  };
  if ((r = route(m, p, ['GET', '/api/posts/:id']))) return [200, postView(postFor(r.id))];
  if ((r = route(m, p, ['PUT', '/api/posts/:id']))) {
    const prev = live.merge(postFor(r.id));
    const next = normalizeInput(body, prev);
    Object.assign(next, { updated_by: user.id, updated_at: now() });
    live.writeContent(r.id, body);
    db.posts.set(r.id, next);
    live.emit(next.workspace_id, 'post.updated', { post_id: r.id, title: next.title, status: next.status }, user.id);
    return [200, postView(next)];
  }
  if ((r = route(m, p, ['DELETE', '/api/posts/:id']))) {
    const gone = postFor(r.id);
    db.posts.delete(r.id);
    live.dropPost(r.id);
    live.emit(gone.workspace_id, 'post.deleted', { post_id: r.id }, user.id);
    return [204, null];
  }
  if ((r = route(m, p, ['POST', '/api/posts/:id/duplicate']))) {
    const src = live.merge(postFor(r.id));
    const copy = structuredClone(src);
    Object.assign(copy, { id: randomUUID(), title: `${src.title} (copy)`, status: 'draft', scheduled_at: null, created_by: user.id, updated_by: user.id, created_at: now(), updated_at: now() });
    db.posts.set(copy.id, copy);
    live.writeContent(copy.id, copy);
    live.snapshot(copy.id, 'auto', null, user.id);
    return [201, postView(copy)];
  }
  const lr = live.api(m, p, body, user);
  if (lr) return lr;
  const ar = approvals.api(m, p, body, user, urlObj);
  if (ar) return ar;
  throw new HttpError(404, 'not_found', `No route for ${m} ${p}`);
}

const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.json': 'application/json' };

function serveStatic(res, pathname) {
  const root = path.resolve(STATIC_DIR);
  let file = path.resolve(root, `.${decodeURIComponent(pathname)}`);
  if (!file.startsWith(root) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) file = path.join(root, 'index.html');
  res.writeHead(200, { 'Content-Type': MIME[path.extname(file)] ?? 'application/octet-stream', 'Content-Security-Policy': CSP });
  fs.createReadStream(file).pipe(res);
}

const server = http.createServer(async (req, res) => {
  const urlObj = new URL(req.url, 'http://x');
  if (!urlObj.pathname.startsWith('/api/')) {
    if (!STATIC_DIR) {
      res.writeHead(404).end();
      return;
    }
    serveStatic(res, urlObj.pathname);
    return;
  }
  let raw = '';
  for await (const chunk of req) raw += chunk;
  let body = {};
  try {
    body = raw ? JSON.parse(raw) : {};
  } catch {
    res.writeHead(400, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: { code: 'bad_json', message: 'Invalid JSON body' } }));
    return;
  }
  try {
    const [status, out] = await api(req, urlObj, body);
    if (out === null) res.writeHead(status).end();
    else res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(out));
  } catch (e) {
    const status = e instanceof HttpError ? e.status : 500;
    const error = e instanceof HttpError ? { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } : { code: 'internal', message: String(e) };
    if (status === 500) console.error(e);
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error }));
  }
});

live = createLive({ db, roleIn, HttpError, now, accessUser });
approvals = createApprovals({ db, roleIn, HttpError, now, live, publicUrl: () => publicUrl, graphemes, LIMITS });
server.on('upgrade', (req, socket, head) => live.handleUpgrade(req, socket, head));

server.listen(PORT, '127.0.0.1', () => {
  const { address, port } = server.address();
  publicUrl = process.env.COPYDESK__SERVER__PUBLIC_URL ?? `http://${address}:${port}`;
  console.log(JSON.stringify({ timestamp: now(), level: 'INFO', fields: { message: 'listening', addr: `${address}:${port}` }, target: 'mock' }));
  console.log(JSON.stringify({ timestamp: now(), level: 'WARN', fields: { message: 'no super admin yet: open the setup link to create one', url: `${publicUrl}/setup?token=${setup.token}` }, target: 'mock' }));
});

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
