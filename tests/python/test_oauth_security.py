"""The hosted pages and OAuth endpoints as an attacker sees them: what a page says must not tell
who has an account when the client's PreventUserExistenceErrors is ENABLED, whatever the state
of the account (confirmed, never asked for a code, out of attempts) or the password typed."""
import re
import time

import pyotp
import pytest
import requests

from conftest import make_user
from test_hosted_ui import CALLBACK, Browser, alert, heading, info, oauth_pool, set_cookies


@pytest.fixture
def hosted(idp):
    pid, cid = oauth_pool(idp)
    make_user(idp, pid, "alice")
    yield {"pool_id": pid, "client_id": cid}
    idp.delete_user_pool(UserPoolId=pid)


def query(cid):
    return f"client_id={cid}&response_type=code&redirect_uri={CALLBACK}"


def test_resend_code_reads_the_same_for_a_confirmed_and_an_unknown_user(server, hosted):
    q = query(hosted["client_id"])
    said = {}
    for who in ["alice", "nobody"]:
        b = Browser(server)
        r = b.submit(b.get(f"/confirm?{q}"), action="/resendcode", username=who)
        # Where the code went is masked from the name typed, so it says nothing either.
        said[who] = (r.status_code, alert(r), re.sub(r"\w\*\*\*@", "?***@", info(r) or ""))
    assert said["alice"] == said["nobody"], said


@pytest.mark.parametrize("password", ["An0ther-Pass!", "weak"])
def test_reset_reads_the_same_for_a_known_and_an_unknown_user(server, hosted, password):
    # alice never asked for a code; nobody does not exist; a weak password must not tell them apart.
    q = query(hosted["client_id"])
    said = {}
    for who in ["alice", "nobody"]:
        b = Browser(server)
        r = b.submit(b.get(f"/confirmForgotPassword?{q}"), username=who, code="123456",
                     password=password, confirm_password=password)
        said[who] = (r.status_code, alert(r), info(r))
    assert said["alice"] == said["nobody"], said


def test_confirm_reads_the_same_after_too_many_wrong_codes(server, public_idp, hosted):
    cid = hosted["client_id"]
    public_idp.sign_up(ClientId=cid, Username="pending", Password="Corr3ct-Horse!",
                       UserAttributes=[{"Name": "email", "Value": "pending@example.com"}])
    q = query(cid)
    b = Browser(server)
    for _ in range(8):
        last = b.submit(b.get(f"/confirm?{q}"), username="pending", code="000000")
    unknown = b.submit(b.get(f"/confirm?{q}"), username="nobody", code="000000")
    assert (last.status_code, alert(last)) == (unknown.status_code, alert(unknown))


def test_on_https_the_session_cookie_cannot_be_planted_by_a_sibling_domain(fresh_server):
    # A sibling subdomain (or a network attacker on plain http) could set gh_session_<pool> for
    # the IdP's host with its own session in it: the victim's next sign-in through any client
    # of the pool would then silently be the attacker's account (login CSRF). __Host- cookies
    # can only come from this origin over https, with Path=/ and no Domain.
    s = fresh_server(extra_args=["--public-url", "https://id.example.com"])
    sidp = s.client()
    pid, cid = oauth_pool(sidp)
    make_user(sidp, pid, "alice")
    b = Browser(s)
    r = b.authorize(cid)
    (c,) = [c for c in set_cookies(r) if "gh_csrf=" in c]
    url, fields = b.form(r)
    token = c.split("=", 1)[1].split(";", 1)[0]
    r = requests.post(url, data={**fields, "username": "alice", "password": "Corr3ct-Horse!"},
                      cookies={"__Host-gh_csrf": token}, allow_redirects=False)
    assert r.status_code == 302
    (sess,) = [c for c in set_cookies(r) if "gh_session_" in c]
    assert sess.startswith(f"__Host-gh_session_{pid}="), sess
    assert "Secure" in sess and "Path=/" in sess and "Domain" not in sess
    # The session is found under that name, and the plain name is not trusted on https.
    value = sess.split("=", 1)[1].split(";", 1)[0]
    r = requests.get(f"{s.url}/oauth2/authorize", params={
        "client_id": cid, "response_type": "code", "redirect_uri": CALLBACK, "scope": "openid"},
        cookies={f"__Host-gh_session_{pid}": value}, allow_redirects=False)
    assert r.status_code == 302 and "code=" in r.headers["Location"]
    r = requests.get(f"{s.url}/oauth2/authorize", params={
        "client_id": cid, "response_type": "code", "redirect_uri": CALLBACK, "scope": "openid"},
        cookies={f"gh_session_{pid}": value}, allow_redirects=False)
    assert r.status_code == 200


def test_mfa_code_guessing_counts_towards_lockout(server, idp, public_idp):
    # Three wrong codes end a challenge session, but a new one was only a password away, and a
    # right password cleared the failure count: whoever had the password could guess codes
    # forever. Wrong codes now count as failed sign-ins until a sign-in completes.
    pid, cid = oauth_pool(idp)
    idp.set_user_pool_mfa_config(UserPoolId=pid, MfaConfiguration="OPTIONAL",
                                 SoftwareTokenMfaConfiguration={"Enabled": True})
    make_user(idp, pid, "mia")
    access = public_idp.initiate_auth(ClientId=cid, AuthFlow="USER_PASSWORD_AUTH",
                                      AuthParameters={"USERNAME": "mia", "PASSWORD": "Corr3ct-Horse!"})[
        "AuthenticationResult"]["AccessToken"]
    totp = pyotp.TOTP(public_idp.associate_software_token(AccessToken=access)["SecretCode"])
    t = time.time()
    public_idp.verify_software_token(AccessToken=access, UserCode=totp.at(t))
    public_idp.set_user_mfa_preference(AccessToken=access,
                                       SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    valid = {totp.at(t + d) for d in (-60, -30, 0, 30, 60, 90)}
    wrong = next(c for c in (f"{n:06d}" for n in range(1000000)) if c not in valid)
    b = Browser(server)
    for _ in range(2):
        r = b.sign_in(cid, "mia")
        assert heading(r) == "Multi-factor authentication", alert(r)
        for _ in range(3):
            r = b.submit(r, code=wrong)
            if heading(r) != "Multi-factor authentication":
                break
    r = b.sign_in(cid, "mia")
    assert (r.status_code, alert(r)) == (400, "Password attempts exceeded")
    idp.delete_user_pool(UserPoolId=pid)


@pytest.mark.parametrize("path", ["/oauth2/token", "/oauth2/revoke", "/oauth2/userInfo"])
def test_a_form_of_thousands_of_parameters_is_refused_cheaply(server, path):
    # The repeated-parameter check compared every pair with every earlier one: 64 KiB of
    # distinct one-letter names cost the server most of a second per request.
    body = "&".join(f"{i:x}" for i in range(12000))
    r = requests.post(f"{server.url}{path}", data=body,
                      headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
    assert r.status_code in (400, 401), r.text
    if path != "/oauth2/userInfo":
        assert r.json()["error"] == "invalid_request"
        assert "Too many parameters" in r.json()["error_description"]
    assert r.elapsed.total_seconds() < 0.3


def test_max_age_asks_for_a_fresh_sign_in(server, hosted):
    # OIDC Core §3.1.2.1: a session older than max_age must not answer at once; with
    # prompt=none the answer is login_required.
    cid = hosted["client_id"]
    b = Browser(server)
    assert b.sign_in(cid, "alice").status_code == 302
    time.sleep(1.1)
    assert b.authorize(cid, max_age="3600").status_code == 302
    r = b.authorize(cid, max_age="0")
    assert r.status_code == 200 and heading(r) == "Sign in"
    r = b.authorize(cid, max_age="0", prompt="none")
    assert r.status_code == 302 and "error=login_required" in r.headers["Location"]
    r = b.authorize(cid, max_age="soon")
    assert r.status_code == 302 and "error=invalid_request" in r.headers["Location"]
    # Signing in again satisfies it.
    r = b.submit(r := b.authorize(cid, max_age="0"), username="alice", password="Corr3ct-Horse!")
    assert r.status_code == 302 and "code=" in r.headers["Location"]


@pytest.mark.parametrize("state", ["disabled", "no_verified_contact"])
def test_forgot_password_reads_the_same_for_an_account_that_cannot_reset(server, idp, hosted, state):
    pid, cid = hosted["pool_id"], hosted["client_id"]
    if state == "disabled":
        make_user(idp, pid, "bob")
        idp.admin_disable_user(UserPoolId=pid, Username="bob")
    else:
        make_user(idp, pid, "bob", attrs=[{"Name": "email", "Value": "bob@example.com"}])
    q = query(cid)
    said = {}
    for who in ["bob", "nobody"]:
        b = Browser(server)
        r = b.submit(b.get(f"/forgotPassword?{q}"), username=who)
        said[who] = (r.status_code, heading(r), alert(r),
                     re.sub(r"\w\*\*\*@", "?***@", info(r) or ""))
    assert said["bob"] == said["nobody"], said


def test_a_hosted_challenge_session_is_not_answered_through_the_cognito_api(server, idp, public_idp):
    # The MFA page's session is bound to the hosted pages: answered with RespondToAuthChallenge
    # it would hand tokens to whoever read it from the page, bypassing the authorize grant.
    pid, cid = oauth_pool(idp)
    idp.set_user_pool_mfa_config(UserPoolId=pid, MfaConfiguration="OPTIONAL",
                                 SoftwareTokenMfaConfiguration={"Enabled": True})
    make_user(idp, pid, "mia")
    access = public_idp.initiate_auth(ClientId=cid, AuthFlow="USER_PASSWORD_AUTH",
                                      AuthParameters={"USERNAME": "mia", "PASSWORD": "Corr3ct-Horse!"})[
        "AuthenticationResult"]["AccessToken"]
    totp = pyotp.TOTP(public_idp.associate_software_token(AccessToken=access)["SecretCode"])
    public_idp.verify_software_token(AccessToken=access, UserCode=totp.at(time.time() - 30))
    public_idp.set_user_mfa_preference(AccessToken=access,
                                       SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    r = Browser(server).sign_in(cid, "mia")
    assert heading(r) == "Multi-factor authentication"
    _, fields = Browser(server).form(r)
    with pytest.raises(Exception, match="NotAuthorized"):
        public_idp.respond_to_auth_challenge(
            ClientId=cid, ChallengeName="SOFTWARE_TOKEN_MFA", Session=fields["session"],
            ChallengeResponses={"USERNAME": "mia", "SOFTWARE_TOKEN_MFA_CODE": totp.now()})
    idp.delete_user_pool(UserPoolId=pid)
