'use strict';
// Members and invitations: invite by email and join from the mailed link in a second
// browser, change a role from the row's dropdown, remove a member, bulk CSV invites, the
// members search; and archiving a team from Settings.

const assert = require('node:assert/strict');
const { suite } = require('../lib/harness');
const { checkPage } = require('../lib/browser');
const app = require('../lib/app');

const { flow } = suite();

let teams = 0;
const teamName = (base = 'Acme') => `${base} ${process.pid.toString(36)}${++teams}`;

/** An admin with a fresh team, on its members page. */
async function adminOnMembers(page, base) {
  const admin = app.newUser('Ann');
  await app.signUp(page, admin);
  const team = teamName(base);
  const teamPath = await app.createTeam(page, team);
  await app.goToNav(page, 'Members');
  app.assertPath(page, `${teamPath}/members`);
  return { admin, team, teamPath };
}

flow('invite by email: the invitee opens the mailed link, signs up and lands in the team', async ({ page, newSession, server }) => {
  const { team, teamPath } = await adminOnMembers(page, 'Invite');
  assert.equal(await app.heading(page).innerText(), 'Members');
  assert.equal(await app.accountNav(page).getByRole('link', { name: 'Members', exact: true }).getAttribute('aria-current'), 'page');
  const pending = page.getByRole('region', { name: 'Pending invitations' });
  await pending.getByText('No pending invitations.').waitFor();
  await checkPage(page, 'members');

  const bea = app.newUser('Bea');
  await app.markDocument(page);
  await page.getByLabel('Email', { exact: true }).fill(bea.email);
  await page.getByLabel('Role', { exact: true }).selectOption({ label: 'Developer' });
  await page.getByRole('button', { name: 'Send invite' }).click();

  await app.toast(page, new RegExp(`^Invite sent to ${bea.email.replace(/\./g, '\\.')} as Developer\\.`)).waitFor();
  const row = pending.getByRole('row').filter({ hasText: bea.email });
  await row.waitFor();
  assert.match(await row.innerText(), /Developer/);
  assert.match(await row.innerText(), /Pending/);
  await app.assertSameDocument(page, 'the members page');
  assert.equal(await page.getByLabel('Email', { exact: true }).inputValue(), '', 'the invite form is emptied');
  app.assertPath(page, `${teamPath}/members`);
  await checkPage(page, 'members-invite-sent');

  // The email, from the local outbox (quoted-printable MIME).
  const mail = await app.readInviteEmail(server, bea.email);
  assert.match(mail.text, new RegExp(`${team}`));
  assert.match(mail.text, /as Developer/);
  assert.ok(mail.link.startsWith(`${server.url}/invites/`), mail.link);
  assert.ok(mail.html.includes(`href="${mail.link}"`), 'the HTML part links to the same invite');

  // A second, signed-out browser follows the link.
  const invitee = await newSession();
  await app.acceptInviteBySigningUp(invitee.page, mail.link, bea, {
    onPage: async (name) => {
      if (name === 'invite') {
        assert.equal(await app.heading(invitee.page).innerText(), `Join ${team}`);
        await invitee.page.getByText(`invited ${bea.email} to join`, { exact: false }).waitFor();
      }
      await checkPage(invitee.page, `invite-${name}`);
    },
  });
  app.assertPath(invitee.page, teamPath);
  assert.equal(await app.heading(invitee.page).innerText(), team);
  await invitee.page.getByRole('status').filter({ hasText: `You joined ${team} as Developer.` }).waitFor();
  assert.match(await app.switcherButton(invitee.page).innerText(), new RegExp(`${team}\\s+Developer`));
  await checkPage(invitee.page, 'invite-joined');

  // The admin sees the new member, and the invitation is gone.
  await page.reload();
  await app.memberRow(page, bea.email).waitFor();
  await pending.getByText('No pending invitations.').waitFor();
});

flow('change a role on purpose: choosing shows Save, Save swaps the row in place, kept after a reload', async ({ page, newSession, server }) => {
  await adminOnMembers(page, 'Roles');
  const cy = app.newUser('Cy');
  await app.addMember({ page, newSession, server }, cy, 'Developer');

  const row = app.memberRow(page, cy.email);
  const select = page.getByLabel(`Role of ${cy.name}`, { exact: true });
  const save = row.getByRole('button', { name: `Save role of ${cy.name}` });
  assert.equal(await select.inputValue(), 'developer');
  assert.equal(await save.isVisible(), false, 'no Save while the role is unchanged');
  await app.markDocument(page);

  // The keyboard moves through the options and sends nothing.
  let posts = 0;
  page.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/role')) posts += 1; });
  await select.focus();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  assert.equal(await select.inputValue(), 'billing', 'the choice moved');
  await page.waitForTimeout(300);
  assert.equal(posts, 0, 'nothing was sent by moving through the options');
  await save.waitFor({ state: 'visible' });
  await checkPage(page, 'members-role-chosen');

  await save.click();
  await app.toast(page, `Role of ${cy.name} changed to Billing.`).waitFor();
  await app.assertSameDocument(page, 'the members page');
  assert.equal(posts, 1);
  assert.equal(await select.inputValue(), 'billing');
  assert.equal(await save.isVisible(), false, 'Save hides again once saved');
  await checkPage(page, 'members-role-changed');

  await page.reload();
  const selected = await page.getByLabel(`Role of ${cy.name}`, { exact: true })
    .evaluate((s) => s.selectedOptions[0].textContent.trim());
  assert.equal(selected, 'Billing');
});

flow('granting Admin asks first: Cancel changes nothing, Make admin does', async ({ page, newSession, server }) => {
  const { teamPath } = await adminOnMembers(page, 'Grant');
  const di = app.newUser('Di');
  await app.addMember({ page, newSession, server }, di, 'Developer');
  const row = app.memberRow(page, di.email);
  const select = page.getByLabel(`Role of ${di.name}`, { exact: true });

  await select.selectOption({ label: 'Admin' });
  await row.getByRole('button', { name: `Save role of ${di.name}` }).click();
  const dialog = page.getByRole('dialog', { name: `Make ${di.name} an admin?` });
  await dialog.waitFor({ state: 'visible' });
  assert.match(await dialog.innerText(), /Admins can manage keys, members and billing\./);
  await checkPage(page, 'members-grant-admin-dialog');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await page.reload();
  assert.equal(await page.getByLabel(`Role of ${di.name}`, { exact: true }).inputValue(), 'developer', 'nothing sent');

  await app.markDocument(page);
  await page.getByLabel(`Role of ${di.name}`, { exact: true }).selectOption({ label: 'Admin' });
  await app.memberRow(page, di.email).getByRole('button', { name: `Save role of ${di.name}` }).click();
  await dialog.getByRole('button', { name: 'Make admin' }).click();
  await app.toast(page, `Role of ${di.name} changed to Admin.`).waitFor();
  await app.assertSameDocument(page, 'the members page');
  app.assertPath(page, `${teamPath}/members`);
});

flow('a stale page: changing the role of someone another admin removed says so and drops the row', async ({ page, newSession, server }) => {
  const { team, teamPath } = await adminOnMembers(page, 'Stale');
  const ed = app.newUser('Ed');
  await app.addMember({ page, newSession, server }, ed, 'Developer');
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

  // Another tab of the same admin removes Ed; this page still shows the row.
  const other = await page.context().newPage();
  await other.goto(`${server.url}${teamPath}/members`);
  await app.memberRow(other, ed.email).getByRole('link', { name: 'Remove', exact: true }).click();
  await other.getByRole('dialog', { name: `Remove ${ed.name}?` })
    .getByRole('button', { name: `Remove ${ed.name}`, exact: true }).click();
  await other.getByRole('status').filter({ hasText: `${ed.name} was removed` }).waitFor();
  await other.close();

  await page.getByLabel(`Role of ${ed.name}`, { exact: true }).selectOption({ label: 'Billing' });
  await app.memberRow(page, ed.email).getByRole('button', { name: `Save role of ${ed.name}` }).click();
  await app.toast(page, `${ed.name} is no longer a member of ${team}.`).waitFor();
  await app.memberRow(page, ed.email).waitFor({ state: 'detached' });
  assert.deepEqual(errors, [], 'no console error');
  await checkPage(page, 'members-stale-removed');
});

flow('remove a member: a dialog confirms, the member is gone', async ({ page, newSession, server }) => {
  const { team, teamPath } = await adminOnMembers(page, 'Remove');
  const dan = app.newUser('Dan');
  await app.addMember({ page, newSession, server }, dan, 'Developer');

  const row = app.memberRow(page, dan.email);
  await row.getByRole('link', { name: 'Remove', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: `Remove ${dan.name}?` });
  await dialog.waitFor({ state: 'visible' });
  app.assertPath(page, `${teamPath}/members`);
  await checkPage(page, 'members-remove-dialog');

  await app.navigates(page, `${teamPath}/members`,
    () => dialog.getByRole('button', { name: `Remove ${dan.name}`, exact: true }).click());
  await page.getByRole('status').filter({ hasText: `${dan.name} was removed from ${team}.` }).waitFor();
  assert.equal(await app.memberRow(page, dan.email).count(), 0);
  assert.equal(await app.membersTable(page).getByRole('row').count(), 2, 'header + the admin');
  await checkPage(page, 'members-removed');
});

flow('bulk CSV invite: upload, preview every row, send the valid one, summary', async ({ page, server }) => {
  const { teamPath } = await adminOnMembers(page, 'Bulk');
  await app.navigates(page, `${teamPath}/members/bulk`, () => page.getByRole('link', { name: 'Bulk invite (CSV)' }).click());
  assert.equal(await app.heading(page).innerText(), 'Bulk invite');
  await checkPage(page, 'bulk-upload');

  const eve = app.newUser('Eve');
  const other = app.newUser('Fay');
  const csv = [
    'Email,Role',
    `${eve.email},developer`,
    'not-an-email,developer',
    `${other.email},wizard`,
    `${eve.email.toUpperCase()},billing`,
  ].join('\r\n');
  await page.getByLabel('CSV file').setInputFiles({ name: 'invites.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await app.navigates(page, `${teamPath}/members/bulk`, () => page.getByRole('button', { name: 'Preview invites' }).click());
  assert.equal(await app.heading(page).innerText(), 'Check the invites');

  // The row whose Email cell is exactly `email` (hasText would ignore case).
  const status = async (email) => (await page.getByRole('row')
    .filter({ has: page.getByRole('cell', { name: email, exact: true }) })
    .getByRole('cell').last().innerText()).trim();
  const rows = page.getByRole('row');
  assert.equal(await rows.count(), 5, 'header + 4 rows');
  assert.equal(await status(eve.email), 'Will invite');
  assert.equal(await status('not-an-email'), 'Invalid email');
  assert.match(await status(other.email), /^Unknown role/);
  assert.equal(await status(eve.email.toUpperCase()), 'Duplicate in file');
  await checkPage(page, 'bulk-preview');

  // Confirming posts, then redirects to the members page with a summary (a reload sends nothing again).
  await app.navigates(page, `${teamPath}/members`, () => page.getByRole('button', { name: 'Send 1 invite', exact: true }).click());
  await page.getByRole('status').filter({ hasText: 'Bulk invite done: 1 sent, 0 sent again, 0 skipped' }).waitFor();
  await checkPage(page, 'bulk-result');

  // The invite is pending and its email is in the outbox.
  await app.readInviteEmail(server, eve.email);
  await page.getByRole('region', { name: 'Pending invitations' }).getByRole('row').filter({ hasText: eve.email }).waitFor();
});

flow('archive a team: the dialog asks for the exact name, then the team is read-only', async ({ page }) => {
  const admin = app.newUser('Ann');
  await app.signUp(page, admin);
  const team = teamName('Archive');
  const teamPath = await app.createTeam(page, team);
  // From the Members page, as the reference has it; the confirmation lives in Settings.
  await app.goToNav(page, 'Members');
  await app.navigates(page, `${teamPath}/settings`, () => page.getByRole('link', { name: 'Archive this team…', exact: true }).click());

  await page.getByRole('link', { name: `Archive ${team}…`, exact: true }).click();
  const dialog = page.getByRole('dialog', { name: `Archive ${team}?` });
  await dialog.waitFor({ state: 'visible' });
  const submit = dialog.getByRole('button', { name: 'Archive permanently' });
  const input = dialog.getByLabel('Team name');
  assert.equal(await submit.isDisabled(), true, 'disabled while nothing is typed');
  await input.pressSequentially(team.slice(0, -1));
  assert.equal(await submit.isDisabled(), true, 'disabled with part of the name');
  await input.fill(team.toLowerCase());
  assert.equal(await submit.isDisabled(), true, 'disabled with the name in another case');
  await input.fill(team);
  assert.equal(await submit.isDisabled(), false, 'enabled with the exact name');
  await checkPage(page, 'archive-dialog');

  await app.navigates(page, teamPath, () => submit.click());
  assert.equal(await app.heading(page).innerText(), team);
  await page.getByRole('note').filter({ hasText: `${team} is archived. Its pages are read-only.` }).waitFor();
  await checkPage(page, 'overview-archived');

  const menu = await app.openSwitcher(page);
  const archived = menu.locator('.menu__heading', { hasText: app.exactly('Archived') });
  await archived.waitFor();
  const item = menu.getByRole('link', { name: new RegExp(`^${team}\\s+Archived$`) });
  await item.waitFor();
  // Listed after the "Archived" heading, not among the teams.
  assert.equal(await archived.evaluate((h, name) => {
    for (let n = h.nextElementSibling; n; n = n.nextElementSibling) if (n.textContent.includes(name)) return true;
    return false;
  }, team), true);
  assert.equal(await menu.getByRole('link', { name: new RegExp(`^${team}\\s+Admin$`) }).count(), 0);
  await checkPage(page, 'switcher-archived');
});

flow('search members: typing filters the table in place', async ({ page, newSession, server }) => {
  const { admin, teamPath } = await adminOnMembers(page, 'Search');
  const gil = app.newUser('Gil');
  const hal = app.newUser('Hal');
  await app.addMembers({ page, newSession, server }, [[gil, 'Developer'], [hal, 'Billing']]);
  const rows = app.membersTable(page).getByRole('row');
  assert.equal(await rows.count(), 4, 'header + 3 members');

  await app.markDocument(page);
  const search = page.getByRole('searchbox', { name: 'Search members by name or email' });
  await search.pressSequentially('gil', { delay: 30 });
  await app.memberRow(page, admin.email).waitFor({ state: 'detached' });
  await app.memberRow(page, gil.email).waitFor();
  assert.equal(await rows.count(), 2, 'header + Gil');
  await app.assertSameDocument(page, 'the members page');
  assert.equal(new URL(page.url()).searchParams.get('q'), 'gil');
  await checkPage(page, 'members-search');

  // By email too; nothing found says so.
  await search.fill(hal.email);
  await app.memberRow(page, gil.email).waitFor({ state: 'detached' });
  assert.equal(await rows.count(), 2, 'header + Hal');
  await search.fill('nobody-here');
  await page.getByText('No members match “nobody-here”.').waitFor();
  await app.assertSameDocument(page, 'the members page');
  await checkPage(page, 'members-search-empty');

  // Clearing shows everyone again.
  await search.fill('');
  await app.memberRow(page, admin.email).waitFor();
  assert.equal(await rows.count(), 4);
  await app.assertSameDocument(page, 'the members page');
  app.assertPath(page, `${teamPath}/members`);
});
