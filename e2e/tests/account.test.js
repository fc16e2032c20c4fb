'use strict';
// Deleting one's account from "Your account" in the user menu: refused with the teams to fix
// while the person is a team's only admin, then done with the password, signed out, unable
// to sign in again with it.

const assert = require('node:assert/strict');
const { suite } = require('../lib/harness');
const { checkPage } = require('../lib/browser');
const app = require('../lib/app');

const { flow } = suite();

flow('delete your account: the only admin of a team is told which, then the account goes and its sign-in stops', async ({ page, session }) => {
  const ann = app.newUser('Ann');
  await app.signUp(page, ann);
  const team = `Solo ${process.pid.toString(36)}`;
  await app.createTeam(page, team);

  await app.userMenuButton(page, ann).click();
  await app.navigates(page, '/account', () => page.getByRole('link', { name: 'Your account', exact: true }).click());
  assert.equal(await app.heading(page).innerText(), 'Your account');
  await checkPage(page, 'account');

  const password = page.getByLabel('Your password, to confirm');
  const remove = page.getByRole('button', { name: 'Delete my account', exact: true });
  // What blocks it is said before trying, and the button is disabled until it is resolved.
  assert.ok(await remove.isDisabled(), 'Delete is shown disabled');
  assert.ok(await password.isDisabled());
  const held = page.getByRole('list', { name: 'Teams you are the only admin of' });
  await held.getByRole('link', { name: team, exact: true }).waitFor();
  await held.getByText('you are its only member').waitFor();
  await checkPage(page, 'account-delete-refused');

  // Archive the team (its Settings), then delete.
  await app.navigates(page, /^\/a\/[^/]+\/members$/, () => held.getByRole('link', { name: team, exact: true }).click());
  await app.goToNav(page, 'Settings');
  await page.getByRole('link', { name: `Archive ${team}…`, exact: true }).click();
  const dialog = page.getByRole('dialog', { name: `Archive ${team}?` });
  await dialog.waitFor({ state: 'visible' });
  await dialog.getByLabel('Team name').fill(team);
  await app.navigates(page, /^\/a\/[^/]+$/, () => dialog.getByRole('button', { name: 'Archive permanently' }).click());

  await app.userMenuButton(page, ann).click();
  await app.navigates(page, '/account', () => page.getByRole('link', { name: 'Your account', exact: true }).click());
  await password.fill(ann.password);
  await app.navigates(page, '/login', () => remove.click());
  await page.getByText('Your account was deleted. You are signed out.').waitFor();

  await page.getByLabel('Email').fill(ann.email);
  await page.getByLabel('Password').fill(ann.password);
  await session.expectStatus(401, '/login', () => app.navigates(page, '/login', () => page.getByRole('button', { name: 'Sign in' }).click()));
  await page.getByText("That email and password don't match an account.", { exact: false }).waitFor();
});

flow('sessions: another browser is listed, revoked from this one, and signed out at its next click', async ({ page, newSession }) => {
  const ann = app.newUser('Ann');
  await app.signUp(page, ann);
  const other = await newSession();
  await app.signIn(other.page, ann);

  await app.userMenuButton(page, ann).click();
  await app.navigates(page, '/account/sessions',
    () => page.getByRole('banner').getByRole('link', { name: 'Sessions & tokens', exact: true }).click());
  assert.equal(await app.heading(page).innerText(), 'Sessions & tokens');
  const browsers = app.table(page, 'Browsers');
  assert.equal(await browsers.getByRole('row').count(), 3, 'a header and two browsers');
  const mine = browsers.getByRole('row').filter({ hasText: 'This device' });
  assert.equal(await mine.count(), 1);
  assert.equal(await mine.getByRole('button', { name: /^Revoke\b/ }).count(), 0, 'this device is signed out with Sign out');
  await checkPage(page, 'account-sessions');

  const theOther = browsers.getByRole('row').filter({ hasNotText: 'This device' }).filter({ has: page.getByRole('button') });
  await app.loads(page, '/account/sessions', () => theOther.getByRole('button', { name: /^Revoke\b/ }).click());
  await page.getByRole('status').filter({ hasText: 'That browser is signed out.' }).waitFor();
  assert.equal(await app.table(page, 'Browsers').getByRole('row').count(), 2, 'a header and this browser');

  // The other browser's next click lands on the sign-in page.
  await app.navigates(other.page, '/login', () => other.page.getByRole('link', { name: 'API keys', exact: true }).click());
  await other.page.getByRole('button', { name: 'Sign in' }).waitFor();
  await checkPage(page, 'account-sessions-revoked');
});
