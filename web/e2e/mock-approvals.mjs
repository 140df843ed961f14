// Issue #9 in the mock server (see mock-server.mjs): approval mode, workflows, approval
// rounds and decisions, the inbox, share links and the public review API, notifications
// (in-app list, preferences, push subscriptions) — in memory, following /work/spec9.md.
//
// Where the contract leaves it open the mock chooses (the UI must not depend on these):
// - a step whose approvers include the role "client" also takes decisions made through a
//   share link with "approve" (one such decision counts as one approval);
// - without a matching workflow a submission gets one step "Review" by any workspace admin
//   or content manager (one approval);
// - post status: submitted → in_review, approved → approved, changes requested →
//   changes_requested, rejected / withdrawn → draft.
import { createECDH, randomBytes, randomUUID } from 'node:crypto';

const ROLES_ALL = ['workspace_admin', 'content_manager', 'content_creator', 'reviewer', 'client'];
const MANAGERS = ['workspace_admin', 'content_manager'];
const EDITORS = ['workspace_admin', 'content_manager', 'content_creator'];

const TYPES = [
  ['approval_requested', 'Approval requested'],
  ['approved', 'Post approved'],
  ['rejected', 'Post rejected'],
  ['changes_requested', 'Changes requested'],
  ['mentioned', 'Mentioned in a comment'],
  ['deadline_near', 'Approval deadline near'],
  ['published', 'Post published'],
  ['failed', 'Publishing failed'],
];
const DEFAULT_PUSH = ['approval_requested', 'mentioned'];
const DEFAULT_EMAIL = ['approval_requested', 'mentioned', 'deadline_near'];

export function createApprovals({ db, roleIn, HttpError, now, live, publicUrl, graphemes, LIMITS }) {
  const workflows = new Map(); // id -> workflow
  const rounds = new Map(); // postId -> [approval] (oldest first)
  const links = new Map(); // id -> link (with token)
  const notifications = []; // newest last
  const prefs = new Map(); // userId -> {types, email_digest}
  const pushSubs = new Map(); // id -> {id, user_id, endpoint, keys, user_agent, created_at}
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const vapidKey = ecdh.getPublicKey().toString('base64url');

  const user = (id) => db.users.get(id)?.user ?? null;
  const ref = (id) => ({ user_id: id, name: user(id)?.name ?? 'Someone' });
  const members = (wsId) => db.members.filter((m) => m.workspace_id === wsId);
  const wsOf = (wsId, u) => {
    const w = db.workspaces.get(wsId);
    const role = w && roleIn(wsId, u.id);
    if (!w || !role) throw new HttpError(404, 'not_found', 'Workspace not found');
    return { w, role: u.is_super_admin ? 'workspace_admin' : role };
  };
  const postOf = (id, u) => {
    const p = db.posts.get(id);
    const role = p && roleIn(p.workspace_id, u.id);
    if (!p || !role || (role === 'client' && !p.client_visible)) throw new HttpError(404, 'not_found', 'Post not found');
    return { p, role: u.is_super_admin ? 'workspace_admin' : role };
  };
  const invalid = (fields) => new HttpError(422, 'validation_failed', 'Some fields are invalid', { fields });

  // ------------------------------------------------------------ notifications

  const typeFor = (evType, data) => {
    switch (evType) {
      case 'approval.submitted':
      case 'approval.step_started':
      case 'approval.voided':
        return 'approval_requested';
      case 'approval.deadline_passed':
        return data.action === 'reassign' || data.action === 'escalate' ? 'approval_requested' : null;
      case 'approval.approved':
        return 'approved';
      case 'approval.rejected':
        return 'rejected';
      case 'approval.changes_requested':
        return 'changes_requested';
      case 'approval.deadline_near':
        return 'deadline_near';
      default:
        return null;
    }
  };

  function prefsOf(userId) {
    if (!prefs.has(userId)) {
      prefs.set(userId, {
        types: TYPES.map(([type, label]) => ({ type, label, in_app: true, email: DEFAULT_EMAIL.includes(type), push: DEFAULT_PUSH.includes(type) })),
        email_digest: 'off',
      });
    }
    return prefs.get(userId);
  }

  function notify(userId, wsId, type, { post_id, title, body, actor }) {
    const pref = prefsOf(userId).types.find((t) => t.type === type);
    if (pref && !pref.in_app) return;
    const n = {
      id: randomUUID(), user_id: userId, type, workspace_id: wsId, post_id: post_id ?? null, title, body,
      url: post_id ? `${publicUrl()}/w/${wsId}/posts/${post_id}` : `${publicUrl()}/w/${wsId}/posts`,
      read_at: null, created_at: now(), actor: actor ?? null,
    };
    notifications.push(n);
    // Like the server: {user_id, notification: <as listed>}.
    const { user_id: _u, ...listed } = n;
    live.emit(wsId, 'notification.created', { user_id: userId, notification: listed }, actor?.user_id ?? null);
  }

  const TEXT = {
    approval_requested: (d) => [`Approval requested: ${d.title}`, d.step ? `Step “${d.step.name}” waits for you.` : 'A post waits for your approval.'],
    approved: (d) => [`Approved: ${d.title}`, 'The post is approved.'],
    rejected: (d) => [`Rejected: ${d.title}`, d.comment || 'The post was rejected.'],
    changes_requested: (d) => [`Changes requested: ${d.title}`, d.comment || 'Changes were requested.'],
    deadline_near: (d) => [`Deadline near: ${d.title}`, `Step “${d.step?.name ?? ''}” is due soon.`],
  };

  /** Emit an approval event and notify its recipients. */
  function emitApproval(type, post, a, extra, actorId) {
    const data = {
      post_id: post.id, title: live.merge(post).title, request_id: a.id, client_visible: !!post.client_visible, status: post.status,
      step: null, decision: null, comment: null, by: null, action: null, deadline_at: null, recipients: [], ...extra,
    };
    data.recipients = data.recipients.filter((id) => id && id !== actorId);
    live.emit(post.workspace_id, type, data, actorId ?? null);
    const nt = typeFor(type, data);
    if (!nt) return;
    const [title, body] = TEXT[nt](data);
    for (const uid of new Set(data.recipients)) notify(uid, post.workspace_id, nt, { post_id: post.id, title, body, actor: data.by ? { user_id: data.by.user_id, name: data.by.name } : null });
  }

  // ------------------------------------------------------------ workflows

  function checkWorkflow(wsId, b) {
    const fields = {};
    if (!String(b.name ?? '').trim()) fields.name = 'must not be empty';
    if (!Array.isArray(b.steps) || b.steps.length === 0) fields.steps = 'at least one step';
    (b.steps ?? []).forEach((s, i) => {
      if (!String(s.name ?? '').trim()) fields[`steps[${i}].name`] = 'must not be empty';
      const users = s.approvers?.user_ids ?? [];
      const roles = s.approvers?.roles ?? [];
      if (users.length + roles.length === 0) fields[`steps[${i}].approvers`] = 'choose at least one approver or role';
      for (const id of users) if (!roleIn(wsId, id)) fields[`steps[${i}].approvers`] = 'not a member of this workspace';
      for (const r of roles) if (!ROLES_ALL.includes(r)) fields[`steps[${i}].approvers`] = `unknown role ${r}`;
      if (s.required !== null && s.required !== undefined && !(Number.isInteger(s.required) && s.required >= 1)) fields[`steps[${i}].required`] = 'must be null or ≥ 1';
      if (!['remind', 'reassign', 'auto_approve', 'escalate'].includes(s.on_deadline ?? 'remind')) fields[`steps[${i}].on_deadline`] = 'unknown action';
      if (s.on_deadline === 'reassign' && s.deadline_hours && !s.backup_user_id) fields[`steps[${i}].backup_user_id`] = 'needed to reassign';
    });
    const mode = db.workspaces.get(wsId).approval_mode ?? 'optional';
    if (mode !== 'multi_level' && new Set((b.steps ?? []).map((s) => s.order ?? 1)).size > 1) fields.steps = 'several successive steps need the multi_level approval mode';
    if (Object.keys(fields).length) throw invalid(fields);
    return {
      name: String(b.name).trim(),
      is_default: !!b.is_default,
      conditions: { platforms: b.conditions?.platforms ?? [], tags: b.conditions?.tags ?? [], campaign: b.conditions?.campaign || null },
      steps: b.steps.map((s) => ({
        name: String(s.name).trim(), order: Number(s.order) || 1,
        approvers: { user_ids: s.approvers?.user_ids ?? [], roles: s.approvers?.roles ?? [] },
        required: s.required ?? null, auto_approve: !!s.auto_approve, deadline_hours: s.deadline_hours ?? null,
        on_deadline: s.on_deadline ?? 'remind', backup_user_id: s.backup_user_id ?? null,
      })),
    };
  }

  function saveWorkflow(wsId, input, existing) {
    if (input.is_default) for (const w of workflows.values()) if (w.workspace_id === wsId) w.is_default = false;
    const w = existing ?? { id: randomUUID(), workspace_id: wsId, created_at: now() };
    Object.assign(w, input, { updated_at: now() });
    workflows.set(w.id, w);
    return w;
  }

  const matches = (w, post) => {
    const c = w.conditions;
    if (c.platforms.length && !c.platforms.some((p) => post.platforms.includes(p))) return false;
    if (c.tags.length && !c.tags.some((t) => post.tags.includes(t))) return false;
    if (c.campaign && c.campaign !== post.campaign) return false;
    return true;
  };

  // ------------------------------------------------------------ rounds

  const resolve = (wsId, approvers) => {
    const ids = new Set(approvers.user_ids.filter((id) => roleIn(wsId, id)));
    for (const m of members(wsId)) if (approvers.roles.includes(m.role)) ids.add(m.user_id);
    return [...ids];
  };

  function stepView(s) {
    const { _users, _client, _hours, _auto, ...v } = s;
    const decided = new Set(s.decisions.map((d) => d.by.user_id));
    return {
      ...v,
      approvers: s._users.map(ref),
      waiting_on: s.status === 'active' ? s._users.filter((id) => !decided.has(id)).map(ref) : [],
    };
  }

  const view = (a) => ({ ...a, steps: a.steps.map(stepView) });
  const current = (postId) => (rounds.get(postId) ?? []).at(-1) ?? null;

  const need = (s) => s.required ?? Math.max(s._users.length, 1);

  /** Start the next order (or finish the round). Returns events to emit. */
  function advance(post, a, actorId) {
    const left = a.steps.filter((s) => s.status === 'waiting' || s.status === 'active');
    if (left.some((s) => s.status === 'active')) return;
    if (left.length === 0) {
      a.status = 'approved';
      a.decided_at = now();
      a.current_order = null;
      post.status = 'approved';
      const recipients = [a.submitted_by.user_id, post.created_by];
      emitApproval('approval.approved', post, a, { recipients }, actorId);
      return;
    }
    const order = Math.min(...left.map((s) => s.order));
    a.current_order = order;
    for (const s of a.steps.filter((x) => x.order === order)) {
      s.status = 'active';
      if (s._hours) s.deadline_at = new Date(Date.now() + s._hours * 3600_000).toISOString();
      // Auto-approve: the submitter is one of the step's approvers.
      if (s._auto && s._users.includes(a.submitted_by.user_id)) {
        s.decisions.push({ decision: 'approve', comment: 'Auto-approved (submitter is an approver)', by: { ...ref(a.submitted_by.user_id), share_link_id: null }, at: now() });
        s.approvals = need(s);
        s.status = 'approved';
        continue;
      }
      emitApproval('approval.step_started', post, a, { step: { id: s.id, name: s.name, order: s.order }, deadline_at: s.deadline_at, recipients: [...s._users] }, actorId);
    }
    advance(post, a, actorId);
  }

  function submit(post, u, body) {
    const mode = db.workspaces.get(post.workspace_id).approval_mode ?? 'optional';
    if (mode === 'none') throw new HttpError(409, 'approval_disabled', 'Approvals are turned off in this workspace.');
    const cur = current(post.id);
    if (cur?.status === 'pending') throw new HttpError(409, 'approval_pending', 'This post is already waiting for approval.');
    const merged = live.merge(post);
    let wf = null;
    if (body.workflow_id) {
      wf = workflows.get(body.workflow_id);
      if (!wf || wf.workspace_id !== post.workspace_id) throw invalid({ workflow_id: 'unknown workflow' });
    } else {
      const ms = [...workflows.values()].filter((w) => w.workspace_id === post.workspace_id && matches(w, merged));
      wf = ms.find((w) => w.is_default) ?? ms[0] ?? null;
    }
    const steps = wf
      ? wf.steps
      : [{ name: 'Review', order: 1, approvers: { user_ids: [], roles: MANAGERS }, required: 1, auto_approve: false, deadline_hours: null, on_deadline: 'remind', backup_user_id: null }];
    const a = {
      id: randomUUID(), post_id: post.id, round: (rounds.get(post.id)?.length ?? 0) + 1, status: 'pending',
      workflow: { id: wf?.id ?? null, name: wf?.name ?? 'Default' }, content_hash: randomBytes(8).toString('hex'), version_id: null,
      submitted_by: ref(u.id), submitted_at: now(), decided_at: null, current_order: null, submit_comment: body.comment || null,
      approved_version_id: null,
      steps: steps.map((s) => ({
        id: randomUUID(), name: s.name, order: s.order, status: 'waiting', required: s.required, approvals: 0,
        roles: s.approvers.roles, deadline_at: null, decisions: [], _hours: s.deadline_hours, _auto: s.auto_approve,
        // The submitter never approves their own post, unless the step auto-approves it.
        _users: resolve(post.workspace_id, s.approvers).filter((id) => s.auto_approve || id !== u.id),
        _client: s.approvers.roles.includes('client'),
      })),
    };
    if (!rounds.has(post.id)) rounds.set(post.id, []);
    rounds.get(post.id).push(a);
    post.status = 'in_review';
    emitApproval('approval.submitted', post, a, { by: { ...ref(u.id), share_link_id: null }, comment: a.submit_comment, recipients: [] }, u.id);
    advance(post, a, u.id);
    return a;
  }

  /** A decision by a member (`u`) or a client through a link (`link`, `name`). */
  function decide(post, action, { u = null, link = null, name = '' }, comment) {
    const a = current(post.id);
    if (!a || a.status !== 'pending') throw new HttpError(409, 'not_pending', 'This post is not waiting for approval.');
    const by = u ? { ...ref(u.id), share_link_id: null } : { user_id: null, name, share_link_id: link.id };
    const actorId = u?.id ?? null;
    if (action === 'withdraw') {
      a.status = 'withdrawn';
      a.decided_at = now();
      a.current_order = null;
      for (const s of a.steps) if (s.status === 'active' || s.status === 'waiting') s.status = 'skipped';
      post.status = 'draft';
      emitApproval('approval.withdrawn', post, a, { by, comment, recipients: a.steps.flatMap((s) => s._users) }, actorId);
      return a;
    }
    const active = a.steps.filter((s) => s.status === 'active');
    const step = u
      ? active.find((s) => s._users.includes(u.id) && !s.decisions.some((d) => d.by.user_id === u.id))
      : active.find((s) => s._client);
    if (!step) {
      throw new HttpError(403, 'not_an_approver', u ? 'You are not an approver of the current step.' : 'This post is not waiting for a client decision.');
    }
    const decision = action === 'request-changes' ? 'request_changes' : action;
    step.decisions.push({ decision, comment: comment || null, by, at: now() });
    const stepRef = { id: step.id, name: step.name, order: step.order };
    if (decision === 'approve') {
      step.approvals += 1;
      if (step.approvals >= need(step)) step.status = 'approved';
      emitApproval('approval.decided', post, a, { step: stepRef, decision, comment: comment || null, by, recipients: [] }, actorId);
      advance(post, a, actorId);
      return a;
    }
    step.status = decision === 'reject' ? 'rejected' : 'changes_requested';
    a.status = decision === 'reject' ? 'rejected' : 'changes_requested';
    a.decided_at = now();
    a.current_order = null;
    for (const s of a.steps) if (s.status === 'active' || s.status === 'waiting') s.status = 'skipped';
    post.status = decision === 'reject' ? 'draft' : 'changes_requested';
    emitApproval('approval.decided', post, a, { step: stepRef, decision, comment: comment || null, by, recipients: [] }, actorId);
    emitApproval(decision === 'reject' ? 'approval.rejected' : 'approval.changes_requested', post, a, { step: stepRef, decision, comment: comment || null, by, recipients: [a.submitted_by.user_id, post.created_by] }, actorId);
    return a;
  }

  // ------------------------------------------------------------ share links

  const linkLive = (l) => !l.revoked_at && (!l.expires_at || new Date(l.expires_at).getTime() > Date.now());
  const linkView = (l) => ({
    id: l.id, label: l.label, post_ids: l.post_ids, permissions: l.permissions, expires_at: l.expires_at, revoked_at: l.revoked_at,
    created_by: ref(l.created_by), created_at: l.created_at, url: `${publicUrl()}/review/${l.token}`,
  });
  const linkByToken = (token) => {
    const l = [...links.values()].find((x) => x.token === token);
    if (!l || !linkLive(l)) throw new HttpError(404, 'not_found', 'This review link is invalid or has expired.');
    return l;
  };

  function reviewPost(l, id) {
    const post = db.posts.get(id);
    if (!post || !l.post_ids.includes(id)) throw new HttpError(404, 'not_found', 'Post not found');
    return post;
  }

  function reviewView(l, post) {
    const m = live.merge(post);
    const previews = m.platforms.map((pl) => {
      const c = m.platform_content?.[pl];
      const text = c?.text || m.caption;
      return { platform: pl, text, char_count: graphemes(text), limit: LIMITS[pl] ?? 0 };
    });
    const a = current(post.id);
    return {
      id: post.id, title: m.title, status: post.status, caption: m.caption, platforms: m.platforms, platform_content: m.platform_content,
      media: m.media, previews, approval: a ? view(a) : null,
      comments: live.clientComments(post.id).map((c) => ({ id: c.id, body: c.body, created_at: c.created_at, author: c.author?.name ?? 'Someone' })),
    };
  }

  // ------------------------------------------------------------ routes

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

  /** Routes without an account (the review page). */
  function publicApi(m, p, body) {
    let r;
    if ((r = route(m, p, ['GET', '/api/review/:token']))) {
      const l = linkByToken(r.token);
      const w = db.workspaces.get(l.workspace_id);
      return [200, {
        link: { permissions: l.permissions, expires_at: l.expires_at, label: l.label, workspace_name: w?.name ?? '' },
        posts: l.post_ids.map((id) => db.posts.get(id)).filter(Boolean).map((post) => reviewView(l, post)),
      }];
    }
    if ((r = route(m, p, ['POST', '/api/review/:token/posts/:pid/comments']))) {
      const l = linkByToken(r.token);
      if (!l.permissions.includes('comment')) throw new HttpError(403, 'forbidden', 'This link does not allow comments.');
      const post = reviewPost(l, r.pid);
      const name = String(body.name ?? '').trim();
      const text = String(body.body ?? '').trim();
      if (!name || !text) throw invalid({ ...(name ? {} : { name: 'must not be empty' }), ...(text ? {} : { body: 'must not be empty' }) });
      const c = live.addGuestComment(post, name, text);
      return [201, { id: c.id, body: c.body, author: name, created_at: c.created_at }];
    }
    if ((r = route(m, p, ['POST', '/api/review/:token/posts/:pid/:action'])) && ['approve', 'reject', 'request-changes'].includes(r.action)) {
      const l = linkByToken(r.token);
      if (!l.permissions.includes('approve')) throw new HttpError(403, 'forbidden', 'This link does not allow decisions.');
      const post = reviewPost(l, r.pid);
      const name = String(body.name ?? '').trim();
      if (!name) throw invalid({ name: 'must not be empty' });
      return [200, view(decide(post, r.action, { link: l, name }, body.comment))];
    }
    return null;
  }

  /** Signed-in routes; null when the path is not one of them. */
  function api(m, p, body, u, urlObj) {
    let r;
    // ---- workspace mode
    if ((r = route(m, p, ['PATCH', '/api/workspaces/:id']))) {
      const { w, role } = wsOf(r.id, u);
      if (!MANAGERS.includes(role)) throw new HttpError(403, 'forbidden', 'Only workspace admins and content managers change the approval mode.');
      if (body.approval_mode !== undefined) {
        if (!['none', 'optional', 'required', 'multi_level'].includes(body.approval_mode)) throw invalid({ approval_mode: 'must be none, optional, required or multi_level' });
        w.approval_mode = body.approval_mode;
      }
      if (typeof body.name === 'string' && body.name.trim()) w.name = body.name.trim();
      w.updated_at = now();
      return [200, { ...w, role }];
    }
    // ---- workflows
    if ((r = route(m, p, ['GET', '/api/workspaces/:id/approval-workflows']))) {
      wsOf(r.id, u);
      return [200, { workflows: [...workflows.values()].filter((w) => w.workspace_id === r.id) }];
    }
    if ((r = route(m, p, ['POST', '/api/workspaces/:id/approval-workflows']))) {
      const { role } = wsOf(r.id, u);
      if (!MANAGERS.includes(role)) throw new HttpError(403, 'forbidden', 'Only admins and content managers manage workflows.');
      return [201, saveWorkflow(r.id, checkWorkflow(r.id, body), null)];
    }
    const wfOf = (id) => {
      const w = workflows.get(id);
      if (!w) throw new HttpError(404, 'not_found', 'Workflow not found');
      const { role } = wsOf(w.workspace_id, u);
      return { w, role };
    };
    if ((r = route(m, p, ['GET', '/api/approval-workflows/:wid']))) return [200, wfOf(r.wid).w];
    if ((r = route(m, p, ['PUT', '/api/approval-workflows/:wid']))) {
      const { w, role } = wfOf(r.wid);
      if (!MANAGERS.includes(role)) throw new HttpError(403, 'forbidden', 'Only admins and content managers manage workflows.');
      return [200, saveWorkflow(w.workspace_id, checkWorkflow(w.workspace_id, body), w)];
    }
    if ((r = route(m, p, ['DELETE', '/api/approval-workflows/:wid']))) {
      const { role } = wfOf(r.wid);
      if (!MANAGERS.includes(role)) throw new HttpError(403, 'forbidden', 'Only admins and content managers manage workflows.');
      workflows.delete(r.wid);
      return [204, null];
    }
    // ---- a post's approval
    if ((r = route(m, p, ['POST', '/api/posts/:id/submit']))) {
      const { p: post, role } = postOf(r.id, u);
      if (!EDITORS.includes(role)) throw new HttpError(403, 'forbidden', 'You cannot submit posts for approval.');
      return [200, view(submit(post, u, body))];
    }
    if ((r = route(m, p, ['POST', '/api/posts/:id/:action'])) && ['approve', 'reject', 'request-changes', 'withdraw'].includes(r.action)) {
      const { p: post, role } = postOf(r.id, u);
      if (r.action === 'withdraw') {
        const a = current(post.id);
        if (a && a.submitted_by.user_id !== u.id && !MANAGERS.includes(role)) throw new HttpError(403, 'forbidden', 'Only the submitter or a manager can withdraw.');
      }
      return [200, view(decide(post, r.action, { u }, body.comment))];
    }
    if ((r = route(m, p, ['GET', '/api/posts/:id/approval']))) {
      postOf(r.id, u);
      const a = current(r.id);
      if (!a) throw new HttpError(404, 'approval', 'This post was never submitted for approval.');
      return [200, view(a)];
    }
    if ((r = route(m, p, ['GET', '/api/posts/:id/approvals']))) {
      postOf(r.id, u);
      return [200, { rounds: (rounds.get(r.id) ?? []).map(view) }];
    }
    if ((r = route(m, p, ['GET', '/api/workspaces/:id/approvals/inbox']))) {
      wsOf(r.id, u);
      const items = [];
      for (const [postId, list] of rounds) {
        const post = db.posts.get(postId);
        const a = list.at(-1);
        if (!post || post.workspace_id !== r.id || a.status !== 'pending') continue;
        const v = view(a);
        if (v.steps.some((s) => s.status === 'active' && s.waiting_on.some((x) => x.user_id === u.id))) {
          items.push({ post: { id: post.id, title: live.merge(post).title, status: post.status }, approval: v });
        }
      }
      return [200, { items }];
    }
    // ---- share links
    if ((r = route(m, p, ['POST', '/api/workspaces/:id/share-links']))) {
      const { role } = wsOf(r.id, u);
      if (!EDITORS.includes(role)) throw new HttpError(403, 'forbidden', 'You cannot share posts.');
      const ids = Array.isArray(body.post_ids) ? body.post_ids : [];
      const perms = Array.isArray(body.permissions) && body.permissions.length ? body.permissions : ['view'];
      const fields = {};
      if (!ids.length) fields.post_ids = 'choose at least one post';
      for (const id of ids) if (db.posts.get(id)?.workspace_id !== r.id) fields.post_ids = 'unknown post';
      for (const x of perms) if (!['view', 'comment', 'approve'].includes(x)) fields.permissions = `unknown permission ${x}`;
      const hours = body.expires_in_hours === undefined ? 168 : body.expires_in_hours;
      if (hours !== null && !(Number(hours) > 0)) fields.expires_in_hours = 'must be positive or null';
      if (Object.keys(fields).length) throw invalid(fields);
      const l = {
        id: randomUUID(), workspace_id: r.id, token: randomBytes(24).toString('base64url'), label: body.label || null, post_ids: ids,
        permissions: [...new Set(['view', ...perms])], expires_at: hours === null ? null : new Date(Date.now() + Number(hours) * 3600_000).toISOString(),
        revoked_at: null, created_by: u.id, created_at: now(),
      };
      links.set(l.id, l);
      live.emit(r.id, 'share_link.created', { share_link_id: l.id, post_ids: ids }, u.id);
      return [201, { ...linkView(l), token: l.token }];
    }
    if ((r = route(m, p, ['GET', '/api/workspaces/:id/share-links']))) {
      const { role } = wsOf(r.id, u);
      if (!EDITORS.includes(role)) throw new HttpError(403, 'forbidden', 'You cannot see share links.');
      const list = [...links.values()].filter((l) => l.workspace_id === r.id && (role === 'workspace_admin' || l.created_by === u.id));
      return [200, { share_links: list.map(linkView) }];
    }
    if ((r = route(m, p, ['DELETE', '/api/share-links/:lid']))) {
      const l = links.get(r.lid);
      if (!l) throw new HttpError(404, 'not_found', 'Share link not found');
      const { role } = wsOf(l.workspace_id, u);
      if (l.created_by !== u.id && role !== 'workspace_admin') throw new HttpError(403, 'forbidden', 'Not your link.');
      l.revoked_at ??= now();
      live.emit(l.workspace_id, 'share_link.revoked', { share_link_id: l.id }, u.id);
      return [204, null];
    }
    // ---- notifications
    if ((r = route(m, p, ['GET', '/api/notifications']))) {
      const q = urlObj.searchParams;
      let list = notifications.filter((n) => n.user_id === u.id && db.members.some((x) => x.user_id === u.id && x.workspace_id === n.workspace_id)).reverse();
      if (q.get('unread') === 'true') list = list.filter((n) => !n.read_at);
      const before = q.get('before');
      if (before) list = list.slice(list.findIndex((n) => n.id === before) + 1);
      const limit = Math.min(100, Math.max(1, Number(q.get('limit') ?? 50)));
      const page = list.slice(0, limit);
      const unread = notifications.filter((n) => n.user_id === u.id && !n.read_at).length;
      return [200, { notifications: page.map(({ user_id: _u, ...n }) => n), next_before: list.length > limit ? page.at(-1).id : null, unread_count: unread }];
    }
    if ((r = route(m, p, ['GET', '/api/notifications/unread-count']))) {
      return [200, { unread_count: notifications.filter((n) => n.user_id === u.id && !n.read_at).length }];
    }
    if ((r = route(m, p, ['POST', '/api/notifications/read-all']))) {
      let marked = 0;
      for (const n of notifications) if (n.user_id === u.id && !n.read_at) {
        n.read_at = now();
        marked++;
      }
      return [200, { marked }];
    }
    if ((r = route(m, p, ['GET', '/api/notifications/preferences']))) return [200, prefsOf(u.id)];
    if ((r = route(m, p, ['PUT', '/api/notifications/preferences']))) {
      const cur = prefsOf(u.id);
      if (body.email_digest !== undefined) {
        if (!['off', 'daily'].includes(body.email_digest)) throw invalid({ email_digest: 'must be off or daily' });
        cur.email_digest = body.email_digest;
      }
      for (const t of body.types ?? []) {
        const c = cur.types.find((x) => x.type === t.type);
        if (!c) throw invalid({ types: `unknown type ${t.type}` });
        for (const k of ['in_app', 'email', 'push']) if (typeof t[k] === 'boolean') c[k] = t[k];
      }
      return [200, cur];
    }
    if ((r = route(m, p, ['POST', '/api/notifications/:id/read']))) {
      const n = notifications.find((x) => x.id === r.id && x.user_id === u.id);
      if (!n) throw new HttpError(404, 'not_found', 'Notification not found');
      n.read_at ??= now();
      return [204, null];
    }
    if ((r = route(m, p, ['GET', '/api/push/vapid-public-key']))) return [200, { public_key: vapidKey }];
    if ((r = route(m, p, ['POST', '/api/push/subscriptions']))) {
      let origin = '';
      try {
        origin = new URL(body.endpoint).origin;
      } catch {
        throw invalid({ endpoint: 'must be an https URL' });
      }
      if (!body.keys?.p256dh || !body.keys?.auth) throw invalid({ keys: 'p256dh and auth are required' });
      const s = { id: randomUUID(), user_id: u.id, endpoint: body.endpoint, endpoint_origin: origin, keys: body.keys, user_agent: body.user_agent ?? null, created_at: now() };
      pushSubs.set(s.id, s);
      return [201, { id: s.id, endpoint_origin: origin, user_agent: s.user_agent, created_at: s.created_at }];
    }
    if ((r = route(m, p, ['GET', '/api/push/subscriptions']))) {
      return [200, { subscriptions: [...pushSubs.values()].filter((s) => s.user_id === u.id).map(({ id, endpoint_origin, user_agent, created_at }) => ({ id, endpoint_origin, user_agent, created_at })) }];
    }
    if ((r = route(m, p, ['DELETE', '/api/push/subscriptions/:sid']))) {
      const s = pushSubs.get(r.sid);
      if (!s || s.user_id !== u.id) throw new HttpError(404, 'not_found', 'Subscription not found');
      pushSubs.delete(r.sid);
      return [204, null];
    }
    if ((r = route(m, p, ['POST', '/api/push/test']))) return [202, { queued: [...pushSubs.values()].filter((s) => s.user_id === u.id).length }];
    return null;
  }

  // comment.mentioned → a `mentioned` notification for data.user_id.
  live.onEmit((ev) => {
    if (ev.type !== 'comment.mentioned') return;
    const post = db.posts.get(ev.data.post_id);
    const uid = ev.data.user_id;
    if (!post || !uid || !roleIn(post.workspace_id, uid)) return;
    const by = ev.data.by;
    notify(uid, post.workspace_id, 'mentioned', {
      post_id: post.id,
      title: `${user(by)?.name ?? 'Someone'} mentioned you: ${live.merge(post).title}`,
      body: String(ev.data.comment?.body ?? '').slice(0, 200),
      actor: by ? { user_id: by, name: user(by)?.name ?? '' } : null,
    });
  });

  return { api, publicApi };
}
