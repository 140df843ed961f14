// Scenario 4 of the e2e test (issue #9): approvals, the client review link, notifications.
//
// The workspace owner (signed in on page A) makes a new workspace, invites a content
// creator and an approver (each signs up from the invitation email in a browser of their
// own), switches the approval mode to multi-level and creates a two-step workflow: "Team
// review" by the approver, then "Client sign-off" by the client role (which a review link
// with "approve" stands for). Then:
//   the creator writes a post and submits it, and keeps the post page open →
//   the approver's bell shows the request (live) → the approver approves from the inbox →
//   the creator's page shows step 1 approved and step 2 active, live →
//   the creator makes a review link for the post → a client opens it in a fresh browser
//   context with no account (phone-sized), gives a name, sees the X preview with its
//   count, approves → the creator's page shows the round approved, live, never reloaded →
//   a tampered link says the link does not work.
// Written against the contract (/work/spec9.md): roles, labels and text first, the
// data-testid attributes of the UI where a role would be ambiguous; no fixed sleeps.

const PASSWORD = 'correct horse battery staple';

/**
 * `pages.A`: the owner's page (signed in); `pages.newPage(who, opts)` opens a page in a
 * fresh browser context. `h`: run.mjs's helpers.
 */
export async function approvalsFlow(pages, base, mailDir, info, state, h) {
  const { expectVisible, expectCount, waitUntil, waitForPath, joinByInvitation, snap } = h;
  const { A } = pages;
  const rnd = Math.random().toString(36).slice(2, 8);
  const creatorName = 'Cora Creator';
  const approverName = 'Amos Approver';
  const clientName = 'Cleo Client';
  const creatorEmail = `creator-${rnd}@example.com`;
  const approverEmail = `approver-${rnd}@example.com`;

  state.step = 'approvals: a new workspace';
  await A.goto(`${base}/workspaces`);
  await A.getByTestId('workspace-name').fill(`Approvals ${rnd}`);
  await A.getByTestId('workspace-create').click();
  await waitForPath(A, /^\/w\/[^/]+\/posts$/, 'the new workspace');
  const wsId = new URL(A.url()).pathname.split('/')[2];

  state.step = 'approvals: invite a creator and an approver';
  await A.goto(`${base}/w/${wsId}/members`);
  for (const [email, role] of [
    [creatorEmail, 'content_creator'],
    [approverEmail, 'reviewer'],
  ]) {
    await A.getByTestId('invite-email').fill(email);
    await A.getByTestId('invite-role').selectOption(role);
    await A.getByTestId('invite-submit').click();
    await expectVisible(A.locator(`[data-testid="invitation-row"][data-email="${email}"]`), `the invitation of ${email}`);
  }
  const C = await pages.newPage('creator');
  const P = await pages.newPage('approver');
  await joinByInvitation(C, base, mailDir, creatorEmail, creatorName, PASSWORD);
  await joinByInvitation(P, base, mailDir, approverEmail, approverName, PASSWORD);

  state.step = 'approvals: multi-level mode';
  await A.goto(`${base}/w/${wsId}/posts`);
  await A.getByRole('link', { name: 'Workflows' }).click();
  await waitForPath(A, new RegExp(`^/w/${wsId}/settings/approvals$`), 'the approval settings');
  await A.getByRole('radio', { name: /Multi level/i }).check();
  await A.getByRole('button', { name: 'Save mode' }).click();
  await expectVisible(A.getByText('Approval mode: Multi level.'), 'the saved approval mode');

  state.step = 'approvals: a two-step workflow';
  await A.getByRole('button', { name: 'New workflow' }).click();
  const form = A.getByTestId('workflow-form');
  await form.getByLabel('Workflow name').fill('Standard review');
  await form.getByRole('checkbox', { name: /Default workflow/ }).check();
  const step1 = form.getByTestId('step-editor').nth(0);
  await step1.getByLabel('Step name').fill('Team review');
  await step1.getByRole('checkbox', { name: new RegExp(approverName) }).check();
  await form.getByRole('button', { name: 'Add a next step' }).click();
  const step2 = form.getByTestId('step-editor').nth(1);
  await step2.getByLabel('Step name').fill('Client sign-off');
  await step2.getByRole('checkbox', { name: /^Client/ }).check();
  await snap(A, '8-workflow-form');
  await form.getByRole('button', { name: 'Create workflow' }).click();
  await expectVisible(A.locator('[data-testid="workflow-row"][data-name="Standard review"]'), 'the new workflow in the list');
  const summary = (await A.locator('[data-testid="workflow-row"][data-name="Standard review"]').textContent()) ?? '';
  if (!summary.includes('Team review') || !summary.includes('Client sign-off')) throw new Error(`the workflow row reads "${summary}"`);

  state.step = 'approvals: the creator writes a post';
  const title = `Spring launch ${rnd}`;
  await C.goto(`${base}/w/${wsId}/posts/new`);
  await C.getByTestId('post-title').fill(title);
  await C.getByTestId('platform-x').check();
  await C.getByTestId('post-caption').fill(`Spring is here ${rnd}: see https://example.com/spring for the full collection.`);
  await C.getByTestId('post-save').click();
  await waitForPath(C, new RegExp(`^/w/${wsId}/posts/[0-9a-f-]{36}$`), "the creator's saved post");
  const postUrl = C.url();
  const panel = C.getByTestId('approval-panel');
  await expectVisible(panel.getByText('Not submitted for approval yet.'), 'the approval card of a post never submitted');
  // The page must follow everything that happens next without a reload.
  await C.evaluate(() => {
    window.__e2eSamePage = true;
  });

  state.step = 'approvals: the creator submits';
  await panel.getByRole('button', { name: 'Submit for approval' }).click();
  await panel.getByLabel('Comment for the approvers (optional)').fill('Ready for review, thanks!');
  await panel.getByRole('button', { name: 'Submit for approval' }).click();
  await expectVisible(panel.getByTestId('approval-status').getByText('In review'), 'the round in review');
  const stepOf = (page, name, status = null) =>
    page.locator(`[data-testid="approval-panel"] [data-testid="approval-step"][data-step="${name}"]${status ? `[data-status="${status}"]` : ''}`);
  await expectVisible(stepOf(C, 'Team review', 'active'), 'step 1 active');
  await expectVisible(stepOf(C, 'Team review').getByText(`Waiting on ${approverName}`), 'step 1 waiting on the approver');
  await expectVisible(stepOf(C, 'Client sign-off', 'waiting'), 'step 2 waiting');
  await expectVisible(C.getByTestId('post-status').getByText('In review'), 'the post status "In review"');
  await snap(C, '9-creator-submitted');

  state.step = "approvals: the approver's bell";
  // (At least one: the round's submission and its first step may each notify.)
  const bell = P.getByRole('button', { name: /^Notifications, [1-9]\d* unread$/ });
  await expectVisible(bell, "the approver's bell with unread notifications");
  await bell.click();
  const note = P.getByRole('region', { name: 'Notifications' }).locator('[data-testid="notification"][data-type="approval_requested"][data-read="false"]').first();
  await expectVisible(note, 'the approval request in the bell');
  await snap(P, '10-approver-bell');
  // A click opens the post.
  await note.getByRole('link').click();
  await waitForPath(P, new RegExp(`^${new URL(postUrl).pathname}$`), 'the post, opened from the notification');
  await expectVisible(P.getByTestId('approval-panel').getByRole('button', { name: /Review: approve or reject/ }), "the approver's review button on the post");

  state.step = 'approvals: the approver approves from the inbox';
  const inboxLink = P.getByRole('link', { name: /^Approvals/ });
  await waitUntil(() => inboxLink.textContent(), (t) => /1/.test(t ?? ''), 'the inbox count 1 in the nav');
  await inboxLink.click();
  await waitForPath(P, new RegExp(`^/w/${wsId}/approvals$`), 'the approvals inbox');
  const item = P.locator(`[data-testid="inbox-item"][data-title="${title}"]`);
  await expectVisible(item, 'the post in the inbox');
  await item.getByLabel('Comment (optional)').fill('Looks good to me.');
  await snap(P, '10b-inbox');
  await item.getByRole('button', { name: 'Approve' }).click();
  await expectVisible(P.getByText(`Approved “${title}”.`), 'the approval confirmation');
  await expectCount(item, 0, 'the post in the inbox after approving');

  state.step = "approvals: the creator's page follows live (step 1)";
  await expectVisible(stepOf(C, 'Team review', 'approved'), 'step 1 approved on the open page');
  await expectVisible(stepOf(C, 'Team review').getByText('Looks good to me.'), "the approver's comment on the open page");
  await expectVisible(stepOf(C, 'Client sign-off', 'active'), 'step 2 active on the open page');

  state.step = 'approvals: the creator makes a review link';
  await panel.getByRole('button', { name: 'Share for review' }).click();
  const approveBox = panel.getByRole('checkbox', { name: 'Approve / reject' });
  if (!(await approveBox.isChecked())) await approveBox.check();
  await panel.getByRole('button', { name: 'Create review link' }).click();
  const linkField = panel.getByLabel('Review link');
  await expectVisible(linkField, 'the new review link');
  const reviewUrl = await linkField.inputValue();
  if (!/\/review\/[^/]+$/.test(new URL(reviewUrl).pathname)) throw new Error(`the review link is "${reviewUrl}"`);
  await expectVisible(panel.getByTestId('share-link-row'), 'the link listed under the post');

  state.step = 'approvals: the client approves through the link';
  const K = await pages.newPage('client', { viewport: { width: 360, height: 740 } });
  await K.goto(base + new URL(reviewUrl).pathname);
  await K.getByLabel('Your name').fill(clientName);
  await K.getByRole('button', { name: 'Continue' }).click();
  await waitUntil(() => K.getByTestId('review-name').textContent(), (t) => t === clientName, 'the name the client reviews as');
  const card = K.locator(`[data-testid="review-post"][data-title="${title}"]`);
  await expectVisible(card, 'the post on the review page');
  await expectVisible(card.getByRole('article', { name: 'X preview' }), 'the X preview');
  const count = (await card.getByTestId('review-count').textContent())?.trim() ?? '';
  if (!/^\d+\/280/.test(count)) throw new Error(`the X count reads "${count}"`);
  const width = await K.evaluate(() => document.documentElement.scrollWidth);
  if (width > 360) throw new Error(`the review page is ${width} px wide at 360 px`);
  await snap(K, '11-client-review');
  await card.getByLabel('Your feedback (optional)').fill('Lovely, go ahead.');
  await card.getByRole('button', { name: 'Approve' }).click();
  await expectVisible(card.getByText('Thanks: you approved this post.'), "the client's confirmation");
  await expectVisible(card.getByTestId('review-approval-status').getByText('Approved'), 'the round approved on the review page');
  const remembered = await K.evaluate(() => localStorage.getItem('copydesk.review_name'));
  if (remembered !== clientName) throw new Error(`the name kept in localStorage is ${JSON.stringify(remembered)}`);

  state.step = "approvals: the creator's page follows live (approved)";
  await expectVisible(stepOf(C, 'Client sign-off', 'approved'), 'step 2 approved on the open page');
  await expectVisible(stepOf(C, 'Client sign-off').getByText(clientName), "the client's name in the decisions");
  await expectVisible(panel.getByTestId('approval-status').getByText('Approved'), 'the round approved on the open page');
  await expectVisible(C.getByTestId('post-status').getByText('Approved'), 'the post status "Approved" on the open page');
  if (!(await C.evaluate(() => window.__e2eSamePage === true))) throw new Error("the creator's page was reloaded");
  if (C.url() !== postUrl) throw new Error(`the creator left the post page: ${C.url()}`);
  // A status changed by approvals is not "someone else's settings" and leaves nothing unsaved.
  await expectCount(C.getByTestId('post-remote-settings'), 0, 'notices that someone else changed the settings');
  const settingsState = (await C.getByTestId('settings-state').textContent())?.trim();
  if (settingsState !== 'Text saves as you type') throw new Error(`the settings state reads "${settingsState}"`);
  await snap(C, '12-creator-approved');

  state.step = 'approvals: the creator is told';
  await expectVisible(C.getByRole('button', { name: /^Notifications, [1-9]\d* unread$/ }), "the creator's bell with the approval");

  state.step = 'approvals: notification preferences';
  await C.getByRole('button', { name: /^Notifications/ }).click();
  await C.getByRole('link', { name: 'Notification settings' }).click();
  await waitForPath(C, /^\/settings\/notifications$/, 'the notification preferences');
  const push = C.getByTestId('pref-approval_requested-push');
  await expectVisible(push, 'the push switch of "approval requested"');
  const wasOn = await push.isChecked();
  await push.setChecked(!wasOn);
  await C.getByRole('combobox', { name: 'Email digest' }).selectOption('daily');
  await C.getByRole('button', { name: 'Save preferences' }).click();
  await expectVisible(C.getByText('Preferences saved.'), 'the saved preferences');
  await C.reload();
  await expectVisible(C.getByTestId('pref-approval_requested-push'), 'the preferences after a reload');
  if ((await C.getByTestId('pref-approval_requested-push').isChecked()) === wasOn) throw new Error('the push preference did not stay changed');
  const digest = await C.getByRole('combobox', { name: 'Email digest' }).inputValue();
  if (digest !== 'daily') throw new Error(`the digest reads "${digest}" after a reload`);
  await snap(C, '13-preferences');

  state.step = 'approvals: the new pages fit 360 px';
  for (const [pg, path, heading, shot] of [
    [C, '/settings/notifications', 'Notifications', '14-preferences-360'],
    [P, `/w/${wsId}/approvals`, /^Approvals/, '15-inbox-360'],
    [A, `/w/${wsId}/settings/approvals`, /^Approval settings/, '16-settings-360'],
    [C, new URL(postUrl).pathname, title, '17-post-360'],
  ]) {
    await pg.setViewportSize({ width: 360, height: 740 });
    await pg.goto(base + path);
    await expectVisible(pg.getByRole('heading', { level: 1, name: heading }), `the page ${path} at 360 px`);
    const w = await pg.evaluate(() => document.documentElement.scrollWidth);
    if (w > 360) throw new Error(`${path} is ${w} px wide at 360 px`);
    await snap(pg, shot);
  }

  state.step = 'approvals: a tampered link';
  await K.goto(`${base}/review/${encodeURIComponent('not-a-real-token')}`);
  await expectVisible(K.getByRole('heading', { name: 'This review link does not work' }), 'the invalid-link message');

  if (process.env.COPYDESK_E2E_APPROVALS_MORE === '1') {
    for (const pg of [A, C, P, K]) await pg.setViewportSize({ width: 1280, height: 900 });
    await moreFlows({ A, C, P, K }, base, wsId, { title, approverName }, state, h);
  }
}

/**
 * More of the UI (COPYDESK_E2E_APPROVALS_MORE=1): the workflow picker, request changes on
 * the post page, reject from the inbox, withdraw, the round history, a view-only link for
 * two posts made from the posts list, and revoking it.
 */
async function moreFlows({ A, C, P, K }, base, wsId, { title, approverName }, state, h) {
  const { expectVisible, expectCount, waitForPath } = h;

  state.step = 'approvals+: a second workflow that matches every post';
  await A.goto(`${base}/w/${wsId}/settings/approvals`);
  await A.getByRole('button', { name: 'New workflow' }).click();
  const form = A.getByTestId('workflow-form');
  await form.getByLabel('Workflow name').fill('Quick check');
  const step = form.getByTestId('step-editor').nth(0);
  await step.getByLabel('Step name').fill('Editor');
  await step.getByRole('checkbox', { name: new RegExp(approverName) }).check();
  await step.getByLabel('Deadline (hours)').fill('48');
  await step.getByLabel('When it passes').selectOption('escalate');
  await form.getByRole('button', { name: 'Create workflow' }).click();
  await expectVisible(A.locator('[data-testid="workflow-row"][data-name="Quick check"]'), 'the second workflow');

  state.step = 'approvals+: submit with the workflow picker';
  const title2 = `${title} second`;
  await C.goto(`${base}/w/${wsId}/posts/new`);
  await C.getByTestId('post-title').fill(title2);
  await C.getByTestId('platform-bluesky').check();
  await C.getByTestId('post-caption').fill('A second post for the edge cases.');
  await C.getByTestId('post-save').click();
  await waitForPath(C, new RegExp(`^/w/${wsId}/posts/[0-9a-f-]{36}$`), 'the second post');
  const post2 = C.url();
  const panel = C.getByTestId('approval-panel');
  await panel.getByRole('button', { name: 'Submit for approval' }).click();
  const picker = panel.getByLabel('Workflow');
  await expectVisible(picker, 'the workflow picker (two workflows match)');
  if ((await picker.locator('option:checked').textContent())?.includes('(default)') !== true) throw new Error('the default workflow is not preselected');
  await picker.selectOption({ label: 'Quick check' });
  await panel.getByRole('button', { name: 'Submit for approval' }).click();
  await expectVisible(panel.locator('[data-testid="approval-step"][data-step="Editor"][data-status="active"]'), 'the "Quick check" step active');
  await expectVisible(panel.getByTestId('approval-deadline'), 'the step deadline');

  state.step = 'approvals+: request changes on the post page';
  await P.goto(post2);
  const pp = P.getByTestId('approval-panel');
  await pp.getByRole('button', { name: /Review: approve or reject/ }).click();
  await pp.getByLabel('Comment (optional)').fill('Please shorten it.');
  await pp.getByRole('button', { name: 'Request changes' }).click();
  await expectVisible(pp.getByTestId('approval-status').getByText('Changes requested'), "changes requested on the approver's page");
  await expectVisible(panel.getByTestId('approval-status').getByText('Changes requested'), "changes requested on the creator's open page");
  await expectVisible(panel.getByText('Please shorten it.'), "the approver's comment on the creator's page");

  state.step = 'approvals+: submit again, reject from the inbox';
  await panel.getByRole('button', { name: 'Submit again' }).click();
  await panel.getByRole('button', { name: 'Submit for approval' }).click();
  await expectVisible(panel.getByTestId('approval-status').getByText('In review'), 'round 2 in review');
  await P.goto(`${base}/w/${wsId}/approvals`);
  const item = P.locator(`[data-testid="inbox-item"][data-title="${title2}"]`);
  await item.getByRole('button', { name: 'Reject' }).click();
  await expectCount(item, 0, 'the rejected post in the inbox');
  await expectVisible(panel.getByTestId('approval-status').getByText('Rejected'), "rejected on the creator's open page");

  state.step = 'approvals+: submit again and withdraw';
  await panel.getByRole('button', { name: 'Submit again' }).click();
  await panel.getByRole('button', { name: 'Submit for approval' }).click();
  await expectVisible(panel.getByTestId('approval-status').getByText('In review'), 'round 3 in review');
  C.once('dialog', (d) => void d.accept());
  await panel.getByRole('button', { name: 'Withdraw' }).click();
  await expectVisible(panel.getByTestId('approval-status').getByText('Withdrawn'), 'the withdrawn round');

  state.step = 'approvals+: the decision history';
  await panel.getByText('Decision history').click();
  await expectCount(panel.getByTestId('approval-round'), 3, 'rounds in the history');

  state.step = 'approvals+: a view-only link for two posts from the posts list';
  await C.goto(`${base}/w/${wsId}/posts`);
  for (const t of [title, title2]) await C.getByRole('checkbox', { name: `Select “${t}”` }).check();
  await C.getByRole('button', { name: 'Share for review…' }).click();
  const sel = C.getByTestId('posts-selection');
  await sel.getByRole('checkbox', { name: 'Comment' }).uncheck();
  await sel.getByRole('checkbox', { name: 'Approve / reject' }).uncheck();
  await sel.getByLabel('Label (optional)').fill('Both posts');
  await sel.getByRole('button', { name: 'Create review link' }).click();
  const url = await sel.getByLabel('Review link').inputValue();
  await K.goto(base + new URL(url).pathname);
  await expectCount(K.getByTestId('review-post'), 2, 'posts on the view-only review page');
  await expectVisible(K.getByRole('heading', { name: 'Both posts' }), 'the link label');
  await expectCount(K.getByRole('button', { name: 'Approve' }), 0, 'approve buttons on a view-only link');
  await expectCount(K.getByLabel('Add a comment'), 0, 'comment boxes on a view-only link');

  state.step = 'approvals+: revoke the link';
  await C.goto(`${base}/w/${wsId}/approvals`);
  const row = C.getByTestId('share-link-row').filter({ hasText: 'Both posts' });
  C.once('dialog', (d) => void d.accept());
  await row.getByRole('button', { name: 'Revoke' }).click();
  await expectCount(C.getByTestId('share-link-row').filter({ hasText: 'Both posts' }), 0, 'the revoked link among active links');
  await K.reload();
  await expectVisible(K.getByRole('heading', { name: 'This review link does not work' }), 'the revoked link refused');
}
