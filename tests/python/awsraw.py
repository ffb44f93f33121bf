"""Raw AWS JSON 1.1 calls for tests that need to send what boto3 would refuse to send
(bad types, values outside limits, broken signatures)."""
import base64
import hashlib
import hmac
import json

import boto3
import botocore
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import requests

from conftest import ACCESS_KEY, REGION, SECRET_KEY

TARGET = "AWSCognitoIdentityProviderService."
CT = "application/x-amz-json-1.1"


def signed_headers(url, op, body, access_key=ACCESS_KEY, secret_key=SECRET_KEY, service="cognito-idp",
                   extra=None):
    """SigV4 headers for a POST of `body` (bytes) to `url`, as botocore computes them."""
    headers = {"X-Amz-Target": TARGET + op, "Content-Type": CT}
    headers.update(extra or {})
    req = botocore.awsrequest.AWSRequest(method="POST", url=url + "/", data=body, headers=headers)
    creds = botocore.credentials.Credentials(access_key, secret_key)
    botocore.auth.SigV4Auth(creds, service, REGION).add_auth(req)
    return dict(req.headers.items())


def call(server, op, body=None, signed=True, headers=None, raw=None, **sign_kw):
    """POSTs one operation; `body` is a dict (JSON-encoded) or `raw` bytes as given."""
    data = raw if raw is not None else json.dumps(body if body is not None else {}).encode()
    if signed:
        h = signed_headers(server.url, op, data, **sign_kw)
    else:
        h = {"X-Amz-Target": TARGET + op, "Content-Type": CT}
    h.update(headers or {})
    return requests.post(server.url + "/", data=data, headers=h, timeout=30)


def error(resp):
    """(__type, message) of an error response, after checking AWS's error shape."""
    assert resp.status_code >= 400, resp.text
    assert resp.status_code < 500, f"{resp.status_code}: {resp.text}"
    body = resp.json()
    kind = body["__type"]
    assert resp.headers.get("x-amzn-errortype", "").split(":")[0] == kind
    assert resp.headers.get("x-amzn-requestid")
    return kind, body.get("message", "")


def unvalidated(server, signed=True):
    """A boto3 client that sends parameters without client-side validation."""
    cfg = botocore.config.Config(retries={"max_attempts": 1}, parameter_validation=False)
    if not signed:
        cfg = cfg.merge(botocore.config.Config(signature_version=botocore.UNSIGNED))
    return boto3.client("cognito-idp", endpoint_url=server.url, region_name=REGION,
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, config=cfg)


def secret_hash(username, client_id, client_secret):
    mac = hmac.new(client_secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def jwt_claims(token):
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))
