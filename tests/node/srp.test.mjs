// amazon-cognito-identity-js against a running Gatehouse: USER_SRP_AUTH, then the device the
// library confirms by itself (ConfirmDevice), then a second sign-in that proves the device with
// DEVICE_SRP_AUTH / DEVICE_PASSWORD_VERIFIER. Run by tests/python/test_srp.py, which starts the
// server and passes:
//   GATEHOUSE_URL, GATEHOUSE_POOL_ID, GATEHOUSE_CLIENT_ID, GATEHOUSE_USERNAME,
//   GATEHOUSE_PASSWORD, GATEHOUSE_DEVICE_OPT_IN (1 when the pool remembers devices on user prompt)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import cognito from 'amazon-cognito-identity-js';

const { CognitoUserPool, CognitoUser, AuthenticationDetails } = cognito;

const env = (name) => {
	const v = process.env[name];
	assert.ok(v, `${name} must be set`);
	return v;
};

const url = env('GATEHOUSE_URL');
const poolId = env('GATEHOUSE_POOL_ID');
const clientId = env('GATEHOUSE_CLIENT_ID');
const username = env('GATEHOUSE_USERNAME');
const password = env('GATEHOUSE_PASSWORD');
const optIn = process.env.GATEHOUSE_DEVICE_OPT_IN === '1';

const pool = new CognitoUserPool({ UserPoolId: poolId, ClientId: clientId, endpoint: url });

// Every request the library makes, to see which flow it went through.
const calls = [];
const request = pool.client.request.bind(pool.client);
pool.client.request = (operation, params, callback) => {
	calls.push({ operation, challenge: params.ChallengeName, flow: params.AuthFlow, params });
	return request(operation, params, callback);
};

function signIn(pw = password) {
	const user = new CognitoUser({ Username: username, Pool: pool });
	return new Promise((resolve, reject) => {
		user.authenticateUser(new AuthenticationDetails({ Username: username, Password: pw }), {
			onSuccess: (session, userConfirmationNecessary) =>
				resolve({ user, session, userConfirmationNecessary }),
			onFailure: reject,
			mfaRequired: () => reject(new Error('unexpected MFA challenge')),
			totpRequired: () => reject(new Error('unexpected TOTP challenge')),
			newPasswordRequired: () => reject(new Error('unexpected NEW_PASSWORD_REQUIRED')),
		});
	});
}

const promisify = (fn) =>
	new Promise((resolve, reject) => fn({ onSuccess: resolve, onFailure: reject }));

test('a wrong password is refused like Cognito refuses it', async () => {
	await assert.rejects(signIn('Wr0ng-Passw0rd!'), (err) => {
		assert.equal(err.code, 'NotAuthorizedException');
		assert.equal(err.message, 'Incorrect username or password.');
		return true;
	});
});

let firstDeviceKey;

test('USER_SRP_AUTH signs in and the library confirms its new device', async () => {
	calls.length = 0;
	const { user, session, userConfirmationNecessary } = await signIn();
	assert.ok(session.isValid());
	assert.equal(session.getIdToken().payload['cognito:username'], username);
	assert.deepEqual(
		calls.map((c) => c.operation),
		['InitiateAuth', 'RespondToAuthChallenge', 'ConfirmDevice'],
	);
	assert.equal(calls[0].flow, 'USER_SRP_AUTH');
	assert.equal(calls[1].challenge, 'PASSWORD_VERIFIER');
	assert.ok(user.deviceKey, 'the library keeps the device key');
	firstDeviceKey = user.deviceKey;
	assert.equal(Boolean(userConfirmationNecessary), optIn);
	if (optIn) {
		await promisify((cb) => user.setDeviceStatusRemembered(cb));
	}
	const listed = await new Promise((resolve, reject) =>
		user.listDevices(10, null, { onSuccess: resolve, onFailure: reject }),
	);
	assert.equal(listed.Devices.length, 1);
	assert.equal(listed.Devices[0].DeviceKey, firstDeviceKey);
	const got = await promisify((cb) => user.getDevice(cb));
	const status = got.Device.DeviceAttributes.find(
		(a) => a.Name === 'dev:device_remembered_status',
	);
	assert.equal(status.Value, 'remembered');
});

test('the next sign-in proves the remembered device with DEVICE_SRP_AUTH', async () => {
	calls.length = 0;
	const { user, session } = await signIn();
	assert.ok(session.isValid());
	assert.deepEqual(
		calls.map((c) => c.challenge || c.flow),
		['USER_SRP_AUTH', 'PASSWORD_VERIFIER', 'DEVICE_SRP_AUTH', 'DEVICE_PASSWORD_VERIFIER'],
	);
	assert.equal(calls[1].params.ChallengeResponses.DEVICE_KEY, firstDeviceKey);
	// No new device: the same one signed in.
	assert.ok(!calls.some((c) => c.operation === 'ConfirmDevice'));
	assert.equal(user.deviceKey, firstDeviceKey);
	const me = await new Promise((resolve, reject) =>
		user.getUserData((err, data) => (err ? reject(err) : resolve(data))),
	);
	assert.equal(me.Username, username);
});
