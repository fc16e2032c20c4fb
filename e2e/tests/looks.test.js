'use strict';
// The same pages in dark mode and on a narrow screen: axe (contrast differs per scheme) and
// screenshots for review.

const assert = require('node:assert/strict');
const { suite } = require('../lib/harness');
const { checkPage } = require('../lib/browser');
const app = require('../lib/app');

const { flow } = suite();

flow('dark mode: sign-in, overview and settings pass axe', async ({ page }) => {
  const ann = app.newUser('Dara');
  await page.goto('/login');
  await checkPage(page, 'dark-login');
  await app.signUp(page, ann);
  const teamPath = await app.createTeam(page, `Dark ${process.pid}`);
  await checkPage(page, 'dark-overview-team');
  await page.goto(`${teamPath}/settings`);
  await checkPage(page, 'dark-settings');
}, { session: { colorScheme: 'dark' } });

flow('narrow screen: the navigation folds into a menu that opens and closes', async ({ page }) => {
  const ann = app.newUser('Nia');
  await app.signUp(page, ann);
  const teamPath = await app.createTeam(page, `Narrow ${process.pid}`);

  const nav = page.getByRole('navigation', { name: 'Account' });
  const settings = nav.getByRole('link', { name: 'Settings' });
  await settings.waitFor({ state: 'hidden' });
  await checkPage(page, 'narrow-overview-team');

  await nav.getByText('Menu', { exact: true }).click();
  await settings.waitFor({ state: 'visible' });
  await checkPage(page, 'narrow-nav-open');
  await page.keyboard.press('Escape');
  await settings.waitFor({ state: 'hidden' });

  await nav.getByText('Menu', { exact: true }).click();
  await app.navigates(page, `${teamPath}/settings`, () => settings.click());
  assert.equal(await app.heading(page).innerText(), 'Settings');
}, { session: { viewport: { width: 390, height: 844 } } });
