// Headless Chromium (Debian's, driven by playwright-core) clicking through the hosted pages:
// sign up → confirm with the code from the outbox → sign in → back at the client's callback
// with a code, no consent page. A screenshot of each page goes to $GATEHOUSE_SCREENSHOTS.
// Run by tests/python/test_hosted_browser.py, which starts the server and passes:
//   GATEHOUSE_URL, GATEHOUSE_CLIENT_ID, GATEHOUSE_REDIRECT_URI, GATEHOUSE_OUTBOX,
//   GATEHOUSE_EMAIL, GATEHOUSE_PASSWORD, GATEHOUSE_SCREENSHOTS
// The callback's host is answered inside the browser (page routing): nothing leaves the machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
	const v = process.env[name];
	assert.ok(v, `${name} must be set`);
	return v;
};

const base = env('GATEHOUSE_URL');
const clientId = env('GATEHOUSE_CLIENT_ID');
const redirectUri = env('GATEHOUSE_REDIRECT_URI');
const outbox = env('GATEHOUSE_OUTBOX');
const email = env('GATEHOUSE_EMAIL');
const password = env('GATEHOUSE_PASSWORD');
const shots = env('GATEHOUSE_SCREENSHOTS');

async function codeFromOutbox(destination, kind, timeoutMs = 10000) {
	const until = Date.now() + timeoutMs;
	while (Date.now() < until) {
		if (fs.existsSync(outbox)) {
			const lines = fs.readFileSync(outbox, 'utf8').split('\n').filter(Boolean);
			for (const line of lines.reverse()) {
				const m = JSON.parse(line);
				if (m.destination === destination && m.kind === kind) return m.code;
			}
		}
		await new Promise((r) => setTimeout(r, 100));
	}
	throw new Error(`no ${kind} for ${destination} in ${outbox}`);
}

test('sign up, confirm, sign in and land on the callback with a code', async () => {
	fs.mkdirSync(shots, { recursive: true });
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-chromium-'));
	const context = await chromium.launchPersistentContext(profile, {
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		headless: true,
		args: [
			'--headless',
			'--no-sandbox',
			'--disable-gpu',
			'--disable-quic',
			'--no-first-run',
			'--disable-background-networking',
			'--disable-component-update',
			'--disable-sync',
		],
		viewport: { width: 720, height: 640 },
	});
	try {
		const callback = new URL(redirectUri);
		let landed = null;
		await context.route(`${callback.origin}/**`, (route) => {
			landed = route.request().url();
			return route.fulfill({
				status: 200,
				contentType: 'text/html',
				body: '<!doctype html><title>Callback</title><h1>Back at the app</h1>',
			});
		});
		const page = context.pages()[0] ?? (await context.newPage());
		const shot = (name) => page.screenshot({ path: path.join(shots, `${name}.png`) });
		const state = 'browser-' + Date.now();
		const authorize = `${base}/oauth2/authorize?${new URLSearchParams({
			client_id: clientId,
			response_type: 'code',
			redirect_uri: redirectUri,
			scope: 'openid email profile',
			state,
		})}`;

		// 1. The sign-in page; the username field has the focus.
		await page.goto(authorize);
		assert.equal(await page.locator('h1').textContent(), 'Sign in');
		assert.equal(await page.evaluate(() => document.activeElement?.id), 'username');
		await shot('1-sign-in');

		// 2. Sign up.
		await page.getByRole('link', { name: 'Sign up' }).click();
		assert.equal(await page.locator('h1').textContent(), 'Sign up');
		await page.getByLabel('Email address').fill(email);
		await page.getByLabel('Given name').fill('Grace');
		await page.getByLabel('Password').fill(password);
		await shot('2-sign-up');
		await page.getByRole('button', { name: 'Sign up' }).click();

		// 3. Confirm with the code from the outbox (a wrong one first).
		assert.equal(await page.locator('h1').textContent(), 'Confirm your account');
		assert.match(await page.getByRole('status').textContent(), /We have sent a code by email/);
		await shot('3-confirm');
		await page.getByLabel('Verification code').fill('000000');
		await page.getByRole('button', { name: 'Confirm account' }).click();
		assert.equal(
			await page.getByRole('alert').textContent(),
			'Invalid verification code provided, please try again.',
		);
		await shot('4-confirm-wrong-code');
		const code = await codeFromOutbox(email, 'sign_up_code');
		await page.getByLabel('Verification code').fill(code);
		await page.getByRole('button', { name: 'Confirm account' }).click();

		// 4. Back at sign-in, the account confirmed; a wrong password first.
		assert.equal(await page.locator('h1').textContent(), 'Sign in');
		assert.match(await page.getByRole('status').textContent(), /confirmed/);
		assert.equal(await page.getByLabel('Email address').inputValue(), email);
		await page.getByLabel('Password').fill('Not-the-password1');
		await page.getByRole('button', { name: 'Sign in' }).click();
		assert.equal(await page.getByRole('alert').textContent(), 'Incorrect username or password.');
		await shot('5-sign-in-error');
		await page.getByLabel('Password').fill(password);
		await page.getByRole('button', { name: 'Sign in' }).click();

		// 5. The callback, with a code and the state: no consent page in between.
		await page.waitForURL((u) => u.href.startsWith(redirectUri));
		assert.ok(landed, 'the browser reached the callback');
		const back = new URL(landed);
		assert.equal(back.searchParams.get('state'), state);
		assert.ok((back.searchParams.get('code') ?? '').length >= 32);

		// 6. The session cookie: a new authorize goes straight back to the callback (asked with
		// the browser's cookies; a redirect a GET navigation follows is not routable).
		const again = await context.request.get(authorize, { maxRedirects: 0 });
		assert.equal(again.status(), 302);
		assert.ok(new URL(again.headers().location).searchParams.get('code'));
		const cookies = await context.cookies(base);
		const session = cookies.find((c) => c.name.startsWith('gh_session_'));
		assert.ok(session && session.httpOnly && session.sameSite === 'Lax');

		// 7. The same page on a phone.
		await page.setViewportSize({ width: 390, height: 700 });
		await page.goto(`${base}/forgotPassword?${new URLSearchParams({
			client_id: clientId,
			response_type: 'code',
			redirect_uri: redirectUri,
		})}`);
		const width = await page.evaluate(() => document.documentElement.scrollWidth);
		assert.ok(width <= 390, `no horizontal scrolling on a phone (${width}px)`);
		await shot('6-forgot-password-phone');
	} finally {
		await context.close();
		fs.rmSync(profile, { recursive: true, force: true });
	}
});
