//! The `aws-cognito-srp` crate (an independent SRP implementation for Cognito) signs in to the
//! real `gatehouse serve` binary with USER_SRP_AUTH, confirms a device and signs in again with
//! DEVICE_SRP_AUTH / DEVICE_PASSWORD_VERIFIER, through an app client with a secret.
//!
//! The server runs with `--dev` (any SigV4 signature accepted) on free ports and a temporary
//! data dir; the client is a few lines of HTTP/1.1 over std's TcpStream.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_cognito_srp::{
    PasswordVerifierParameters, SrpClient, TrackedDevice, UntrackedDevice, User,
    UserAuthenticationParameters, VerificationParameters,
};
use serde_json::{json, Value};

struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["serve", "--dev", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--gateway-listen", &format!("127.0.0.1:{}", free_port())])
        .env("GATEHOUSE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        port,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok((200, _)) = http(port, "GET", "/health", None, "") {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("gatehouse did not become healthy");
}

/// One HTTP/1.1 request with `Connection: close`; returns (status, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    target: Option<&str>,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(t) = target {
        req.push_str(&format!(
            "Content-Type: application/x-amz-json-1.1\r\nX-Amz-Target: AWSCognitoIdentityProviderService.{t}\r\n"
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_string()))
}

impl Server {
    fn call(&self, op: &str, input: Value) -> Result<Value, (String, String)> {
        let (status, body) = http(self.port, "POST", "/", Some(op), &input.to_string()).unwrap();
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if status == 200 {
            Ok(v)
        } else {
            Err((
                v["__type"].as_str().unwrap_or("?").to_string(),
                v["message"].as_str().unwrap_or("?").to_string(),
            ))
        }
    }

    fn ok(&self, op: &str, input: Value) -> Value {
        self.call(op, input)
            .unwrap_or_else(|e| panic!("{op} failed: {e:?}"))
    }
}

const PASSWORD: &str = "Rusty-Passw0rd!";

struct Setup {
    pool_id: String,
    client_id: String,
    secret: String,
}

fn setup(server: &Server) -> Setup {
    let pool = server.ok(
        "CreateUserPool",
        json!({
            "PoolName": "rust-srp",
            "DeviceConfiguration": {
                "ChallengeRequiredOnNewDevice": true,
                "DeviceOnlyRememberedOnUserPrompt": false
            }
        }),
    );
    let pool_id = pool["UserPool"]["Id"].as_str().unwrap().to_string();
    let client = server.ok(
        "CreateUserPoolClient",
        json!({
            "UserPoolId": pool_id,
            "ClientName": "rust",
            "GenerateSecret": true,
            "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
        }),
    );
    let client = &client["UserPoolClient"];
    server.ok(
        "AdminCreateUser",
        json!({"UserPoolId": pool_id, "Username": "rusty", "MessageAction": "SUPPRESS"}),
    );
    server.ok(
        "AdminSetUserPassword",
        json!({"UserPoolId": pool_id, "Username": "rusty", "Password": PASSWORD, "Permanent": true}),
    );
    Setup {
        pool_id,
        client_id: client["ClientId"].as_str().unwrap().to_string(),
        secret: client["ClientSecret"].as_str().unwrap().to_string(),
    }
}

/// USER_SRP_AUTH up to the answer to PASSWORD_VERIFIER (with DEVICE_KEY when given).
fn user_srp(
    server: &Server,
    s: &Setup,
    password: &str,
    device_key: Option<&str>,
) -> Result<Value, (String, String)> {
    let client = SrpClient::new(
        User::new(&s.pool_id, "rusty", password),
        &s.client_id,
        Some(&s.secret),
    );
    let UserAuthenticationParameters { a, username } = client.get_auth_parameters();
    let mut params = json!({
        "USERNAME": username,
        "SRP_A": a,
        "SECRET_HASH": client.get_secret_hash().unwrap(),
    });
    if let Some(k) = device_key {
        params["DEVICE_KEY"] = json!(k);
    }
    let challenge = server.call(
        "InitiateAuth",
        json!({"AuthFlow": "USER_SRP_AUTH", "ClientId": s.client_id, "AuthParameters": params}),
    )?;
    assert_eq!(challenge["ChallengeName"], "PASSWORD_VERIFIER");
    let p = &challenge["ChallengeParameters"];
    let user_id = p["USER_ID_FOR_SRP"].as_str().unwrap();
    let VerificationParameters {
        password_claim_secret_block,
        password_claim_signature,
        timestamp,
    } = client
        .verify(
            p["SECRET_BLOCK"].as_str().unwrap(),
            user_id,
            p["SALT"].as_str().unwrap(),
            p["SRP_B"].as_str().unwrap(),
        )
        .unwrap();
    let mut responses = json!({
        "USERNAME": user_id,
        "PASSWORD_CLAIM_SECRET_BLOCK": password_claim_secret_block,
        "PASSWORD_CLAIM_SIGNATURE": password_claim_signature,
        "TIMESTAMP": timestamp,
        "SECRET_HASH": client.get_secret_hash().unwrap(),
    });
    if let Some(k) = device_key {
        responses["DEVICE_KEY"] = json!(k);
    }
    server.call(
        "RespondToAuthChallenge",
        json!({
            "ClientId": s.client_id,
            "ChallengeName": "PASSWORD_VERIFIER",
            "Session": challenge["Session"],
            "ChallengeResponses": responses,
        }),
    )
}

#[test]
fn aws_cognito_srp_signs_in_and_remembers_a_device() {
    let server = start();
    let s = setup(&server);

    // A wrong password fails the way Cognito fails it.
    let err = user_srp(&server, &s, "Wr0ng-Passw0rd!", None).unwrap_err();
    assert_eq!(
        err,
        (
            "NotAuthorizedException".to_string(),
            "Incorrect username or password.".to_string()
        )
    );

    // USER_SRP_AUTH: tokens and a new device.
    let out = user_srp(&server, &s, PASSWORD, None).unwrap();
    let result = &out["AuthenticationResult"];
    let access = result["AccessToken"].as_str().unwrap().to_string();
    let meta = &result["NewDeviceMetadata"];
    let device_key = meta["DeviceKey"].as_str().unwrap().to_string();
    let group_key = meta["DeviceGroupKey"].as_str().unwrap().to_string();

    // ConfirmDevice with the crate's verifier.
    let untracked = SrpClient::new(
        UntrackedDevice::new(&s.pool_id, &group_key, &device_key),
        &s.client_id,
        Some(&s.secret),
    );
    let PasswordVerifierParameters {
        verifier,
        salt,
        password: device_password,
    } = untracked.get_password_verifier();
    let confirmed = server.ok(
        "ConfirmDevice",
        json!({
            "AccessToken": access,
            "DeviceKey": device_key,
            "DeviceName": "rust-test",
            "DeviceSecretVerifierConfig": {"PasswordVerifier": verifier, "Salt": salt},
        }),
    );
    assert_eq!(confirmed["UserConfirmationNecessary"], json!(false));

    // Signing in again from the device: PASSWORD_VERIFIER, then the device proves itself.
    let out = user_srp(&server, &s, PASSWORD, Some(&device_key)).unwrap();
    assert_eq!(out["ChallengeName"], "DEVICE_SRP_AUTH");
    let tracked = SrpClient::new(
        TrackedDevice::new(&s.pool_id, &group_key, &device_key, &device_password),
        &s.client_id,
        Some(&s.secret),
    );
    let params = tracked.get_auth_parameters();
    let secret_hash = tracked.get_secret_hash("rusty").unwrap();
    let challenge = server.ok(
        "RespondToAuthChallenge",
        json!({
            "ClientId": s.client_id,
            "ChallengeName": "DEVICE_SRP_AUTH",
            "Session": out["Session"],
            "ChallengeResponses": {
                "USERNAME": "rusty",
                "DEVICE_KEY": params.device_key,
                "SRP_A": params.a,
                "SECRET_HASH": secret_hash,
            },
        }),
    );
    assert_eq!(challenge["ChallengeName"], "DEVICE_PASSWORD_VERIFIER");
    let p = &challenge["ChallengeParameters"];
    let v = tracked
        .verify(
            p["SECRET_BLOCK"].as_str().unwrap(),
            p["SALT"].as_str().unwrap(),
            p["SRP_B"].as_str().unwrap(),
        )
        .unwrap();
    let done = server.ok(
        "RespondToAuthChallenge",
        json!({
            "ClientId": s.client_id,
            "ChallengeName": "DEVICE_PASSWORD_VERIFIER",
            "Session": challenge["Session"],
            "ChallengeResponses": {
                "USERNAME": "rusty",
                "DEVICE_KEY": device_key,
                "PASSWORD_CLAIM_SECRET_BLOCK": v.password_claim_secret_block,
                "PASSWORD_CLAIM_SIGNATURE": v.password_claim_signature,
                "TIMESTAMP": v.timestamp,
                "SECRET_HASH": secret_hash,
            },
        }),
    );
    let result = &done["AuthenticationResult"];
    assert!(result["AccessToken"].as_str().is_some());
    assert!(
        result.get("NewDeviceMetadata").is_none(),
        "a remembered device is not new"
    );

    // The device is listed, remembered, and can be forgotten.
    let access = result["AccessToken"].as_str().unwrap();
    let listed = server.ok("ListDevices", json!({"AccessToken": access}));
    assert_eq!(listed["Devices"][0]["DeviceKey"], json!(device_key));
    server.ok(
        "AdminForgetDevice",
        json!({"UserPoolId": s.pool_id, "Username": "rusty", "DeviceKey": device_key}),
    );
    let listed = server.ok("ListDevices", json!({"AccessToken": access}));
    assert_eq!(listed["Devices"], json!([]));
}

#[test]
fn a_wrong_device_password_is_refused() {
    let server = start();
    let s = setup(&server);
    let out = user_srp(&server, &s, PASSWORD, None).unwrap();
    let result = &out["AuthenticationResult"];
    let meta = &result["NewDeviceMetadata"];
    let device_key = meta["DeviceKey"].as_str().unwrap();
    let group_key = meta["DeviceGroupKey"].as_str().unwrap();
    let untracked = SrpClient::new(
        UntrackedDevice::new(&s.pool_id, group_key, device_key),
        &s.client_id,
        Some(&s.secret),
    );
    let PasswordVerifierParameters { verifier, salt, .. } = untracked.get_password_verifier();
    server.ok(
        "ConfirmDevice",
        json!({
            "AccessToken": result["AccessToken"],
            "DeviceKey": device_key,
            "DeviceSecretVerifierConfig": {"PasswordVerifier": verifier, "Salt": salt},
        }),
    );
    let out = user_srp(&server, &s, PASSWORD, Some(device_key)).unwrap();
    let tracked = SrpClient::new(
        TrackedDevice::new(&s.pool_id, group_key, device_key, "not-the-device-password"),
        &s.client_id,
        Some(&s.secret),
    );
    let params = tracked.get_auth_parameters();
    let secret_hash = tracked.get_secret_hash("rusty").unwrap();
    let challenge = server.ok(
        "RespondToAuthChallenge",
        json!({
            "ClientId": s.client_id, "ChallengeName": "DEVICE_SRP_AUTH", "Session": out["Session"],
            "ChallengeResponses": {"USERNAME": "rusty", "DEVICE_KEY": device_key, "SRP_A": params.a, "SECRET_HASH": secret_hash},
        }),
    );
    let p = &challenge["ChallengeParameters"];
    let v = tracked
        .verify(
            p["SECRET_BLOCK"].as_str().unwrap(),
            p["SALT"].as_str().unwrap(),
            p["SRP_B"].as_str().unwrap(),
        )
        .unwrap();
    let err = server
        .call(
            "RespondToAuthChallenge",
            json!({
                "ClientId": s.client_id, "ChallengeName": "DEVICE_PASSWORD_VERIFIER", "Session": challenge["Session"],
                "ChallengeResponses": {
                    "USERNAME": "rusty", "DEVICE_KEY": device_key,
                    "PASSWORD_CLAIM_SECRET_BLOCK": v.password_claim_secret_block,
                    "PASSWORD_CLAIM_SIGNATURE": v.password_claim_signature,
                    "TIMESTAMP": v.timestamp, "SECRET_HASH": secret_hash,
                },
            }),
        )
        .unwrap_err();
    assert_eq!(err.0, "NotAuthorizedException");
    assert_eq!(err.1, "Incorrect username or password.");
}
