'use strict';
// Secrets: an admin adds one from the Secrets page (opened from the left navigation), a wrong
// name is shown again as typed, adding a name the team has is refused, Replace takes the name
// into the form, Delete asks in a dialog; the value is never in the page after it is saved.

const assert = require('node:assert/strict');
const { suite } = require('../lib/harness');
const { checkPage } = require('../lib/browser');
const app = require('../lib/app');

const { flow } = suite();

flow('secrets: add one, fix a wrong name, replace the value, delete it in a dialog; the value is never shown', async ({ page, session }) => {
  const admin = app.newUser('Ann');
  await app.signUp(page, admin);
  const teamPath = await app.createTeam(page, `Secrets ${process.pid.toString(36)}`);
  await app.goToNav(page, 'Secrets');
  app.assertPath(page, `${teamPath}/secrets`);
  assert.equal(await app.heading(page).innerText(), 'Secrets');
  await page.getByText('No secrets yet.').waitFor();
  await checkPage(page, 'secrets-empty');

  const name = page.getByRole('textbox', { name: 'Name' });
  const value = page.getByRole('textbox', { name: 'Value' });
  const save = page.getByRole('button', { name: 'Add secret', exact: true });

  // A name that is not an environment variable: the form comes back as typed, with the reason.
  await name.fill('hf-token');
  await value.fill('hf_first_value_0123456789');
  await session.expectStatus(422, `${teamPath}/secrets`, () => app.navigates(page, `${teamPath}/secrets`, () => save.click()));
  await page.getByText('Use letters, digits and underscores', { exact: false }).waitFor();
  assert.equal(await name.inputValue(), 'hf-token', 'the name as typed');
  assert.equal(await value.inputValue(), 'hf_first_value_0123456789', 'the value as typed');
  assert.equal(await name.getAttribute('aria-invalid'), 'true');
  await checkPage(page, 'secrets-form-error');

  await name.fill('hf_token');
  await app.navigates(page, `${teamPath}/secrets`, () => save.click());
  await page.getByText('Secret HF_TOKEN added.').waitFor();
  assert.equal(await name.inputValue(), '', 'the form is empty again');
  const secrets = app.table(page);
  const row = app.rowNamed(secrets, 'HF_TOKEN');
  assert.equal(await row.count(), 1);
  const values = await app.rowValues(secrets, row);
  assert.equal(values.Value, 'hidden');
  assert.equal(values['Last set by'], admin.name);
  assert.ok(!(await page.content()).includes('hf_first_value_0123456789'), 'the value is not in the page');
  await checkPage(page, 'secrets-list');

  // The add form does not overwrite a value that cannot be read back.
  await name.fill('HF_TOKEN');
  await value.fill('hf_oops');
  await session.expectStatus(422, `${teamPath}/secrets`, () => app.navigates(page, `${teamPath}/secrets`, () => save.click()));
  await page.getByText('HF_TOKEN already exists: use Replace in its row to change its value.').waitFor();

  // Replace: the form takes the name (read-only); the new value replaces the old one.
  await app.navigates(page, `${teamPath}/secrets`, () =>
    app.rowNamed(app.table(page), 'HF_TOKEN').getByRole('link', { name: 'Replace the value of HF_TOKEN', exact: true }).click());
  await page.getByRole('heading', { name: 'Replace the value of HF_TOKEN', exact: true }).waitFor();
  assert.equal(await name.inputValue(), 'HF_TOKEN');
  assert.equal(await name.getAttribute('readonly'), '', 'the name cannot change here');
  await page.getByRole('textbox', { name: 'New value' }).fill('hf_second_value');
  await checkPage(page, 'secrets-replace');
  await app.navigates(page, `${teamPath}/secrets`, () => page.getByRole('button', { name: 'Replace value', exact: true }).click());
  await page.getByText('The value of HF_TOKEN was replaced.').waitFor();
  assert.equal(await app.rowNamed(app.table(page), 'HF_TOKEN').count(), 1, 'still one secret');

  // Delete: Cancel keeps it; confirming deletes it.
  const deleteLink = app.rowNamed(app.table(page), 'HF_TOKEN').getByRole('link', { name: 'Delete HF_TOKEN', exact: true });
  const confirm = page.getByRole('dialog', { name: 'Delete secret HF_TOKEN?' });
  await deleteLink.click();
  await confirm.waitFor({ state: 'visible' });
  await app.animationsDone(confirm);
  await checkPage(page, 'secrets-delete-dialog');
  await confirm.getByRole('button', { name: 'Cancel', exact: true }).click();
  await confirm.waitFor({ state: 'hidden' });
  await deleteLink.click();
  await confirm.waitFor({ state: 'visible' });
  await app.navigates(page, `${teamPath}/secrets`, () =>
    confirm.getByRole('button', { name: 'Delete secret', exact: true }).click());
  await page.getByText('Secret HF_TOKEN deleted.').waitFor();
  await page.getByText('No secrets yet.').waitFor();
});
