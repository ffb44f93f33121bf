"""The hosted sign-in pages, driven as a browser would (requests + BeautifulSoup): every page and
its error paths, CSRF, the redirect_uri rule, the hosted session cookie shared by the clients of
a pool, logout, lockout, MFA, NEW_PASSWORD_REQUIRED, prompt, and no user enumeration.

The helpers here (oauth_pool, Browser) are used by test_oidc_clients.py too.
"""
import re
import time
import uuid
from urllib.parse import parse_qs, urljoin, urlsplit

import pyotp
import pytest
import requests
from bs4 import BeautifulSoup

from conftest import PASSWORD, make_user

CALLBACK = "https://app.example.com/callback"
SIGNED_OUT = "https://app.example.com/signed-out"
FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"]


def oauth_client(idp, pool_id, name="web", pue="ENABLED", flows=("code", "implicit"), secret=False,
                 callbacks=(CALLBACK,), logouts=(SIGNED_OUT,), scopes=("openid", "email", "profile")):
    return idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=name,
        GenerateSecret=secret,
        ExplicitAuthFlows=FLOWS,
        PreventUserExistenceErrors=pue,
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthFlows=list(flows),
        AllowedOAuthScopes=list(scopes),
        CallbackURLs=list(callbacks),
        LogoutURLs=list(logouts),
        SupportedIdentityProviders=["COGNITO"],
    )["UserPoolClient"]


def oauth_pool(idp, pue="ENABLED", **create):
    """A pool with one OAuth client (code + implicit, openid email profile)."""
    create.setdefault("AutoVerifiedAttributes", ["email"])
    p = idp.create_user_pool(PoolName=f"h-{uuid.uuid4().hex[:8]}", **create)["UserPool"]
    c = oauth_client(idp, p["Id"], pue=pue)
    return p["Id"], c["ClientId"]


def soup(resp):
    return BeautifulSoup(resp.text, "html.parser")


def alert(resp):
    el = soup(resp).find(attrs={"role": "alert"})
    return el.get_text(strip=True) if el else None


def info(resp):
    el = soup(resp).find(attrs={"role": "status"})
    return el.get_text(strip=True) if el else None


def heading(resp):
    el = soup(resp).find("h1")
    return el.get_text(strip=True) if el else None


def redirect_params(resp, fragment=False):
    assert resp.status_code == 302, (resp.status_code, resp.text[:2000])
    loc = resp.headers["Location"]
    parts = urlsplit(loc)
    return loc, {k: v[0] for k, v in parse_qs(parts.fragment if fragment else parts.query).items()}


class Browser:
    """A cookie-keeping client that follows nothing by itself, and fills in forms."""

    def __init__(self, server):
        self.base = server.url
        self.s = requests.Session()

    def get(self, path, **params):
        return self.s.get(urljoin(self.base, path), params=params or None, allow_redirects=False, timeout=30)

    def authorize(self, client_id, path="/oauth2/authorize", **extra):
        params = {"client_id": client_id, "response_type": "code", "redirect_uri": CALLBACK,
                  "state": "st-" + uuid.uuid4().hex[:8], "scope": "openid email"}
        params.update(extra)
        params = {k: v for k, v in params.items() if v is not None}
        return self.get(path, **params)

    def form(self, resp, action=None):
        """The (action URL, fields) of the page's form (the first, or the one posting to `action`)."""
        forms = soup(resp).find_all("form")
        assert forms, f"no form on the page: {resp.status_code} {resp.text[:1500]}"
        if action:
            forms = [f for f in forms if urlsplit(f["action"]).path == action]
            assert forms, f"no form posting to {action}"
        f = forms[0]
        fields = {}
        for i in f.find_all("input"):
            if not i.get("name"):
                continue
            if i.get("type") == "radio":
                if i.has_attr("checked"):
                    fields[i["name"]] = i.get("value", "")
                continue
            fields[i["name"]] = i.get("value", "")
        return urljoin(self.base, f["action"]), fields

    def submit(self, resp, action=None, **data):
        url, fields = self.form(resp, action)
        fields.update(data)
        return self.s.post(url, data=fields, allow_redirects=False, timeout=30)

    def sign_in(self, client_id, username, password=PASSWORD, **extra):
        page = self.authorize(client_id, **extra)
        assert page.status_code == 200, page.text[:2000]
        return self.submit(page, username=username, password=password)

    def cookie(self, name):
        return self.s.cookies.get(name)


@pytest.fixture
def hosted(idp):
    pid, cid = oauth_pool(idp)
    make_user(idp, pid, "alice")
    yield {"pool_id": pid, "client_id": cid}
    idp.delete_user_pool(UserPoolId=pid)


def code_to(server, destination, kind):
    """The newest code sent to an address (usernames of email pools are subs)."""
    for m in reversed(server.outbox()):
        if m["destination"] == destination and m["kind"] == kind:
            return m["code"]
    raise AssertionError(f"no {kind} for {destination} in the outbox")


def set_cookies(resp):
    return [v for k, v in resp.raw.headers.items() if k.lower() == "set-cookie"]


# ---- the authorize endpoint and the sign-in page -------------------------------------------


def test_sign_in_page_is_accessible_and_locked_down(server, hosted):
    b = Browser(server)
    r = b.authorize(hosted["client_id"])
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src" not in csp and "unsafe-inline" not in csp
    nonce = re.search(r"style-src 'nonce-([^']+)'", csp).group(1)
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    page = soup(r)
    assert not page.find("script")
    assert all(s.get("nonce") == nonce for s in page.find_all("style"))
    assert page.find("meta", attrs={"name": "viewport"})
    assert page.find("html").get("lang") == "en"
    assert heading(r) == "Sign in"
    for inp in page.find_all("input"):
        if inp.get("type") == "hidden":
            continue
        assert page.find("label", attrs={"for": inp["id"]}), f"input {inp['id']} has no label"
    assert page.find("input", id="username")["autocomplete"] == "username"
    assert page.find("input", id="password")["autocomplete"] == "current-password"
    assert page.find("input", id="password")["type"] == "password"
    links = [a["href"] for a in page.find_all("a")]
    assert any(h.startswith("/signup?") for h in links) and any(h.startswith("/forgotPassword?") for h in links)
    (csrf_cookie,) = [c for c in set_cookies(r) if c.startswith("gh_csrf=")]
    assert "HttpOnly" in csrf_cookie and "SameSite=Lax" in csrf_cookie and "Path=/" in csrf_cookie
    assert "Secure" not in csrf_cookie  # the public URL is http here


def test_login_path_works_like_authorize(server, hosted):
    b = Browser(server)
    r = b.authorize(hosted["client_id"], path="/login")
    assert r.status_code == 200 and heading(r) == "Sign in"


def test_sign_in_redirects_back_with_code_and_state(server, hosted):
    b = Browser(server)
    page = b.authorize(hosted["client_id"], state="xyz 1/2")
    r = b.submit(page, username="alice", password=PASSWORD)
    loc, q = redirect_params(r)
    assert loc.startswith(CALLBACK + "?")
    assert q["state"] == "xyz 1/2" and len(q["code"]) >= 32
    cookie = [c for c in set_cookies(r) if c.startswith(f"gh_session_{hosted['pool_id']}=")]
    assert cookie, set_cookies(r)
    assert all(a in cookie[0] for a in ("HttpOnly", "SameSite=Lax", "Path=/"))
    assert r.headers["Cache-Control"] == "no-store"


def test_unregistered_redirect_uri_is_never_redirected_to(server, hosted):
    b = Browser(server)
    for uri in ["https://evil.example.com/callback", CALLBACK + "/", CALLBACK + "?x=1", "HTTPS://app.example.com/callback"]:
        r = b.authorize(hosted["client_id"], redirect_uri=uri)
        assert r.status_code == 400 and "Location" not in r.headers, uri
        assert alert(r)
    r = b.authorize("nosuchclient123")
    assert r.status_code == 400 and "Location" not in r.headers
    r = b.get("/oauth2/authorize", response_type="code", redirect_uri=CALLBACK)
    assert r.status_code == 400 and "client_id" in alert(r)
    # A repeated parameter: malformed, nowhere redirected.
    r = b.s.get(f"{server.url}/oauth2/authorize?client_id={hosted['client_id']}&response_type=code"
                f"&redirect_uri={CALLBACK}&redirect_uri=https://evil.example.com/", allow_redirects=False)
    assert r.status_code == 400 and "Location" not in r.headers


def test_errors_about_a_valid_client_go_back_to_it(server, hosted):
    b = Browser(server)
    _, q = redirect_params(b.authorize(hosted["client_id"], response_type="id_token", state="s1"))
    assert q["error"] == "unsupported_response_type" and q["state"] == "s1"
    _, q = redirect_params(b.authorize(hosted["client_id"], scope="openid admin/everything"))
    assert q["error"] == "invalid_scope"
    _, q = redirect_params(b.authorize(hosted["client_id"], code_challenge="short", code_challenge_method="S256"))
    assert q["error"] == "invalid_request"


def test_wrong_password_and_unknown_user_read_the_same(server, hosted):
    b = Browser(server)
    r = b.sign_in(hosted["client_id"], "alice", "Wr0ng-Password!")
    assert r.status_code == 400 and alert(r) == "Incorrect username or password."
    assert soup(r).find("input", id="username")["value"] == "alice"
    r = b.sign_in(hosted["client_id"], "nobody-here", "Wr0ng-Password!")
    assert alert(r) == "Incorrect username or password."
    r = b.sign_in(hosted["client_id"], "", "")
    assert r.status_code == 400 and alert(r)


def test_legacy_clients_say_the_user_does_not_exist(server, idp):
    pid, cid = oauth_pool(idp, pue="LEGACY")
    b = Browser(server)
    assert alert(b.sign_in(cid, "nobody-here", "Wr0ng-Password!")) == "User does not exist."
    idp.delete_user_pool(UserPoolId=pid)


def test_user_input_is_escaped(server, hosted):
    b = Browser(server)
    evil = '"><script>alert(1)</script>'
    r = b.authorize(hosted["client_id"], login_hint=evil, state=evil)
    assert r.status_code == 200
    assert "<script>" not in r.text
    assert soup(r).find("input", id="username")["value"] == evil
    r = b.submit(r, username=evil, password="x")
    assert "<script>" not in r.text


def test_implicit_grant_returns_tokens_in_the_fragment(server, hosted):
    b = Browser(server)
    r = b.sign_in(hosted["client_id"], "alice", response_type="token", state="imp", nonce="n-1")
    loc, q = redirect_params(r, fragment=True)
    assert loc.startswith(CALLBACK + "#")
    assert q["token_type"] == "Bearer" and q["state"] == "imp" and q["access_token"] and q["id_token"]


# ---- CSRF ---------------------------------------------------------------------------------


def test_forms_without_a_matching_csrf_token_are_refused(server, hosted):
    b = Browser(server)
    page = b.authorize(hosted["client_id"])
    url, fields = b.form(page)
    # Wrong token in the field.
    r = b.s.post(url, data={**fields, "_csrf": "A" * 43, "username": "alice", "password": PASSWORD}, allow_redirects=False)
    assert r.status_code == 403 and "Location" not in r.headers
    # No token in the field.
    r = b.s.post(url, data={"username": "alice", "password": PASSWORD}, allow_redirects=False)
    assert r.status_code == 403
    # The right field, but another browser (no cookie): a cross-site POST.
    r = requests.post(url, data={**fields, "username": "alice", "password": PASSWORD}, allow_redirects=False)
    assert r.status_code == 403 and "Location" not in r.headers
    # The same form from the browser that got it works.
    r = b.s.post(url, data={**fields, "username": "alice", "password": PASSWORD}, allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].startswith(CALLBACK)


def test_bad_input_gets_a_4xx_page_never_a_500(server, hosted):
    b = Browser(server)
    page = b.authorize(hosted["client_id"])
    url, fields = b.form(page)
    r = b.s.post(url, data={**fields, "username": "a" * 40000, "password": "x"}, allow_redirects=False)
    assert r.status_code == 413 and "text/html" in r.headers["Content-Type"]
    r = b.s.post(url, json={"username": "alice"}, allow_redirects=False)
    assert r.status_code == 415
    r = b.s.post(url, data="username=%ZZ&password=%", headers={"Content-Type": "application/x-www-form-urlencoded"},
                 allow_redirects=False)
    assert r.status_code in (400, 403)
    r = b.s.post(url, data=f"_csrf={fields['_csrf']}&username=a&username=b&password=x",
                 headers={"Content-Type": "application/x-www-form-urlencoded"}, allow_redirects=False)
    assert r.status_code == 400
    r = b.s.post(url.replace("/login", "/challenge"), data={**fields, "challenge": "NOPE", "session": "x", "username": "alice"},
                 allow_redirects=False)
    assert r.status_code == 400
    r = b.s.post(url.replace("/login", "/challenge"),
                 data={**fields, "challenge": "SOFTWARE_TOKEN_MFA", "session": "forged", "username": "alice", "code": "123456"},
                 allow_redirects=False)
    assert r.status_code == 400 and heading(r) == "Sign in"
    r = b.get("/oauth2/authorize?client_id=%FF%FE")
    assert r.status_code == 400
    # A reload of a POST-only page (GET) starts over instead of failing.
    query = urlsplit(url).query
    for path in ["/challenge", "/resendcode"]:
        r = b.get(f"{path}?{query}")
        assert r.status_code == 200 and soup(r).find("form"), path
    r = b.get("/logout")
    assert r.status_code == 400


# ---- the hosted session ---------------------------------------------------------------------


def test_a_second_client_of_the_pool_signs_in_without_the_password(server, idp, hosted):
    other = oauth_client(idp, hosted["pool_id"], name="second", callbacks=["http://localhost:3000/cb"])
    b = Browser(server)
    assert b.sign_in(hosted["client_id"], "alice").status_code == 302
    r = b.authorize(other["ClientId"], redirect_uri="http://localhost:3000/cb", state="two")
    loc, q = redirect_params(r)
    assert loc.startswith("http://localhost:3000/cb?") and q["state"] == "two" and q["code"]
    # prompt=login asks again anyway; prompt=none is answered from the session.
    r = b.authorize(other["ClientId"], redirect_uri="http://localhost:3000/cb", prompt="login")
    assert r.status_code == 200 and heading(r) == "Sign in"
    _, q = redirect_params(b.authorize(hosted["client_id"], prompt="none"))
    assert q["code"]
    # Another pool does not see this pool's session.
    pid2, cid2 = oauth_pool(idp)
    r = b.authorize(cid2)
    assert r.status_code == 200 and heading(r) == "Sign in"
    idp.delete_user_pool(UserPoolId=pid2)


def test_prompt_none_without_a_session_is_login_required(server, hosted):
    b = Browser(server)
    loc, q = redirect_params(b.authorize(hosted["client_id"], prompt="none", state="pn"))
    assert loc.startswith(CALLBACK) and q["error"] == "login_required" and q["state"] == "pn"


def test_logout_ends_the_session_and_goes_to_a_registered_url(server, hosted):
    b = Browser(server)
    r = b.sign_in(hosted["client_id"], "alice")
    name = f"gh_session_{hosted['pool_id']}"
    token = b.cookie(name)
    assert token
    # An unregistered logout_uri: an error page, no redirect, the session untouched.
    r = b.get("/logout", client_id=hosted["client_id"], logout_uri="https://evil.example.com/")
    assert r.status_code == 400 and "Location" not in r.headers
    assert b.authorize(hosted["client_id"]).status_code == 302
    r = b.get("/logout", client_id=hosted["client_id"], logout_uri=SIGNED_OUT)
    assert r.status_code == 302 and r.headers["Location"] == SIGNED_OUT
    cleared = [c for c in set_cookies(r) if c.startswith(name + "=")]
    assert cleared and "Max-Age=0" in cleared[0]
    assert not b.cookie(name)
    r = b.authorize(hosted["client_id"])
    assert r.status_code == 200 and heading(r) == "Sign in"
    # The old cookie value is dead server-side too.
    replay = requests.get(f"{server.url}/oauth2/authorize", params={
        "client_id": hosted["client_id"], "response_type": "code", "redirect_uri": CALLBACK},
        cookies={name: token}, allow_redirects=False)
    assert replay.status_code == 200


def test_logout_with_redirect_uri_starts_a_new_sign_in(server, hosted):
    b = Browser(server)
    b.sign_in(hosted["client_id"], "alice")
    r = b.get("/logout", client_id=hosted["client_id"], redirect_uri=CALLBACK, response_type="code", state="again")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?")
    r = b.get(r.headers["Location"])
    assert r.status_code == 200 and heading(r) == "Sign in"
    r = b.get("/logout", client_id=hosted["client_id"], redirect_uri="https://evil.example.com/", response_type="code")
    assert r.status_code == 400 and "Location" not in r.headers


def test_logout_without_a_destination_shows_a_signed_out_page(server, hosted):
    b = Browser(server)
    b.sign_in(hosted["client_id"], "alice")
    name = f"gh_session_{hosted['pool_id']}"
    assert b.cookie(name)
    r = b.get("/logout", client_id=hosted["client_id"])
    assert r.status_code == 200 and heading(r) == "Signed out" and info(r) == "You have been signed out."
    assert not b.cookie(name)
    assert heading(b.authorize(hosted["client_id"])) == "Sign in"


def test_https_public_url_makes_cookies_secure(fresh_server, idp):
    s = fresh_server(extra_args=["--public-url", "https://id.example.com"])
    sidp = s.client()
    pid, cid = oauth_pool(sidp)
    make_user(sidp, pid, "alice")
    b = Browser(s)
    r = b.authorize(cid)
    (c,) = [c for c in set_cookies(r) if "gh_csrf=" in c]
    assert c.startswith("__Host-gh_csrf=") and "Secure" in c
    # requests keeps Secure cookies off plain http: hand the CSRF cookie over as a browser
    # on https would send it.
    url, fields = b.form(r)
    token = c.split("=", 1)[1].split(";", 1)[0]
    r = requests.post(url, data={**fields, "username": "alice", "password": PASSWORD},
                      cookies={"__Host-gh_csrf": token}, allow_redirects=False)
    assert r.status_code == 302
    (sess,) = [c for c in set_cookies(r) if c.startswith(f"__Host-gh_session_{pid}=")]
    assert "Secure" in sess and "HttpOnly" in sess


# ---- lockout, MFA, new password ---------------------------------------------------------------


def test_lockout_after_repeated_failures(server, hosted):
    b = Browser(server)
    for _ in range(5):
        assert alert(b.sign_in(hosted["client_id"], "alice", "Wr0ng-Password!")) == "Incorrect username or password."
    r = b.sign_in(hosted["client_id"], "alice", PASSWORD)
    assert r.status_code == 400 and alert(r) == "Password attempts exceeded"


def fresh_step():
    while time.time() % 30 > 25:
        time.sleep(0.5)
    return time.time()


def test_totp_mfa(server, idp, public_idp):
    pid, cid = oauth_pool(idp)
    idp.set_user_pool_mfa_config(UserPoolId=pid, MfaConfiguration="OPTIONAL",
                                 SoftwareTokenMfaConfiguration={"Enabled": True})
    make_user(idp, pid, "mia")
    access = public_idp.initiate_auth(ClientId=cid, AuthFlow="USER_PASSWORD_AUTH",
                                      AuthParameters={"USERNAME": "mia", "PASSWORD": PASSWORD})["AuthenticationResult"]["AccessToken"]
    totp = pyotp.TOTP(public_idp.associate_software_token(AccessToken=access)["SecretCode"])
    t = fresh_step()
    public_idp.verify_software_token(AccessToken=access, UserCode=totp.at(t - 30))
    public_idp.set_user_mfa_preference(AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    b = Browser(server)
    r = b.sign_in(cid, "mia")
    assert r.status_code == 200 and heading(r) == "Multi-factor authentication"
    code = soup(r).find("input", id="code")
    assert code["autocomplete"] == "one-time-code"
    wrong = f"{(int(totp.at(t)) + 1) % 1000000:06d}"
    r2 = b.submit(r, code=wrong)
    assert r2.status_code == 400 and alert(r2) == "Invalid code received for user"
    _, q = redirect_params(b.submit(r2, code=totp.at(t)))
    assert q["code"]
    idp.delete_user_pool(UserPoolId=pid)


def test_mfa_set_up_during_hosted_sign_in(server, idp):
    pid, cid = oauth_pool(idp)
    idp.set_user_pool_mfa_config(UserPoolId=pid, MfaConfiguration="ON",
                                 SoftwareTokenMfaConfiguration={"Enabled": True})
    make_user(idp, pid, "sam")
    b = Browser(server)
    r = b.sign_in(cid, "sam")
    assert r.status_code == 200 and heading(r) == "Set up multi-factor authentication"
    secret = soup(r).find(id="secret").get_text(strip=True)
    t = fresh_step()
    _, q = redirect_params(b.submit(r, code=pyotp.TOTP(secret).at(t)))
    assert q["code"]
    idp.delete_user_pool(UserPoolId=pid)


def test_email_mfa_code_from_the_outbox(server, idp):
    pid, cid = oauth_pool(idp)
    idp.set_user_pool_mfa_config(UserPoolId=pid, MfaConfiguration="OPTIONAL",
                                 EmailMfaConfiguration={"Message": "Code {####}", "Subject": "Code"})
    make_user(idp, pid, "emil")
    idp.admin_set_user_mfa_preference(UserPoolId=pid, Username="emil",
                                      EmailMfaSettings={"Enabled": True, "PreferredMfa": True})
    b = Browser(server)
    r = b.sign_in(cid, "emil")
    assert heading(r) == "Multi-factor authentication" and "by email" in soup(r).get_text()
    code = server.last_code("emil", "mfa_code")
    _, q = redirect_params(b.submit(r, code=code))
    assert q["code"]
    idp.delete_user_pool(UserPoolId=pid)


def test_sms_mfa_code_from_the_outbox(server, idp):
    pid, cid = oauth_pool(idp)
    idp.set_user_pool_mfa_config(UserPoolId=pid, MfaConfiguration="OPTIONAL",
                                 SmsMfaConfiguration={"SmsAuthenticationMessage": "Code {####}"})
    make_user(idp, pid, "sid", attrs=[{"Name": "phone_number", "Value": "+15555550123"},
                                      {"Name": "phone_number_verified", "Value": "true"}])
    idp.admin_set_user_mfa_preference(UserPoolId=pid, Username="sid",
                                      SMSMfaSettings={"Enabled": True, "PreferredMfa": True})
    b = Browser(server)
    r = b.sign_in(cid, "sid")
    assert heading(r) == "Multi-factor authentication" and "by text message to" in soup(r).get_text()
    _, q = redirect_params(b.submit(r, code=server.last_code("sid", "mfa_code")))
    assert q["code"]
    idp.delete_user_pool(UserPoolId=pid)


def test_the_user_chooses_among_several_mfa_factors(server, idp, public_idp):
    pid, cid = oauth_pool(idp)
    idp.set_user_pool_mfa_config(UserPoolId=pid, MfaConfiguration="OPTIONAL",
                                 SoftwareTokenMfaConfiguration={"Enabled": True},
                                 EmailMfaConfiguration={"Message": "Code {####}", "Subject": "Code"})
    make_user(idp, pid, "cho")
    access = public_idp.initiate_auth(ClientId=cid, AuthFlow="USER_PASSWORD_AUTH",
                                      AuthParameters={"USERNAME": "cho", "PASSWORD": PASSWORD})["AuthenticationResult"]["AccessToken"]
    totp = pyotp.TOTP(public_idp.associate_software_token(AccessToken=access)["SecretCode"])
    public_idp.verify_software_token(AccessToken=access, UserCode=totp.now())
    # Both factors on, neither preferred: the user is asked.
    idp.admin_set_user_mfa_preference(UserPoolId=pid, Username="cho",
                                      SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": False},
                                      EmailMfaSettings={"Enabled": True, "PreferredMfa": False})
    b = Browser(server)
    r = b.sign_in(cid, "cho")
    assert r.status_code == 200, r.text[:1500]
    radios = soup(r).find_all("input", attrs={"type": "radio"})
    assert {i["value"] for i in radios} == {"SOFTWARE_TOKEN_MFA", "EMAIL_OTP"}
    assert all(i.find_parent("label") for i in radios)
    r = b.submit(r, mfa_type="EMAIL_OTP")
    assert heading(r) == "Multi-factor authentication" and "by email" in soup(r).get_text()
    _, q = redirect_params(b.submit(r, code=server.last_code("cho", "mfa_code")))
    assert q["code"]
    idp.delete_user_pool(UserPoolId=pid)


def test_new_password_required_for_an_admin_created_user(server, idp, hosted):
    pid, cid = hosted["pool_id"], hosted["client_id"]
    idp.admin_create_user(UserPoolId=pid, Username="newbie", TemporaryPassword="Temp0rary-Pass!",
                          UserAttributes=[{"Name": "email", "Value": "newbie@example.com"}], MessageAction="SUPPRESS")
    b = Browser(server)
    r = b.sign_in(cid, "newbie", "Temp0rary-Pass!")
    assert r.status_code == 200 and heading(r) == "Change your password"
    page = soup(r)
    assert page.find("input", id="password")["autocomplete"] == "new-password"
    r2 = b.submit(r, password="N3w-Password!", confirm_password="Different-1!")
    assert alert(r2) == "The passwords do not match."
    r3 = b.submit(r2, password="short", confirm_password="short")
    assert alert(r3).startswith("Password did not conform with policy")
    _, q = redirect_params(b.submit(r3, password="N3w-Password!", confirm_password="N3w-Password!"))
    assert q["code"]
    assert idp.admin_get_user(UserPoolId=pid, Username="newbie")["UserStatus"] == "CONFIRMED"
    # The new password now signs in from a fresh browser.
    assert Browser(server).sign_in(cid, "newbie", "N3w-Password!").status_code == 302


# ---- sign-up, confirmation, password reset ----------------------------------------------------


@pytest.fixture
def email_pool(idp):
    pid, cid = oauth_pool(
        idp,
        UsernameAttributes=["email"],
        Schema=[{"Name": "given_name", "AttributeDataType": "String", "Required": True, "Mutable": True}],
        Policies={"PasswordPolicy": {"MinimumLength": 10, "RequireUppercase": True, "RequireLowercase": True,
                                     "RequireNumbers": True, "RequireSymbols": False}},
    )
    yield {"pool_id": pid, "client_id": cid}
    idp.delete_user_pool(UserPoolId=pid)


def test_sign_up_confirm_then_sign_in(server, idp, email_pool):
    cid = email_pool["client_id"]
    email = f"jo-{uuid.uuid4().hex[:6]}@example.com"
    b = Browser(server)
    r = b.authorize(cid)
    r = b.get(soup(r).find("a", string="Sign up")["href"])
    assert r.status_code == 200 and heading(r) == "Sign up"
    page = soup(r)
    assert page.find("label", attrs={"for": "username"}).get_text(strip=True) == "Email address"
    assert page.find("input", id="username")["type"] == "email"
    assert page.find("input", id="given_name")["autocomplete"] == "given-name"
    assert page.find("input", id="password")["autocomplete"] == "new-password"
    assert "At least 10 characters" in page.get_text()
    # Missing the required attribute, then a weak password.
    r2 = b.submit(r, username=email, password="Str0ngEnough", given_name="")
    assert alert(r2) == "Given name is required."
    r3 = b.submit(r2, username=email, password="weakpassword1", given_name="Jo")
    assert alert(r3) == "Password did not conform with policy: Password must have uppercase characters"
    assert soup(r3).find("input", id="given_name")["value"] == "Jo"
    r4 = b.submit(r3, username=email, password="Str0ngEnough", given_name="Jo")
    assert r4.status_code == 200 and heading(r4) == "Confirm your account", r4.text[:1500]
    assert info(r4).startswith("We have sent a code by email to")
    # A wrong code, then a new code, then the right one.
    r5 = b.submit(r4, action="/confirm", code="000000")
    assert alert(r5) == "Invalid verification code provided, please try again."
    first = code_to(server, email, "sign_up_code")
    r6 = b.submit(r5, action="/resendcode")
    assert info(r6).startswith("We have sent a code")
    code = code_to(server, email, "sign_up_code")
    assert soup(r6).find("input", id="username")["value"] == email
    r7 = b.submit(r6, action="/confirm", code=code)
    assert heading(r7) == "Sign in" and info(r7) == "Your account has been confirmed. Please sign in."
    assert soup(r7).find("input", id="username")["value"] == email
    _, q = redirect_params(b.submit(r7, username=email, password="Str0ngEnough"))
    assert q["code"]
    # Signing up again with the same email.
    r8 = b.submit(b.get(r.url), username=email, password="Str0ngEnough", given_name="Jo")
    assert alert(r8) == "An account with the given email already exists."
    assert len(first) == len(code) == 6


def test_an_unconfirmed_user_is_sent_to_the_confirm_page(server, idp, email_pool):
    cid = email_pool["client_id"]
    email = f"un-{uuid.uuid4().hex[:6]}@example.com"
    b = Browser(server)
    r = b.submit(b.get(f"/signup?client_id={cid}&response_type=code&redirect_uri={CALLBACK}"),
                 username=email, password="Str0ngEnough", given_name="Un")
    assert heading(r) == "Confirm your account"
    r = b.sign_in(cid, email, "Str0ngEnough")
    assert heading(r) == "Confirm your account" and "not confirmed" in alert(r)


def test_forgot_and_reset_password(server, hosted):
    cid = hosted["client_id"]
    b = Browser(server)
    r = b.get(f"/forgotPassword?client_id={cid}&response_type=code&redirect_uri={CALLBACK}")
    assert heading(r) == "Forgot your password?"
    r = b.submit(r, username="alice")
    assert heading(r) == "Reset your password" and info(r).startswith("We have sent a code by email to")
    code = server.last_code("alice", "forgot_password_code")
    r2 = b.submit(r, code=code, password="An0ther-Pass!", confirm_password="nope")
    assert alert(r2) == "The passwords do not match."
    r3 = b.submit(r2, code="000000", password="An0ther-Pass!", confirm_password="An0ther-Pass!")
    assert alert(r3) == "Invalid verification code provided, please try again."
    r4 = b.submit(r3, code=code, password="An0ther-Pass!", confirm_password="An0ther-Pass!")
    assert heading(r4) == "Sign in" and "password has been changed" in info(r4)
    assert alert(Browser(server).sign_in(cid, "alice", PASSWORD)) == "Incorrect username or password."
    assert Browser(server).sign_in(cid, "alice", "An0ther-Pass!").status_code == 302


def test_a_user_whose_password_was_reset_gets_the_reset_page(server, idp, hosted):
    cid = hosted["client_id"]
    idp.admin_reset_user_password(UserPoolId=hosted["pool_id"], Username="alice")
    b = Browser(server)
    r = b.sign_in(cid, "alice", PASSWORD)
    assert heading(r) == "Reset your password" and "must be reset" in info(r)
    code = server.last_code("alice", "forgot_password_code")
    r = b.submit(r, code=code, password="Fr3sh-Start!", confirm_password="Fr3sh-Start!")
    assert heading(r) == "Sign in"
    assert Browser(server).sign_in(cid, "alice", "Fr3sh-Start!").status_code == 302


def test_no_user_enumeration_when_the_client_prevents_it(server, hosted):
    cid = hosted["client_id"]
    b = Browser(server)
    q = f"client_id={cid}&response_type=code&redirect_uri={CALLBACK}"
    # Forgot password: an unknown user gets the same page as a real one.
    known = b.submit(b.get(f"/forgotPassword?{q}"), username="alice")
    unknown = b.submit(b.get(f"/forgotPassword?{q}"), username="nobody")
    assert known.status_code == unknown.status_code == 200
    assert heading(known) == heading(unknown) == "Reset your password"
    # Reset with a code: the same message for an unknown user as for a wrong code.
    r = b.submit(unknown, code="123456", password="An0ther-Pass!", confirm_password="An0ther-Pass!")
    assert alert(r) == "Invalid verification code provided, please try again."
    # Confirm: unknown user and already-confirmed user read like a wrong code.
    for who in ["nobody", "alice"]:
        r = b.submit(b.get(f"/confirm?{q}"), username=who, code="123456")
        assert alert(r) == "Invalid verification code provided, please try again.", who
        r = b.submit(r, action="/resendcode")
        assert r.status_code == 200 and info(r), who


def test_admin_only_pools_offer_no_sign_up(server, idp):
    pid, cid = oauth_pool(idp, AdminCreateUserConfig={"AllowAdminCreateUserOnly": True})
    b = Browser(server)
    r = b.authorize(cid)
    assert not soup(r).find("a", string="Sign up")
    r = b.get(f"/signup?client_id={cid}&response_type=code&redirect_uri={CALLBACK}")
    assert r.status_code == 403 and "not permitted" in alert(r)
    idp.delete_user_pool(UserPoolId=pid)


def test_confidential_clients_use_the_pages_without_a_secret_hash(server, idp, hosted):
    c = oauth_client(idp, hosted["pool_id"], name="backend", secret=True)
    b = Browser(server)
    _, q = redirect_params(b.sign_in(c["ClientId"], "alice"))
    assert q["code"]
    r = b.submit(b.get(f"/forgotPassword?client_id={c['ClientId']}&response_type=code&redirect_uri={CALLBACK}"),
                 username="alice")
    assert heading(r) == "Reset your password"


# ---- look ---------------------------------------------------------------------------------------

PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360f8cfc0f01f0005000201a5f7a1d40000000049454e44ae426082"
)


def test_the_clients_css_and_logo_style_its_pages(server, idp, hosted):
    pid, cid = hosted["pool_id"], hosted["client_id"]
    domain = f"look-{uuid.uuid4().hex[:10]}"
    idp.create_user_pool_domain(UserPoolId=pid, Domain=domain)
    try:
        idp.set_ui_customization(UserPoolId=pid, ClientId="ALL", CSS=".banner-customizable { color: #123456; }")
        b = Browser(server)
        r = b.authorize(cid)
        assert "#123456" in r.text and not soup(r).find("img")
        idp.set_ui_customization(UserPoolId=pid, ClientId=cid,
                                 CSS=".submitButton-customizable { background-color: #2d7d46; }", ImageFile=PNG_1x1)
        r = b.authorize(cid)
        page = soup(r)
        nonce = re.search(r"'nonce-([^']+)'", r.headers["Content-Security-Policy"]).group(1)
        styles = page.find_all("style")
        assert len(styles) == 2 and all(s["nonce"] == nonce for s in styles)
        assert "#2d7d46" in styles[1].get_text() and "#123456" not in r.text  # the client's own replaces ALL
        logo = page.find("img", class_="logo-customizable")
        assert logo and logo["alt"].endswith("logo")
        img = requests.get(logo["src"], timeout=10)
        assert img.status_code == 200 and img.content == PNG_1x1
    finally:
        idp.delete_user_pool_domain(UserPoolId=pid, Domain=domain)
