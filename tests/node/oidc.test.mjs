// openid-client against a running Gatehouse pool: discovery, the authorization-code flow with
// PKCE S256 (the hosted sign-in form driven with fetch, as a browser would post it), the token
// exchange with ID-token checks (signature against the JWKS, issuer, audience, nonce, state),
// userinfo, and a refresh. Run by tests/python/test_oidc_clients.py, which starts the server and
// passes:
//   GATEHOUSE_ISSUER, GATEHOUSE_CLIENT_ID, GATEHOUSE_REDIRECT_URI, GATEHOUSE_USERNAME,
//   GATEHOUSE_PASSWORD
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';

const env = (name) => {
	const v = process.env[name];
	assert.ok(v, `${name} must be set`);
	return v;
};

const issuer = env('GATEHOUSE_ISSUER');
const clientId = env('GATEHOUSE_CLIENT_ID');
const redirectUri = env('GATEHOUSE_REDIRECT_URI');
const username = env('GATEHOUSE_USERNAME');
const password = env('GATEHOUSE_PASSWORD');

const decode = (s) =>
	s.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The first form of a page: its action and its fields with their values. */
function parseForm(html) {
	const form = html.match(/<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/);
	assert.ok(form, `no form in:\n${html.slice(0, 1500)}`);
	const fields = {};
	for (const m of form[2].matchAll(/<input([^>]*)>/g)) {
		const name = m[1].match(/name="([^"]*)"/);
		const value = m[1].match(/value="([^"]*)"/);
		if (name) fields[decode(name[1])] = value ? decode(value[1]) : '';
	}
	return { action: decode(form[1]), fields };
}

/** What a browser does between the authorization URL and the callback. */
async function signInOnHostedPage(url) {
	const page = await fetch(url, { redirect: 'manual' });
	assert.equal(page.status, 200, 'the hosted sign-in page');
	const cookies = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
	const { action, fields } = parseForm(await page.text());
	const body = new URLSearchParams({ ...fields, username, password });
	const posted = await fetch(new URL(action, url), {
		method: 'POST',
		redirect: 'manual',
		headers: { cookie: cookies, 'content-type': 'application/x-www-form-urlencoded' },
		body,
	});
	assert.equal(posted.status, 302, `sign-in did not redirect: ${await posted.text()}`);
	return new URL(posted.headers.get('location'));
}

test('openid-client: discovery, code + PKCE S256, ID token, userinfo, refresh', async () => {
	const config = await client.discovery(new URL(issuer), clientId, undefined, client.None(), {
		execute: [client.allowInsecureRequests],
	});
	const meta = config.serverMetadata();
	assert.equal(meta.issuer, issuer);
	assert.ok(meta.code_challenge_methods_supported.includes('S256'));
	// Check the ID token's signature against the pool's JWKS too (not only its claims).
	client.enableNonRepudiationChecks(config);

	const verifier = client.randomPKCECodeVerifier();
	const challenge = await client.calculatePKCECodeChallenge(verifier);
	const nonce = client.randomNonce();
	const state = client.randomState();
	const url = client.buildAuthorizationUrl(config, {
		redirect_uri: redirectUri,
		scope: 'openid email profile',
		code_challenge: challenge,
		code_challenge_method: 'S256',
		nonce,
		state,
	});
	const callback = await signInOnHostedPage(url);
	assert.equal(callback.searchParams.get('state'), state);

	const tokens = await client.authorizationCodeGrant(config, callback, {
		pkceCodeVerifier: verifier,
		expectedNonce: nonce,
		expectedState: state,
		idTokenExpected: true,
	});
	assert.equal(tokens.token_type.toLowerCase(), 'bearer');
	const claims = tokens.claims();
	assert.equal(claims.iss, issuer);
	assert.equal(claims.aud, clientId);
	assert.equal(claims.nonce, nonce);
	assert.equal(claims['cognito:username'], username);

	const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
	assert.equal(info.sub, claims.sub);
	assert.ok(info.email);

	const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
	assert.ok(refreshed.access_token);
	assert.notEqual(refreshed.access_token, tokens.access_token);

	// A replayed code is refused.
	await assert.rejects(
		client.authorizationCodeGrant(config, callback, {
			pkceCodeVerifier: verifier,
			expectedNonce: nonce,
			expectedState: state,
		}),
		(e) => e.error === 'invalid_grant' || /invalid_grant/.test(String(e?.cause?.error ?? e)),
	);
});
