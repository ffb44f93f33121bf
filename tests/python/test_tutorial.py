"""The tutorial's user-pool steps, end to end with the aws CLI: create a pool and an app client
without a secret, create a user, sign in, call GetUser with the token, verify the token against
the pool's JWKS."""
import jwt
import requests


def test_tutorial_user_pool_steps_with_aws_cli(server):
    pool = server.aws(
        "cognito-idp", "create-user-pool", "--pool-name", "tutorial",
        "--policies", "PasswordPolicy={MinimumLength=8,RequireUppercase=true,RequireLowercase=true,RequireNumbers=true,RequireSymbols=false}",
        "--username-attributes", "email", "--auto-verified-attributes", "email",
    )["UserPool"]
    pool_id = pool["Id"]
    assert pool_id.startswith("us-east-1_") and len(pool_id.split("_")[1]) == 9
    client = server.aws(
        "cognito-idp", "create-user-pool-client", "--user-pool-id", pool_id, "--client-name", "spa",
        "--no-generate-secret", "--explicit-auth-flows", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH",
    )["UserPoolClient"]
    client_id = client["ClientId"]
    assert "ClientSecret" not in client

    # Self-service sign-up, confirmed with the code from the outbox.
    out = server.aws(
        "cognito-idp", "sign-up", "--client-id", client_id, "--username", "jane@example.com",
        "--password", "Tutorial1pass", "--user-attributes", "Name=name,Value=Jane",
    )
    assert out["UserConfirmed"] is False
    assert out["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    code = server.last_code(kind="sign_up_code")
    server.aws("cognito-idp", "confirm-sign-up", "--client-id", client_id, "--username", "jane@example.com",
               "--confirmation-code", code)

    auth = server.aws(
        "cognito-idp", "initiate-auth", "--client-id", client_id, "--auth-flow", "USER_PASSWORD_AUTH",
        "--auth-parameters", "USERNAME=jane@example.com,PASSWORD=Tutorial1pass",
    )["AuthenticationResult"]
    assert auth["TokenType"] == "Bearer" and auth["ExpiresIn"] == 3600

    me = server.aws("cognito-idp", "get-user", "--access-token", auth["AccessToken"])
    attrs = {a["Name"]: a["Value"] for a in me["UserAttributes"]}
    assert attrs["email"] == "jane@example.com" and attrs["email_verified"] == "true"
    assert attrs["name"] == "Jane"

    # The ID token verifies against the published JWKS with the documented issuer.
    issuer = f"{server.url}/{pool_id}"
    disco = requests.get(f"{issuer}/.well-known/openid-configuration").json()
    assert disco["issuer"] == issuer
    jwks = jwt.PyJWKClient(disco["jwks_uri"])
    key = jwks.get_signing_key_from_jwt(auth["IdToken"])
    claims = jwt.decode(auth["IdToken"], key.key, algorithms=["RS256"], audience=client_id, issuer=issuer)
    assert claims["token_use"] == "id" and claims["email"] == "jane@example.com"
    assert claims["cognito:username"] == attrs["sub"]
