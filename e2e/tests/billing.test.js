'use strict';
// Billing and usage (issue #5): buy credits (an open invoice to pay by bank transfer, its
// printable page and CSV), the payment provider's signed webhook adding the credits, billing
// details, the monthly spend limit; usage reported by a gateway shown as the Usage page's
// chart, tables and CSV and as "Model calls" on Requests; who may see billing; cancelling
// an open invoice through its confirm dialog.
//
// The server runs with a service token (the gateways' usage reports), a webhook secret (the
// payment provider) and payee details; usage and payments are fed through the JSON API the
// way those systems call it, everything else is clicked.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { suite } = require('../lib/harness');
const { checkPage, screenshot } = require('../lib/browser');
const app = require('../lib/app');

const SERVICE_TOKEN = 'e2e-service-token';
const WEBHOOK_SECRET = 'e2e-webhook-secret';
const PAYEE = 'Teamdeck Ltd · IBAN GB00 TEST 0000 0000 0000 00';

const { flow } = suite({
  serverEnv: {
    TEAMDECK_SERVICE_TOKEN: SERVICE_TOKEN,
    TEAMDECK_BILLING_WEBHOOK_SECRET: WEBHOOK_SECRET,
    TEAMDECK_PAYEE_DETAILS: PAYEE,
  },
});

let teams = 0;
const teamName = (base) => `${base} ${process.pid.toString(36)}${++teams}`;
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// ---------- Money and dates, the way the pages print them ----------

const MICROS_PER_DOLLAR = 1_000_000;
const DAY_MS = 86_400_000;

/** Micro-dollars to whole cents, half away from zero (as the server rounds). */
const cents = (micros) => (micros >= 0 ? Math.floor((micros + 5000) / 10000) : -Math.floor((-micros + 5000) / 10000));
/** "$1,234.56", "-$0.60". */
function usd(micros) {
  const c = cents(micros);
  const a = Math.abs(c);
  return `${c < 0 ? '-' : ''}$${Math.floor(a / 100).toLocaleString('en-US')}.${String(a % 100).padStart(2, '0')}`;
}
/** "1234.56": the CSV's plain decimals. */
function decimal(micros) {
  const c = cents(micros);
  const a = Math.abs(c);
  return `${c < 0 ? '-' : ''}${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`;
}
const thousands = (n) => n.toLocaleString('en-US');
/** "2026-11-27" (UTC). */
const isoDate = (ms) => new Date(ms).toISOString().slice(0, 10);
/** "27 Nov 2026" (UTC), as invoices show their dates. */
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const invoiceDay = (ms) => {
  const d = new Date(ms);
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
};
/** "November 2026": the month of "Spent in …". */
const monthLabel = (ms) => new Date(ms).toLocaleString('en-US', { month: 'long', year: 'numeric', timeZone: 'UTC' });

// ---------- The billing page, as a person reads it ----------

/** One of the figures at the top ("Credit balance", "Spent in …", "Monthly spend limit"), by its heading. */
const statCard = (page, label) => page.locator('section')
  .filter({ has: page.getByRole('heading', { name: label, exact: true }) });
/** The figure under that heading, as text ("$50.00", "No limit"). */
const stat = async (page, label) => (await statCard(page, label).locator('p').first().innerText()).trim();
const lowBalance = (page) => page.getByText(/^Your credit balance is -?\$[\d,.]+\. Buy credits/);
/** The table of a scrollable region named by its heading ("Invoices", "Recent credit movements"). */
const regionTable = (page, name) => page.getByRole('region', { name, exact: true }).getByRole('table');
const bodyRows = (tableLocator) => tableLocator.locator('tbody > tr');

/** A row as { column header: text }, row headers (<th scope=row>) included. */
async function readRow(tableLocator, row) {
  const headers = (await tableLocator.locator('thead th').allInnerTexts()).map((h) => h.trim());
  const cells = (await row.locator(':scope > th, :scope > td').allInnerTexts()).map((c) => c.trim());
  assert.equal(cells.length, headers.length, `the row has ${cells.length} cells for ${headers.length} columns: ${cells.join(' | ')}`);
  return Object.fromEntries(headers.map((h, i) => [h, cells[i]]));
}

/** What the field's aria-describedby points to, as one text (help and error). */
const description = (field) => field.evaluate((el) => (el.getAttribute('aria-describedby') || '').split(/\s+/)
  .map((id) => document.getElementById(id)).filter(Boolean).map((e) => e.textContent.trim()).join(' '));

/** Asserts a form field was sent back with what was typed and its error next to it. */
async function assertFieldError(field, typed, message) {
  assert.equal(await field.inputValue(), typed, 'the typed value is kept');
  assert.equal(await field.getAttribute('aria-invalid'), 'true');
  const said = await description(field);
  assert.ok(said.includes(message), `the field is described by "${message}": ${said}`);
  const error = field.locator('xpath=..').locator('.field__error');
  assert.equal((await error.innerText()).trim(), message, 'the error is shown next to the field');
  assert.ok(await error.isVisible());
}

/** An admin with a fresh team, on its billing page (opened from the left navigation). */
async function adminOnBilling(page, base) {
  const admin = app.newUser('Ann');
  await app.signUp(page, admin);
  const team = teamName(base);
  const teamPath = await app.createTeam(page, team);
  await app.goToNav(page, 'Billing');
  app.assertPath(page, `${teamPath}/billing`);
  assert.equal(await app.heading(page).innerText(), 'Billing');
  return { admin, team, teamPath, slug: teamPath.split('/').pop() };
}

const invoicePath = (teamPath) => new RegExp(`^${escapeRe(teamPath)}/billing/invoices/\\d+$`);

/** On the billing page: types `dollars` into "Amount in US dollars", "Get invoice"; lands on the invoice. */
async function buyCredits(page, teamPath, dollars) {
  await page.getByLabel('Amount in US dollars', { exact: true }).fill(dollars);
  await app.navigates(page, invoicePath(teamPath), () => page.getByRole('button', { name: 'Get invoice', exact: true }).click());
  const m = /^Invoice (TD-(\d{4})-\d{6})$/.exec((await app.heading(page).innerText()).trim());
  assert.ok(m, `the invoice page's heading: ${await app.heading(page).innerText()}`);
  assert.equal(Number(m[2]), new Date().getUTCFullYear(), 'numbered in the current year');
  return { number: m[1], path: new URL(page.url()).pathname };
}

/** The invoice page's status pill ("Open", "Paid", "Void"). */
const invoiceStatus = async (page) => (await page.getByRole('article').locator('.pill').innerText()).trim();

// ---------- The platform's side: usage reports and the payment webhook ----------

const reportUsage = (server, events) => app.api(server, 'POST', '/api/v1/usage/events', { token: SERVICE_TOKEN, json: { events } });

/** The payment provider's call: the body signed with HMAC-SHA256 ("t=<unix s>,v1=<hex>"). */
function webhook(server, event, { secret = WEBHOOK_SECRET, t = Math.floor(Date.now() / 1000) } = {}) {
  const raw = JSON.stringify(event); // app.api sends exactly JSON.stringify(json)
  const v1 = crypto.createHmac('sha256', secret).update(`${t}.${raw}`).digest('hex');
  return app.api(server, 'POST', '/api/v1/billing/webhook', { json: event, headers: { 'Teamdeck-Signature': `t=${t},v1=${v1}` } });
}
let events = 0;
const eventId = () => `evt_${process.pid.toString(36)}_${Date.now().toString(36)}_${++events}`;

/** Saves a download the page starts (a click on `link`); returns { name, text }. */
async function download(page, link) {
  const [file] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const failure = await file.failure();
  assert.equal(failure, null, `the download failed: ${failure}`);
  return { name: file.suggestedFilename(), text: fs.readFileSync(await file.path(), 'utf8') };
}

/** The emails to `address` in the server's local outbox (<data-dir>/outbox/*.eml), parsed. */
function emailsTo(server, address) {
  const dir = path.join(server.dataDir, 'outbox');
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => f.endsWith('.eml'))
    .map((f) => app.parseMime(fs.readFileSync(path.join(dir, f), 'utf8')))
    .filter((mail) => (mail.headers.to || '').toLowerCase().includes(address.toLowerCase()));
}

/** The email to `address` whose subject matches, polled until the mail worker wrote it; { subject, text }. */
async function readEmail(server, address, subject, { timeout = 10_000 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const found = emailsTo(server, address).find((m) => subject.test(m.headers.subject || ''));
    if (found) {
      const text = (found.parts.find((p) => p.type === 'text/plain') || { text: '' }).text;
      return { subject: found.headers.subject, text };
    }
    if (Date.now() > deadline) {
      const subjects = emailsTo(server, address).map((m) => m.headers.subject);
      throw new Error(`no email to ${address} with a subject like ${subject} within ${timeout} ms (found: ${subjects.join(' | ') || 'none'})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------- Flows ----------

flow('buy credits: the invoice to pay by transfer, paid by the signed webhook, then details and a spend limit', async ({ page, session, server }) => {
  const { team, teamPath } = await adminOnBilling(page, 'Billing');
  const now = Date.now();
  assert.equal(await app.accountNav(page).getByRole('link', { name: 'Billing', exact: true }).getAttribute('aria-current'), 'page');
  assert.equal(await stat(page, 'Credit balance'), '$0.00');
  assert.equal(await stat(page, `Spent in ${monthLabel(now)}`), '$0.00');
  assert.equal(await stat(page, 'Monthly spend limit'), 'No limit');
  await lowBalance(page).waitFor();
  assert.match(await lowBalance(page).innerText(), /^Your credit balance is \$0\.00\. Buy credits to keep your team's calls running\.$/);
  await page.getByText('No invoices yet.', { exact: true }).waitFor();
  await page.getByText('No credit movements yet.', { exact: true }).waitFor();
  const amount = page.getByLabel('Amount in US dollars', { exact: true });
  assert.match(await description(amount), /From \$5\.00 to \$100,000\.00\./);
  await checkPage(page, 'billing-new-team');

  // A wrong amount: the page comes back with what was typed and why; no invoice.
  await amount.fill('abc');
  await session.expectStatus(422, `${teamPath}/billing/credits`, () => app.navigates(page, `${teamPath}/billing/credits`,
    () => page.getByRole('button', { name: 'Get invoice', exact: true }).click()));
  assert.equal(await app.heading(page).innerText(), 'Billing');
  await assertFieldError(amount, 'abc', 'Enter an amount in dollars, such as 50 or 49.99.');
  await page.getByText('No invoices yet.', { exact: true }).waitFor();
  await checkPage(page, 'billing-amount-error');
  // Under the minimum, too.
  await amount.fill('2');
  await session.expectStatus(422, `${teamPath}/billing/credits`, () => app.loads(page, `${teamPath}/billing/credits`,
    () => page.getByRole('button', { name: 'Get invoice', exact: true }).click()));
  await assertFieldError(amount, '2', 'The amount must be at least $5.00.');

  // $50: an open invoice, shown at once with how to pay it.
  const { number, path: invoiceUrl } = await buyCredits(page, teamPath, '50');
  const flashes = await app.messages(page);
  assert.ok(flashes.some((m) => m.startsWith(`Invoice ${number} for $50.00 issued. Pay it by bank transfer`)), flashes.join(' / '));
  await page.getByText('Prepaid credits, $50.00. Waiting for your bank transfer.', { exact: true }).waitFor();
  assert.equal(await invoiceStatus(page), 'Open');
  const invoice = page.getByRole('article', { name: `Invoice ${number}` });
  await invoice.getByRole('heading', { name: `Invoice ${number}`, exact: true }).waitFor();
  const billTo = invoice.getByRole('region', { name: 'Bill to' });
  assert.match(await billTo.innerText(), new RegExp(escapeRe(team)));
  const dates = await invoice.locator('dl').innerText();
  assert.match(dates, new RegExp(`Issued\\s+${escapeRe(invoiceDay(now))}`));
  assert.match(dates, /Due\s+\d{2} \w{3} \d{4}/);
  assert.match(dates, /Currency\s+USD/);
  const lines = page.getByRole('table', { name: `Lines of invoice ${number}` });
  assert.deepEqual(await readRow(lines, bodyRows(lines).first()),
    { Description: 'Prepaid credits', Quantity: '1', Unit: 'purchase', 'Unit price': '$50.00', Amount: '$50.00' });
  assert.match(await lines.locator('tfoot').innerText(), /Total\s+\$50\.00/);
  const howToPay = page.getByRole('region', { name: 'How to pay' });
  const payText = await howToPay.innerText();
  assert.ok(payText.includes('Transfer $50.00 to:'), payText);
  assert.ok(payText.includes(PAYEE), `the payee details are shown: ${payText}`);
  assert.ok(payText.includes(`Use the invoice number ${number} as the transfer reference.`), payText);
  const print = page.getByRole('button', { name: 'Print', exact: true });
  const csvLink = page.getByRole('link', { name: 'Download CSV', exact: true });
  const cancel = page.getByRole('button', { name: 'Cancel invoice', exact: true });
  for (const control of [print, csvLink, cancel]) assert.ok(await control.isVisible());
  await checkPage(page, 'invoice-open');

  // Print calls the browser's print (stubbed: no print dialog in a test).
  await page.evaluate(() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; });
  await print.click();
  assert.equal(await page.evaluate(() => window.__printed), 1, 'Print opens the print dialog');
  // Printed, the invoice stands alone: no navigation, header, buttons or flash.
  await page.emulateMedia({ media: 'print' });
  for (const [what, l] of [['the account navigation', app.accountNav(page)], ['the top bar', page.getByRole('banner')],
    ['Print', print], ['Download CSV', csvLink], ['Cancel invoice', cancel], ['the page heading', app.heading(page)],
    ['the flash', page.locator('.flash').first()]]) {
    assert.equal(await l.isVisible(), false, `${what} is not printed`);
  }
  assert.ok(await invoice.isVisible());
  assert.ok(await howToPay.isVisible(), 'the payment instructions are printed');
  await screenshot(page, 'invoice-open-print');
  await page.emulateMedia({ media: 'screen' });
  assert.ok(await print.isVisible());

  // The lines as CSV.
  const csv = await download(page, csvLink);
  assert.equal(csv.name, `${number}.csv`);
  assert.equal(csv.text, 'invoice,position,description,quantity,unit,unit_price_usd,amount_usd\n'
    + `${number},1,Prepaid credits,1,purchase,50.00,50.00\n`);

  // Back on Billing: listed as open, nothing credited yet.
  await app.navigates(page, `${teamPath}/billing`, () => page.getByRole('link', { name: '← Billing', exact: true }).click());
  const invoices = regionTable(page, 'Invoices');
  const invoiceRow = bodyRows(invoices).filter({ hasText: number });
  assert.deepEqual(await readRow(invoices, invoiceRow),
    { Number: number, Description: 'Prepaid credits', Issued: invoiceDay(now), Total: '$50.00', Status: 'Open' });
  assert.equal(await invoiceRow.getByRole('link', { name: number, exact: true }).getAttribute('href'), invoiceUrl);
  assert.equal(await stat(page, 'Credit balance'), '$0.00');
  await lowBalance(page).waitFor();
  await checkPage(page, 'billing-invoice-open');

  // The payment provider: a bad signature, a wrong amount and an unknown invoice change nothing.
  const paid = { id: eventId(), type: 'invoice.paid', invoice: number, amount: 50 * MICROS_PER_DOLLAR };
  assert.equal((await webhook(server, paid, { secret: 'not-the-secret' })).status, 401);
  assert.equal((await webhook(server, paid, { t: Math.floor(Date.now() / 1000) - 3600 })).status, 401, 'an old signature is refused');
  const wrong = await webhook(server, { ...paid, id: eventId(), amount: 5 * MICROS_PER_DOLLAR });
  assert.equal(wrong.status, 400, JSON.stringify(wrong.body));
  assert.equal((await webhook(server, { ...paid, id: eventId(), invoice: 'TD-1999-999999' })).status, 404);
  await page.reload();
  assert.equal(await stat(page, 'Credit balance'), '$0.00');
  // The real payment, then its replay.
  const ok = await webhook(server, paid);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.deepEqual(ok.body, { received: true, invoice: number, status: 'paid' });
  assert.equal((await webhook(server, paid)).status, 409, 'a replayed event is refused');

  await page.reload();
  assert.equal(await stat(page, 'Credit balance'), '$50.00');
  assert.equal(await lowBalance(page).count(), 0, 'no low-balance warning with $50');
  assert.equal((await readRow(invoices, invoiceRow)).Status, 'Paid');
  const ledger = regionTable(page, 'Recent credit movements');
  assert.equal(await bodyRows(ledger).count(), 1);
  const purchase = await readRow(ledger, bodyRows(ledger).first());
  assert.equal(purchase.Description, `Credits bought with invoice ${number}`);
  assert.equal(purchase.Amount, '+$50.00');
  assert.ok(purchase.Date, 'the movement is dated');
  await checkPage(page, 'billing-paid');

  // The ledger line leads to the invoice, now paid: no payment box, no cancelling.
  await app.navigates(page, invoiceUrl, () => ledger.getByRole('link', { name: `Credits bought with invoice ${number}` }).click());
  await page.getByText('Prepaid credits, $50.00. Paid.', { exact: true }).waitFor();
  assert.equal(await invoiceStatus(page), 'Paid');
  assert.match(await page.getByRole('article').locator('dl').innerText(),
    new RegExp(`Paid\\s+${escapeRe(invoiceDay(Date.now()))}\\s+Paid by\\s+Payment provider \\(event ${paid.id}\\)`));
  assert.equal(await page.getByRole('region', { name: 'How to pay' }).count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Cancel invoice' }).count(), 0);
  await checkPage(page, 'invoice-paid');
  await app.navigates(page, `${teamPath}/billing`, () => page.getByRole('link', { name: '← Billing', exact: true }).click());

  // Billing details: a wrong email comes back with the other fields as typed.
  const legalName = page.getByLabel('Legal name', { exact: true });
  const email = page.getByLabel('Billing email', { exact: true });
  const address = page.getByLabel('Address', { exact: true });
  const taxId = page.getByLabel('Tax ID', { exact: true });
  await legalName.fill('Acme Research Ltd');
  await address.fill('1 Long Lane\nLondon EC1A 9XX');
  await taxId.fill('GB123456789');
  const saveDetails = () => page.getByRole('button', { name: 'Save details', exact: true }).click();
  // Not an address at all: the browser's own check stops the form.
  await email.fill('accounts at acme');
  await saveDetails();
  assert.equal(await email.evaluate((el) => el.validity.typeMismatch), true);
  app.assertPath(page, `${teamPath}/billing`);
  // An address the browser lets through but the server does not (no dot in the domain).
  await email.fill('accounts@acme');
  await session.expectStatus(422, `${teamPath}/billing/details`, () => app.navigates(page, `${teamPath}/billing/details`, saveDetails));
  await assertFieldError(email, 'accounts@acme', 'Enter an email address like name@example.com.');
  assert.equal(await legalName.inputValue(), 'Acme Research Ltd');
  assert.equal(await address.inputValue(), '1 Long Lane\nLondon EC1A 9XX');
  assert.equal(await taxId.inputValue(), 'GB123456789');
  assert.equal(await legalName.getAttribute('aria-invalid'), null);
  await checkPage(page, 'billing-details-error');
  await email.fill('accounts@acme.example');
  await app.navigates(page, `${teamPath}/billing`, saveDetails);
  assert.ok((await app.messages(page)).some((m) => m.startsWith('Billing details saved.')), (await app.messages(page)).join(' / '));
  assert.equal(await legalName.inputValue(), 'Acme Research Ltd');
  assert.equal(await email.inputValue(), 'accounts@acme.example');
  assert.equal(await address.inputValue(), '1 Long Lane\nLondon EC1A 9XX');
  assert.equal(await taxId.inputValue(), 'GB123456789');
  await checkPage(page, 'billing-details-saved');

  // The monthly spend limit: a wrong one, then $100 (nothing spent: 0 % used).
  const limit = page.getByLabel('Monthly limit in US dollars', { exact: true });
  const saveLimit = () => page.getByRole('button', { name: 'Save limit', exact: true }).click();
  await limit.fill('0.5');
  await session.expectStatus(422, `${teamPath}/billing/limit`, () => app.navigates(page, `${teamPath}/billing/limit`, saveLimit));
  await assertFieldError(limit, '0.5', 'The limit must be at least $1.00; leave the field empty for no limit.');
  assert.equal(await stat(page, 'Monthly spend limit'), 'No limit');
  await limit.fill('100');
  await app.navigates(page, `${teamPath}/billing`, saveLimit);
  assert.ok((await app.messages(page)).some((m) => m.startsWith('Monthly spend limit set to $100.00.')), (await app.messages(page)).join(' / '));
  assert.equal(await stat(page, 'Monthly spend limit'), '$100.00');
  const limitCard = statCard(page, 'Monthly spend limit');
  await limitCard.getByText('0 % used.').waitFor();
  const meter = limitCard.getByRole('progressbar', { name: 'Share of the monthly spend limit used' });
  assert.equal(await meter.getAttribute('value'), '0');
  assert.equal(await limit.inputValue(), '100');
  await checkPage(page, 'billing-limit');
}, { timeout: 120_000 });

flow('usage reported by a gateway: the chart, the period tables, the CSV, spend on Billing and the model calls on Requests', async ({ page, session, server }) => {
  const { admin, team, teamPath, slug } = await adminOnBilling(page, 'Usage');
  await app.goToNav(page, 'Usage');
  app.assertPath(page, `${teamPath}/usage`);
  assert.equal(await app.heading(page).innerText(), 'Usage');
  await page.getByText('No usage in the last 30 days.', { exact: true }).waitFor();
  await checkPage(page, 'usage-empty');

  // A team key, and who it and the admin are for the gateway.
  await app.goToNav(page, 'API keys');
  const keyName = 'usage-bot';
  const { dialog, secret } = await app.createKey(page, keyName, 'API');
  await app.closeKeyDialog(page, dialog);
  const whoami = await app.api(server, 'GET', '/api/v1/whoami', { key: secret });
  assert.equal(whoami.status, 200, JSON.stringify(whoami.body));
  const keyId = whoami.body.key.id;
  const members = await app.api(server, 'GET', `/api/v1/teams/${slug}/members`, { key: secret });
  assert.equal(members.status, 200, JSON.stringify(members.body));
  const userId = members.body.members.find((m) => m.email === admin.email).id;
  const introspected = await app.api(server, 'POST', '/api/v1/introspect', { token: SERVICE_TOKEN, json: { credential: `Key ${secret}` } });
  assert.equal(introspected.status, 200, JSON.stringify(introspected.body));
  assert.equal(introspected.body.key.id, keyId);
  assert.equal(introspected.body.account.slug, slug);

  // 20 calls over the last 10 days, half by the key, half by the admin, two products.
  const now = Date.now();
  const keyWho = `team key ${keyName}`;
  const reported = Array.from({ length: 20 }, (_, i) => {
    const large = i % 3 === 0;
    const quantity = large ? 200_000 + i * 1000 : 100_000 + i * 2500;
    const unitPrice = large ? 3 : 1;
    const at = now - Math.floor(i / 2) * DAY_MS - (i + 1) * 60_000;
    return {
      event: {
        id: `${slug}-call-${i}`, account: slug, ...(i % 2 === 0 ? { key: keyId } : { user: userId }),
        product: large ? 'model-large' : 'model-small', quantity, unit: 'tokens', unit_price: unitPrice,
        at: new Date(at).toISOString(),
      },
      who: i % 2 === 0 ? keyWho : admin.name, at, quantity, amount: quantity * unitPrice,
    };
  });
  const report = await reportUsage(server, reported.map((r) => r.event));
  assert.equal(report.status, 200, JSON.stringify(report.body));
  assert.deepEqual(report.body, { accepted: 20, duplicates: 0, rejected: [] });
  // Sent again (a gateway's retry) with one bad event: nothing counted twice.
  const retry = await reportUsage(server, [reported[0].event, reported[1].event,
    { ...reported[2].event, id: `${slug}-nobody`, key: undefined }]);
  assert.equal(retry.status, 200, JSON.stringify(retry.body));
  assert.equal(retry.body.accepted, 0);
  assert.equal(retry.body.duplicates, 2);
  assert.equal(retry.body.rejected.length, 1);
  assert.equal(retry.body.rejected[0].index, 2);
  assert.equal(retry.body.rejected[0].id, `${slug}-nobody`);
  assert.ok(retry.body.rejected[0].reason, 'the reason is given');

  const sum = (rows) => rows.reduce((s, r) => s + r.amount, 0);
  const total = sum(reported);
  const byWho = (who) => reported.filter((r) => r.who === who);
  const byProduct = (p) => reported.filter((r) => r.event.product === p);

  // The chart: one legend entry per spender, the summary with the total.
  await app.goToNav(page, 'Usage');
  const chartCard = page.locator('.card').filter({ has: page.getByRole('heading', { name: 'Daily spend, last 30 days', exact: true }) });
  const chart = chartCard.getByRole('img', { name: /^Daily spend, / });
  await chart.waitFor();
  const legend = chartCard.getByRole('list');
  assert.equal(await legend.getByRole('listitem').count(), 2);
  for (const who of [admin.name, keyWho]) {
    const entry = legend.getByRole('listitem').filter({ hasText: who });
    assert.equal(await entry.count(), 1, `a legend entry for ${who}`);
    assert.match(await entry.innerText(), new RegExp(`^${escapeRe(who)}\\s+${escapeRe(usd(sum(byWho(who))))}$`));
  }
  const summary = await chart.locator('desc').textContent();
  assert.ok(summary.includes(`${usd(total)} in total.`), summary);
  assert.ok(summary.includes(`By member or key: `), summary);
  const spendDays = new Set(reported.map((r) => `${isoDate(r.at)} ${r.who}`));
  assert.equal(await chart.locator('rect').count(), spendDays.size, 'one bar segment per day and spender');
  // The same figures as a table, on demand.
  await chartCard.locator('summary', { hasText: 'Show the figures as a table' }).click();
  const figures = chartCard.getByRole('region', { name: 'Daily spend figures' }).getByRole('table');
  await figures.waitFor();
  assert.equal(await bodyRows(figures).count(), new Set(reported.map((r) => isoDate(r.at))).size, 'a row per day with usage');
  assert.match(await figures.locator('tfoot').innerText(), new RegExp(`30 days.*${escapeRe(usd(total))}$`, 's'));
  await checkPage(page, 'usage-chart');

  // The period that holds all the calls, typed into the form.
  const from = isoDate(Math.min(...reported.map((r) => r.at)));
  const to = isoDate(now);
  await page.getByLabel('From', { exact: true }).fill(from);
  await page.getByLabel('To', { exact: true }).fill(to);
  await app.loads(page, `${teamPath}/usage`, () => page.getByRole('button', { name: 'Show period', exact: true }).click());
  const query = new URL(page.url()).searchParams;
  assert.deepEqual([query.get('from'), query.get('to')], [from, to]);
  await page.getByRole('heading', { name: /^Spend, / }).waitFor();
  assert.match(await page.locator('.period-total').innerText(), new RegExp(`^Total ${escapeRe(usd(total))} from 20 calls$`));
  const products = page.getByRole('table', { name: 'By product', exact: true });
  assert.equal(await bodyRows(products).count(), 2);
  for (const product of ['model-large', 'model-small']) {
    const rows = byProduct(product);
    assert.deepEqual(await readRow(products, bodyRows(products).filter({ hasText: product })), {
      Product: product, Unit: 'tokens',
      Quantity: thousands(rows.reduce((s, r) => s + r.quantity, 0)), Cost: usd(sum(rows)),
    });
  }
  assert.match(await products.locator('tfoot').innerText(), new RegExp(`^Total\\s+${escapeRe(usd(total))}$`));
  const people = page.getByRole('table', { name: 'By member or key', exact: true });
  assert.equal(await bodyRows(people).count(), 2);
  for (const who of [admin.name, keyWho]) {
    assert.deepEqual(await readRow(people, bodyRows(people).filter({ hasText: who })),
      { 'Member or key': who, Calls: '10', Cost: usd(sum(byWho(who))) });
  }
  await checkPage(page, 'usage-period');

  // The CSV of the period: one row per day, member or key and product.
  // (Fetched with the page's cookies: the link has no `download` attribute, so clicking it
  // starts a navigation that Chromium aborts when it turns into a download, which the
  // harness counts as a failed request.)
  const periodLabel = (await page.getByRole('heading', { name: /^Spend, / }).innerText()).replace(/^Spend, /, '');
  const csvLink = page.getByRole('link', { name: `Download CSV of ${periodLabel}`, exact: true });
  const href = await csvLink.getAttribute('href');
  assert.equal(href, `${teamPath}/usage.csv?from=${from}&to=${to}`);
  const csvResponse = await page.request.get(href);
  assert.equal(csvResponse.status(), 200);
  assert.match(csvResponse.headers()['content-type'], /^text\/csv/);
  const disposition = /^attachment; filename="([^"]+)"$/.exec(csvResponse.headers()['content-disposition'] || '');
  assert.ok(disposition, `a download: ${csvResponse.headers()['content-disposition']}`);
  const csv = { name: disposition[1], text: await csvResponse.text() };
  assert.equal(csv.name, `usage-${slug}-${from}-${to}.csv`);
  const groups = new Map();
  for (const r of reported) {
    const k = [isoDate(r.at), r.who, r.event.product, 'tokens'].join('\u0000');
    const g = groups.get(k) || { quantity: 0, amount: 0 };
    g.quantity += r.quantity;
    g.amount += r.amount;
    groups.set(k, g);
  }
  const byteOrder = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  const expectedRows = [...groups.entries()]
    .map(([k, g]) => [...k.split('\u0000'), g])
    .sort((a, b) => byteOrder(a[0], b[0]) || byteOrder(a[1], b[1]) || byteOrder(a[2], b[2]))
    .map(([date, who, product, unit, g]) => `${date},${who},${product},${unit},${g.quantity},${decimal(g.amount)}`);
  const lines = csv.text.trimEnd().split('\n');
  assert.equal(lines[0], 'date,who,product,unit,quantity,cost_usd');
  assert.deepEqual(lines.slice(1), expectedRows);

  // A start after the end: said on "From", with what was typed; no tables.
  const dayAfter = isoDate(now + DAY_MS);
  await page.getByLabel('From', { exact: true }).fill(dayAfter);
  await session.expectStatus(400, `${teamPath}/usage`, () => app.loads(page, `${teamPath}/usage`,
    () => page.getByRole('button', { name: 'Show period', exact: true }).click()));
  await assertFieldError(page.getByLabel('From', { exact: true }), dayAfter,
    `The start, ${dayAfter}, is after the end, ${to}: choose a start on or before the end.`);
  assert.equal(await page.getByRole('table', { name: 'By product' }).count(), 0);
  assert.equal(await page.getByRole('link', { name: /^Download CSV/ }).count(), 0);
  await page.getByRole('heading', { name: 'Spend over a period', exact: true }).waitFor();
  await chart.waitFor(); // the chart does not depend on the period
  await checkPage(page, 'usage-period-error');
  // A date that does not exist (an edited address): kept as typed, in a text field.
  await session.expectStatus(400, `${teamPath}/usage`, () => page.goto(`${teamPath}/usage?from=2026-02-30&to=${to}`));
  const fromField = page.getByLabel('From', { exact: true });
  assert.equal(await fromField.getAttribute('type'), 'text');
  await assertFieldError(fromField, '2026-02-30', '“2026-02-30” is not a start date: write it as YYYY-MM-DD, such as 2026-11-01.');
  await checkPage(page, 'usage-bad-date');

  // Billing: this month's spend, the usage taken from the balance (now below zero).
  await app.goToNav(page, 'Billing');
  const thisMonth = sum(reported.filter((r) => monthLabel(r.at) === monthLabel(now)));
  assert.equal(await stat(page, `Spent in ${monthLabel(now)}`), usd(thisMonth));
  assert.equal(await stat(page, 'Credit balance'), usd(-total));
  await lowBalance(page).waitFor();
  const ledger = regionTable(page, 'Recent credit movements');
  assert.equal(await bodyRows(ledger).count(), 1, 'one debit for the batch, none for the retry');
  const debit = await readRow(ledger, bodyRows(ledger).first());
  assert.deepEqual([debit.Description, debit.Amount], ['Usage: 20 events', usd(-total)]);
  // A limit the spend has half used.
  const limitDollars = Math.max(1, Math.ceil((2 * thisMonth) / MICROS_PER_DOLLAR));
  await page.getByLabel('Monthly limit in US dollars', { exact: true }).fill(String(limitDollars));
  await app.navigates(page, `${teamPath}/billing`, () => page.getByRole('button', { name: 'Save limit', exact: true }).click());
  const percent = Math.floor((thisMonth * 100) / (limitDollars * MICROS_PER_DOLLAR));
  await statCard(page, 'Monthly spend limit').getByText(`${percent} % used.`, { exact: true }).waitFor();
  assert.equal(await statCard(page, 'Monthly spend limit').getByRole('progressbar').getAttribute('value'), String(percent));
  await checkPage(page, 'billing-with-usage');

  // Requests: the model calls as reported, newest first, by member or "team key <name>".
  await app.goToNav(page, 'Requests');
  const calls = app.table(page, 'Model calls');
  assert.equal(await bodyRows(calls).count(), 20);
  assert.equal(await bodyRows(calls).filter({ hasText: keyWho }).count(), 10);
  assert.equal(await bodyRows(calls).filter({ hasText: admin.name }).count(), 10);
  const newest = await readRow(calls, bodyRows(calls).first());
  assert.ok(newest.When, 'the call is dated');
  assert.deepEqual({ ...newest, When: undefined }, {
    When: undefined, By: keyWho, Product: 'model-large', Quantity: `${thousands(reported[0].quantity)} tokens`, Cost: usd(reported[0].amount),
  });
  const second = await readRow(calls, bodyRows(calls).nth(1));
  assert.deepEqual([second.By, second.Product, second.Quantity], [admin.name, 'model-small', `${thousands(reported[1].quantity)} tokens`]);
  await checkPage(page, 'requests-model-calls');

  // One more call takes this month past 80 % of the limit: the admin gets an email, once.
  const target = 900_000 * limitDollars; // 90 % of the limit, in micro-dollars
  const extra = { id: `${slug}-big-call`, account: slug, key: keyId, product: 'model-small', quantity: target - thisMonth,
    unit: 'tokens', unit_price: 1, at: new Date(Date.now() - 1000).toISOString() };
  assert.deepEqual((await reportUsage(server, [extra])).body, { accepted: 1, duplicates: 0, rejected: [] });
  const alert = await readEmail(server, admin.email, new RegExp(`^The team “${escapeRe(team)}” has used 80 % of its monthly spend limit on Teamdeck$`));
  assert.ok(alert.text.includes(`The team “${team}” has spent ${usd(target)} on Teamdeck in ${monthLabel(now)}: 80 % of its monthly spend limit of ${usd(limitDollars * MICROS_PER_DOLLAR)}.`), alert.text);
  assert.ok(alert.text.includes(`${server.url}${teamPath}/usage`), alert.text);
  await app.goToNav(page, 'Billing');
  const limitCard = statCard(page, 'Monthly spend limit');
  await limitCard.getByText('90 % used.', { exact: true }).waitFor();
  assert.equal(await stat(page, `Spent in ${monthLabel(now)}`), usd(target));
  await checkPage(page, 'billing-limit-near');
  // Another small call stays under 100 %: no second email.
  assert.equal((await reportUsage(server, [{ ...extra, id: `${slug}-small-call`, quantity: 1000 }])).body.accepted, 1);
  await page.waitForTimeout(500);
  // (Beside the link that verified the admin's address at sign-up.)
  const alerts = emailsTo(server, admin.email).filter((m) => /spend limit/.test(m.headers.subject || ''));
  assert.equal(alerts.length, 1, 'one alert per threshold and month');
}, { timeout: 120_000 });

flow('who sees billing: a billing member buys credits; a developer has no Billing or Usage and sees calls without cost', async ({ page, newSession, server }) => {
  const { team, teamPath, slug } = await adminOnBilling(page, 'Roles');
  const bill = app.newUser('Bill');
  const dev = app.newUser('Dev');
  await app.goToNav(page, 'Members');
  await app.addMembers({ page, newSession, server }, [[bill, 'Billing'], [dev, 'Developer']]);

  // One model call by the developer, reported by the gateway.
  await app.goToNav(page, 'API keys');
  const { dialog, secret } = await app.createKey(page, 'lookup', 'API');
  await app.closeKeyDialog(page, dialog);
  const members = await app.api(server, 'GET', `/api/v1/teams/${slug}/members`, { key: secret });
  assert.equal(members.status, 200, JSON.stringify(members.body));
  const devId = members.body.members.find((m) => m.email === dev.email).id;
  const report = await reportUsage(server, [{
    id: `${slug}-dev-call`, account: slug, user: devId, product: 'model-large', quantity: 120_000, unit: 'tokens',
    unit_price: 3, at: new Date(Date.now() - 60_000).toISOString(),
  }]);
  assert.deepEqual(report.body, { accepted: 1, duplicates: 0, rejected: [] });

  // Billing member: both pages in the navigation, and may buy credits.
  const billing = await newSession();
  await app.signIn(billing.page, bill);
  await app.switchTo(billing.page, team);
  const billNav = app.accountNav(billing.page);
  for (const label of ['Usage', 'Billing']) await billNav.getByRole('link', { name: label, exact: true }).waitFor();
  await app.goToNav(billing.page, 'Usage');
  assert.equal(await app.heading(billing.page).innerText(), 'Usage');
  await billing.page.getByRole('table', { name: 'By member or key' }).getByRole('row').filter({ hasText: dev.name }).waitFor();
  await checkPage(billing.page, 'usage-billing-member');
  await app.goToNav(billing.page, 'Billing');
  assert.equal(await stat(billing.page, 'Credit balance'), usd(-360_000));
  const { number, path: billInvoice } = await buyCredits(billing.page, teamPath, '20');
  assert.equal(await invoiceStatus(billing.page), 'Open');
  await billing.page.getByRole('region', { name: 'How to pay' }).getByText(PAYEE, { exact: false }).waitFor();
  await billing.page.getByRole('button', { name: 'Cancel invoice', exact: true }).waitFor();
  await checkPage(billing.page, 'invoice-by-billing-member');
  // Requests: the calls with their cost.
  await app.goToNav(billing.page, 'Requests');
  const billCalls = app.table(billing.page, 'Model calls');
  assert.equal((await readRow(billCalls, bodyRows(billCalls).first())).Cost, usd(360_000));

  // The admin sees the billing member's invoice.
  await app.goToNav(page, 'Billing');
  const invoices = regionTable(page, 'Invoices');
  assert.equal((await readRow(invoices, bodyRows(invoices).filter({ hasText: number }))).Total, '$20.00');

  // Developer: neither entry; the addresses answer 403; calls listed without their cost.
  const developer = await newSession();
  await app.signIn(developer.page, dev);
  await app.switchTo(developer.page, team);
  const nav = app.accountNav(developer.page);
  await nav.getByRole('link', { name: 'Requests', exact: true }).waitFor();
  for (const label of ['Usage', 'Billing']) {
    assert.equal(await nav.getByRole('link', { name: label, exact: true }).count(), 0, `no ${label} for a developer`);
  }
  await checkPage(developer.page, 'developer-nav-no-billing');
  for (const url of [`${teamPath}/billing`, `${teamPath}/usage`, billInvoice]) {
    await developer.expectStatus(403, url, () => developer.page.goto(url));
    assert.equal(await app.heading(developer.page).innerText(), 'No access');
    assert.ok(!(await developer.page.content()).includes(number), 'the 403 page shows no invoice');
  }
  await checkPage(developer.page, 'billing-developer-403');
  await developer.page.goto(teamPath);
  await app.goToNav(developer.page, 'Requests');
  const devCalls = app.table(developer.page, 'Model calls');
  const devRow = await readRow(devCalls, bodyRows(devCalls).first());
  assert.deepEqual(devRow, { When: devRow.When, By: dev.name, Product: 'model-large', Quantity: '120,000 tokens' });
  assert.equal(await devCalls.getByRole('columnheader', { name: 'Cost' }).count(), 0, 'no cost column for a developer');
  await checkPage(developer.page, 'requests-developer-no-cost');
}, { timeout: 120_000 });

flow('cancel an open invoice through its confirm dialog; it becomes void and cannot be paid', async ({ page, server }) => {
  const { teamPath } = await adminOnBilling(page, 'Cancel');
  // Details saved first are printed on the invoice.
  await page.getByLabel('Legal name', { exact: true }).fill('Globex Corporation');
  await page.getByLabel('Billing email', { exact: true }).fill('ap@globex.example');
  await page.getByLabel('Address', { exact: true }).fill('42 Industrial Way\nSpringfield');
  await page.getByLabel('Tax ID', { exact: true }).fill('US-99-1234567');
  await app.navigates(page, `${teamPath}/billing`, () => page.getByRole('button', { name: 'Save details', exact: true }).click());

  const { number, path: invoiceUrl } = await buyCredits(page, teamPath, '25.50');
  await page.getByText('Prepaid credits, $25.50. Waiting for your bank transfer.', { exact: true }).waitFor();
  const billTo = await page.getByRole('region', { name: 'Bill to' }).innerText();
  for (const text of ['Globex Corporation', '42 Industrial Way\nSpringfield', 'Tax ID: US-99-1234567', 'ap@globex.example']) {
    assert.ok(billTo.includes(text), `"${text}" in Bill to: ${billTo}`);
  }

  // "Keep invoice" closes the dialog and changes nothing.
  const open = page.getByRole('button', { name: 'Cancel invoice', exact: true });
  await open.click();
  const confirm = page.getByRole('dialog', { name: `Cancel invoice ${number}?` });
  await confirm.waitFor({ state: 'visible' });
  await app.animationsDone(confirm);
  await confirm.getByText('The invoice becomes void and can no longer be paid', { exact: false }).waitFor();
  app.assertPath(page, invoiceUrl);
  await checkPage(page, 'invoice-cancel-dialog');
  await confirm.getByRole('button', { name: 'Keep invoice', exact: true }).click();
  await confirm.waitFor({ state: 'hidden' });
  app.assertPath(page, invoiceUrl);
  assert.equal(await invoiceStatus(page), 'Open');

  // Confirmed: back on Billing, the invoice is void.
  await open.click();
  await confirm.waitFor({ state: 'visible' });
  await app.animationsDone(confirm);
  await app.navigates(page, `${teamPath}/billing`, () => confirm.getByRole('button', { name: 'Cancel invoice', exact: true }).click());
  await page.getByRole('status').filter({ hasText: `Invoice ${number} cancelled. Nothing is owed on it; do not pay it.` }).waitFor();
  const invoices = regionTable(page, 'Invoices');
  const row = bodyRows(invoices).filter({ hasText: number });
  assert.deepEqual(await readRow(invoices, row),
    { Number: number, Description: 'Prepaid credits', Issued: invoiceDay(Date.now()), Total: '$25.50', Status: 'Void' });
  assert.equal(await stat(page, 'Credit balance'), '$0.00');
  await page.getByText('No credit movements yet.', { exact: true }).waitFor();
  await checkPage(page, 'billing-invoice-void');

  // Its page says so: nothing to pay, nothing to cancel.
  await app.navigates(page, invoiceUrl, () => row.getByRole('link', { name: number, exact: true }).click());
  await page.getByText('Prepaid credits, $25.50. Cancelled: nothing is owed.', { exact: true }).waitFor();
  assert.equal(await invoiceStatus(page), 'Void');
  assert.match(await page.getByRole('article').locator('dl').innerText(), new RegExp(`Cancelled\\s+${escapeRe(invoiceDay(Date.now()))}`));
  assert.equal(await page.getByRole('region', { name: 'How to pay' }).count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Cancel invoice' }).count(), 0);
  await checkPage(page, 'invoice-void');

  // A payment arriving for it is refused; the balance stays.
  const late = await webhook(server, { id: eventId(), type: 'invoice.paid', invoice: number, amount: 25_500_000 });
  assert.equal(late.status, 409, JSON.stringify(late.body));
  await app.navigates(page, `${teamPath}/billing`, () => page.getByRole('link', { name: '← Billing', exact: true }).click());
  assert.equal(await stat(page, 'Credit balance'), '$0.00');
});
