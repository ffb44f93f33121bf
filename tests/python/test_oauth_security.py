"""The hosted pages and OAuth endpoints as an attacker sees them: what a page says must not tell
who has an account when the client's PreventUserExistenceErrors is ENABLED, whatever the state
of the account (confirmed, never asked for a code, out of attempts) or the password typed."""
import re

import pytest

from conftest import make_user
from test_hosted_ui import CALLBACK, Browser, alert, info, oauth_pool


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
