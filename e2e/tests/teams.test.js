'use strict';
// Teams: create one from the switcher, switch accounts, form errors, rename in Settings,
// keyboard behaviour of the menus, the not-found page.

const assert = require('node:assert/strict');
const { suite } = require('../lib/harness');
const { checkPage } = require('../lib/browser');
const app = require('../lib/app');

const { flow } = suite();

let teams = 0;
const teamName = (base = 'Acme') => `${base} ${process.pid.toString(36)}${++teams}`;

flow('sign up, create a team from the switcher, land in it as its admin', async ({ page }) => {
  const ann = app.newUser('Ann');
  await app.signUp(page, ann);

  const menu = await app.openSwitcher(page);
  await menu.getByText('Personal account').waitFor();
  await menu.getByRole('link', { name: app.exactly(ann.name) }).waitFor();
  await checkPage(page, 'switcher-open');
  await app.navigates(page, '/teams/new', () => menu.getByRole('link', { name: 'Create team' }).click());
  await checkPage(page, 'create-team');

  const acme = teamName();
  await page.getByLabel('Team name').fill(acme);
  await app.navigates(page, /^\/a\/[^/]+$/, () => page.getByRole('button', { name: 'Create team' }).click());

  await page.getByRole('status').filter({
    hasText: `Team ${acme} created. You are its admin and are now working in it.`,
  }).waitFor();
  assert.equal(await app.heading(page).innerText(), acme);
  const switcher = await app.switcherButton(page).innerText();
  assert.match(switcher, new RegExp(`${acme}\\s+Admin`));
  assert.equal(await page.getByRole('definition').filter({ hasText: app.exactly('Admin') }).count(), 1);
  await page.getByText('✓ You can', { exact: false }).first().waitFor();
  await checkPage(page, 'overview-team');

  // The team is in the switcher's Teams group with its role.
  const reopened = await app.openSwitcher(page);
  const item = reopened.getByRole('link', { name: new RegExp(`^${acme}\\s+Admin$`) });
  assert.equal(await item.getAttribute('aria-current'), 'true');
});

flow('switch between the personal account and a team; / goes to the last used', async ({ page }) => {
  const ann = app.newUser('Ann');
  await app.signUp(page, ann);
  const acme = teamName();
  const teamPath = await app.createTeam(page, acme);

  await app.switchTo(page, ann.name);
  const personalPath = new URL(page.url()).pathname;
  assert.notEqual(personalPath, teamPath);
  assert.match(await app.switcherButton(page).innerText(), /Personal/);
  await page.goto('/');
  app.assertPath(page, personalPath);
  assert.equal(await app.heading(page).innerText(), ann.name);

  await app.switchTo(page, acme);
  app.assertPath(page, teamPath);
  assert.match(await app.switcherButton(page).innerText(), /Admin/);
  await page.goto('/');
  app.assertPath(page, teamPath);
  assert.equal(await app.heading(page).innerText(), acme);
});

flow('switching keeps your place: API keys → API keys, Members → the personal overview', async ({ page }) => {
  const ann = app.newUser('Ann');
  await app.signUp(page, ann);
  const acme = teamName();
  const teamPath = await app.createTeam(page, acme);
  await app.switchTo(page, ann.name);
  const personalPath = new URL(page.url()).pathname;

  await app.goToNav(page, 'API keys');
  let menu = await app.openSwitcher(page);
  await app.navigates(page, `${teamPath}/keys`, () => menu.getByRole('link', { name: new RegExp(`^${acme}\\s`) }).click());
  await app.heading(page).filter({ hasText: 'API keys' }).waitFor();

  await app.goToNav(page, 'Members');
  menu = await app.openSwitcher(page);
  await app.navigates(page, personalPath, () => menu.getByRole('link', { name: new RegExp(`^${ann.name}$`) }).click());
  assert.equal(await app.heading(page).innerText(), ann.name, 'a personal account has no members: its overview');
});

flow('a duplicate team name re-renders the form with the error and the typed value', async ({ page, session }) => {
  const ann = app.newUser('Ann');
  await app.signUp(page, ann);
  const acme = teamName();
  await app.createTeam(page, acme);

  const menu = await app.openSwitcher(page);
  await app.navigates(page, '/teams/new', () => menu.getByRole('link', { name: 'Create team' }).click());
  const typed = acme.toUpperCase(); // names are compared case-insensitively
  await page.getByLabel('Team name').fill(typed);
  await session.expectStatus(422, '/teams/new', () => app.navigates(page, '/teams/new',
    () => page.getByRole('button', { name: 'Create team' }).click()));

  const input = page.getByLabel('Team name');
  assert.equal(await input.inputValue(), typed);
  assert.equal(await input.getAttribute('aria-invalid'), 'true');
  const describedBy = (await input.getAttribute('aria-describedby')).split(/\s+/);
  assert.ok(describedBy.includes('name-error'), `aria-describedby=${describedBy}`);
  // (The message repeats the name as typed, not as stored.)
  assert.match(await page.locator('#name-error').innerText(),
    new RegExp(`^You already belong to a team named “${acme}”\\. Choose another name\\.$`, 'i'));
  await checkPage(page, 'create-team-duplicate');

  // Spaces pass the browser's `required` but not the server.
  await input.fill('   ');
  await session.expectStatus(422, '/teams/new', () => app.navigates(page, '/teams/new',
    () => page.getByRole('button', { name: 'Create team' }).click()));
  assert.equal(await page.locator('#name-error').innerText(), 'Enter a name.');

  // Fixing the name goes through.
  await input.fill(`${acme} two`);
  await app.navigates(page, /^\/a\/[^/]+$/, () => page.getByRole('button', { name: 'Create team' }).click());
  assert.equal(await app.heading(page).innerText(), `${acme} two`);
});

flow('rename the team in Settings: flash shown, new name everywhere', async ({ page, session }) => {
  const ann = app.newUser('Ann');
  await app.signUp(page, ann);
  const acme = teamName();
  const teamPath = await app.createTeam(page, acme);

  const nav = page.getByRole('navigation', { name: 'Account' });
  await app.navigates(page, `${teamPath}/settings`, () => nav.getByRole('link', { name: 'Settings' }).click());
  assert.equal(await nav.getByRole('link', { name: 'Settings' }).getAttribute('aria-current'), 'page');
  assert.equal(await app.heading(page).innerText(), 'Settings');
  assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), acme);
  await checkPage(page, 'settings');

  const renamed = teamName('Globex');
  await page.getByLabel('Name', { exact: true }).fill(renamed);
  await app.navigates(page, `${teamPath}/settings`, () => page.getByRole('button', { name: 'Save name' }).click());
  await page.getByRole('status').filter({ hasText: `Renamed to ${renamed}.` }).waitFor();
  assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), renamed);
  assert.match(await app.switcherButton(page).innerText(), new RegExp(`${renamed}\\s+Admin$`));
  await checkPage(page, 'settings-renamed');

  // A blank name is refused next to the field, the typed value kept.
  await page.getByLabel('Name', { exact: true }).fill('  ');
  await session.expectStatus(422, `${teamPath}/settings/name`, () => app.navigates(page, `${teamPath}/settings/name`,
    () => page.getByRole('button', { name: 'Save name' }).click()));
  assert.equal(await page.locator('#name-error').innerText(), 'Enter a name.');
  assert.equal(await page.getByLabel('Name', { exact: true }).getAttribute('aria-invalid'), 'true');
  await checkPage(page, 'settings-error');

  await app.navigates(page, teamPath, () => nav.getByRole('link', { name: 'Overview' }).click());
  assert.equal(await app.heading(page).innerText(), renamed);
});

flow('keyboard: the switcher opens with Enter and Escape closes it, focus back on it', async ({ page }) => {
  const ann = app.newUser('Ann');
  await app.signUp(page, ann);

  const button = app.switcherButton(page);
  const menu = app.switcherMenu(page);
  await button.focus();
  await page.keyboard.press('Enter');
  await menu.waitFor({ state: 'visible' });
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement.textContent.trim());
  assert.equal(focused, ann.name, 'Tab moves into the menu, to the personal account first');

  await page.keyboard.press('Escape');
  await menu.waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => document.activeElement.matches('details.switcher > summary')), true,
    'focus returns to the switcher button');

  // Opening the user menu closes the switcher; Escape closes the user menu too.
  await button.click();
  await menu.waitFor({ state: 'visible' });
  await app.userMenuButton(page, ann).click();
  await menu.waitFor({ state: 'hidden' });
  const signOut = page.getByRole('button', { name: 'Sign out' });
  await signOut.waitFor({ state: 'visible' });
  await page.keyboard.press('Escape');
  await signOut.waitFor({ state: 'hidden' });

  // A click outside closes an open menu.
  await button.click();
  await menu.waitFor({ state: 'visible' });
  await app.heading(page).click();
  await menu.waitFor({ state: 'hidden' });
});

flow('an unknown team and an unknown page show the not-found page', async ({ page, session }) => {
  const ann = app.newUser('Ann');
  await app.signUp(page, ann);

  await session.expectStatus(404, '/a/no-such-team', () => page.goto('/a/no-such-team'));
  await page.getByRole('heading', { level: 1 }).waitFor();
  await checkPage(page, 'not-found');
  const home = page.getByRole('link', { name: 'Go to your dashboard' });
  await app.navigates(page, /^\/a\/[^/]+$/, () => home.click());
  assert.equal(await app.heading(page).innerText(), ann.name);

  await session.expectStatus(404, '/no/such/page', () => page.goto('/no/such/page'));
  await page.getByRole('link', { name: 'Go to your dashboard' }).waitFor();
});
