"""Messages end to end: verification codes, temporary passwords and reset codes in the outbox
file (its record shape, message templates, SMS masking), or by SMTP to a local aiosmtpd sink;
codes that expire and are single use."""
import email
import re
import socket
import time
import uuid
from datetime import datetime

import pytest
from aiosmtpd.controller import Controller
from botocore.exceptions import ClientError

from conftest import PASSWORD, make_user

FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
FIELDS = {"time", "poolId", "username", "channel", "destination", "kind", "code", "subject", "body"}


def error_of(call, *args, **kw):
    with pytest.raises(ClientError) as e:
        call(*args, **kw)
    err = e.value.response["Error"]
    return err["Code"], err.get("Message", "")


def new_pool(idp, **kw):
    p = idp.create_user_pool(PoolName=f"m-{uuid.uuid4().hex[:8]}", **kw)["UserPool"]
    c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="app", ExplicitAuthFlows=FLOWS)["UserPoolClient"]
    return p["Id"], c["ClientId"]


def sign_in(public_idp, cid, username, password=PASSWORD):
    return public_idp.initiate_auth(ClientId=cid, AuthFlow="USER_PASSWORD_AUTH",
                                    AuthParameters={"USERNAME": username, "PASSWORD": password})


def code_expiries(server, pool_id):
    return dict(server.sql("SELECT purpose, expires FROM one_time_codes WHERE pool_id = ?", (pool_id,)))


def age_codes(server, pool_id, seconds):
    server.sql("UPDATE one_time_codes SET expires = expires - ? WHERE pool_id = ?", (seconds, pool_id))


def messages_for(server, pool_id, username=None):
    return [m for m in server.outbox() if m["poolId"] == pool_id and (username is None or m["username"] == username)]


def test_outbox_records_every_kind(server, idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    public_idp.sign_up(ClientId=cid, Username="ava", Password=PASSWORD,
                       UserAttributes=[{"Name": "email", "Value": "ava@example.com"}])
    public_idp.confirm_sign_up(ClientId=cid, Username="ava", ConfirmationCode=server.last_code("ava", "sign_up_code"))
    public_idp.forgot_password(ClientId=cid, Username="ava")
    idp.admin_create_user(UserPoolId=pid, Username="bo", UserAttributes=[{"Name": "email", "Value": "bo@example.com"}])
    access = sign_in(public_idp, cid, "ava")["AuthenticationResult"]["AccessToken"]
    public_idp.update_user_attributes(AccessToken=access, UserAttributes=[{"Name": "email", "Value": "ava2@example.com"}])

    msgs = messages_for(server, pid)
    assert [m["kind"] for m in msgs] == ["sign_up_code", "forgot_password_code", "temporary_password", "verify_attribute_code"]
    for m in msgs:
        assert set(m) == FIELDS, m
        assert m["channel"] == "email" and m["poolId"] == pid
        assert m["code"] in m["body"] and m["subject"]
        datetime.fromisoformat(m["time"].replace("Z", "+00:00"))
        if m["kind"] != "temporary_password":
            assert re.fullmatch(r"\d{6}", m["code"]), m
    assert [m["destination"] for m in msgs] == ["ava@example.com", "ava@example.com", "bo@example.com", "ava2@example.com"]
    assert [m["username"] for m in msgs] == ["ava", "ava", "bo", "ava"]
    # The temporary password satisfies the pool's policy: it signs in (to the challenge).
    temp = msgs[2]["code"]
    assert sign_in(public_idp, cid, "bo", temp)["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert "bo" in msgs[2]["body"]


def test_message_templates(server, idp, public_idp):
    pid, cid = new_pool(
        idp, AutoVerifiedAttributes=["email"],
        VerificationMessageTemplate={"DefaultEmailOption": "CONFIRM_WITH_CODE",
                                     "EmailMessage": "Your Acme code: {####}", "EmailSubject": "Acme verification"},
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": False, "InviteMessageTemplate": {
            "EmailMessage": "Welcome {username}, your password is {####}", "EmailSubject": "Welcome to Acme"}},
    )
    public_idp.sign_up(ClientId=cid, Username="cy", Password=PASSWORD,
                       UserAttributes=[{"Name": "email", "Value": "cy@example.com"}])
    idp.admin_create_user(UserPoolId=pid, Username="di", UserAttributes=[{"Name": "email", "Value": "di@example.com"}])
    signup, invite = messages_for(server, pid)
    assert signup["subject"] == "Acme verification" and signup["body"] == f"Your Acme code: {signup['code']}"
    assert invite["subject"] == "Welcome to Acme"
    assert invite["body"] == f"Welcome di, your password is {invite['code']}"


def test_legacy_verification_members_and_sms_templates(server, idp, public_idp):
    """EmailVerificationMessage/Subject and SmsVerificationMessage apply when the
    VerificationMessageTemplate leaves them out, as on AWS."""
    pid, cid = new_pool(
        idp, AutoVerifiedAttributes=["email"],
        EmailVerificationMessage="Legacy code {####}", EmailVerificationSubject="Legacy subject",
        SmsVerificationMessage="SMS code {####}",
    )
    public_idp.sign_up(ClientId=cid, Username="gil", Password=PASSWORD,
                       UserAttributes=[{"Name": "email", "Value": "gil@example.com"}])
    m = messages_for(server, pid, "gil")[-1]
    assert m["subject"] == "Legacy subject" and m["body"] == f"Legacy code {m['code']}"
    idp.admin_create_user(UserPoolId=pid, Username="hal", DesiredDeliveryMediums=["SMS"],
                          UserAttributes=[{"Name": "phone_number", "Value": "+14155550142"}])
    m = messages_for(server, pid, "hal")[-1]
    assert m["body"] == f"Your username is hal and temporary password is {m['code']}."


def test_sms_goes_to_the_outbox_masked(server, idp, public_idp):
    pid, cid = new_pool(idp, AutoVerifiedAttributes=["phone_number"])
    out = public_idp.sign_up(ClientId=cid, Username="ed", Password=PASSWORD,
                             UserAttributes=[{"Name": "phone_number", "Value": "+14155550123"}])
    assert out["CodeDeliveryDetails"] == {"Destination": "+*******0123", "DeliveryMedium": "SMS",
                                          "AttributeName": "phone_number"}
    m = messages_for(server, pid, "ed")[-1]
    assert m["channel"] == "sms" and m["destination"] == "+14155550123" and m["kind"] == "sign_up_code"
    public_idp.confirm_sign_up(ClientId=cid, Username="ed", ConfirmationCode=m["code"])
    attrs = {a["Name"]: a["Value"] for a in idp.admin_get_user(UserPoolId=pid, Username="ed")["UserAttributes"]}
    assert attrs["phone_number_verified"] == "true"
    # Temporary passwords by SMS when asked for.
    idp.admin_create_user(UserPoolId=pid, Username="flo", DesiredDeliveryMediums=["SMS"],
                          UserAttributes=[{"Name": "phone_number", "Value": "+14155550199"}])
    m = messages_for(server, pid, "flo")[-1]
    assert m["channel"] == "sms" and m["kind"] == "temporary_password"


def test_codes_are_single_use(server, idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    make_user(idp, pid, "gil")
    public_idp.forgot_password(ClientId=cid, Username="gil")
    code = server.last_code("gil", "forgot_password_code")
    public_idp.confirm_forgot_password(ClientId=cid, Username="gil", ConfirmationCode=code, Password="Reset-Pass1!")
    assert error_of(public_idp.confirm_forgot_password, ClientId=cid, Username="gil", ConfirmationCode=code,
                    Password="Reset-Pass2!") == ("ExpiredCodeException", "Invalid code provided, please request a code again.")
    assert sign_in(public_idp, cid, "gil", "Reset-Pass1!")["AuthenticationResult"]

    # A new ForgotPassword replaces the previous code.
    public_idp.forgot_password(ClientId=cid, Username="gil")
    old = server.last_code("gil", "forgot_password_code")
    public_idp.forgot_password(ClientId=cid, Username="gil")
    new = server.last_code("gil", "forgot_password_code")
    if old != new:
        assert error_of(public_idp.confirm_forgot_password, ClientId=cid, Username="gil", ConfirmationCode=old,
                        Password="Reset-Pass3!")[0] == "CodeMismatchException"
    public_idp.confirm_forgot_password(ClientId=cid, Username="gil", ConfirmationCode=new, Password="Reset-Pass3!")


def test_codes_expire(server, idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    now = int(time.time())
    public_idp.sign_up(ClientId=cid, Username="hal", Password=PASSWORD,
                       UserAttributes=[{"Name": "email", "Value": "hal@example.com"}])
    make_user(idp, pid, "ivy")
    public_idp.forgot_password(ClientId=cid, Username="ivy")
    access = sign_in(public_idp, cid, "ivy")["AuthenticationResult"]["AccessToken"]
    public_idp.get_user_attribute_verification_code(AccessToken=access, AttributeName="email")

    # Sign-up and verification codes live 24 hours, reset codes 1 hour (as on AWS).
    exp = code_expiries(server, pid)
    assert abs(exp["signup"] - now - 86400) < 60
    assert abs(exp["forgot_password"] - now - 3600) < 60
    assert abs(exp["verify:email"] - now - 86400) < 60

    age_codes(server, pid, 86400 + 1)
    expired = ("ExpiredCodeException", "Invalid code provided, please request a code again.")
    assert error_of(public_idp.confirm_sign_up, ClientId=cid, Username="hal",
                    ConfirmationCode=server.last_code("hal", "sign_up_code")) == expired
    assert error_of(public_idp.confirm_forgot_password, ClientId=cid, Username="ivy", Password="Reset-Pass1!",
                    ConfirmationCode=server.last_code("ivy", "forgot_password_code")) == expired
    assert error_of(public_idp.verify_user_attribute, AccessToken=access, AttributeName="email",
                    Code=server.last_code("ivy", "verify_attribute_code")) == expired
    # A fresh code works.
    public_idp.resend_confirmation_code(ClientId=cid, Username="hal")
    public_idp.confirm_sign_up(ClientId=cid, Username="hal", ConfirmationCode=server.last_code("hal", "sign_up_code"))


def test_wrong_codes_are_limited(server, idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    make_user(idp, pid, "jo")
    public_idp.forgot_password(ClientId=cid, Username="jo")
    code = server.last_code("jo", "forgot_password_code")
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    for _ in range(5):
        assert error_of(public_idp.confirm_forgot_password, ClientId=cid, Username="jo", ConfirmationCode=wrong,
                        Password="Reset-Pass1!") == ("CodeMismatchException", "Invalid verification code provided, please try again.")
    assert error_of(public_idp.confirm_forgot_password, ClientId=cid, Username="jo", ConfirmationCode=code,
                    Password="Reset-Pass1!") == ("LimitExceededException", "Attempt limit exceeded, please try after some time.")
    assert sign_in(public_idp, cid, "jo")["AuthenticationResult"]


class Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 OK"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_sink():
    sink = Sink()
    ctl = Controller(sink, hostname="127.0.0.1", port=free_port())
    ctl.start()
    yield ctl.port, sink
    ctl.stop()


def body_of(msg):
    if msg.is_multipart():
        return "".join(p.get_payload(decode=True).decode() for p in msg.walk() if not p.is_multipart())
    return msg.get_payload(decode=True).decode()


def test_smtp_delivery(fresh_server, smtp_sink):
    port, sink = smtp_sink
    srv = fresh_server(extra_args=["--smtp-url", f"smtp://127.0.0.1:{port}", "--smtp-from", "auth@acme.test"])
    idp, public_idp = srv.client(), srv.client(signed=False)
    pid, cid = new_pool(idp, AutoVerifiedAttributes=["email"])

    public_idp.sign_up(ClientId=cid, Username="kai", Password=PASSWORD,
                       UserAttributes=[{"Name": "email", "Value": "kai@example.com"}])
    assert len(sink.messages) == 1
    mail_from, rcpt, msg = sink.messages[0]
    assert mail_from == "auth@acme.test" and rcpt == ["kai@example.com"]
    assert msg["To"] == "kai@example.com" and msg["Subject"] == "Your verification code"
    code = re.search(r"\b(\d{6})\b", body_of(msg)).group(1)
    public_idp.confirm_sign_up(ClientId=cid, Username="kai", ConfirmationCode=code)
    # Email went by SMTP, not to the outbox.
    assert not [m for m in srv.outbox() if m["channel"] == "email"]

    idp.admin_create_user(UserPoolId=pid, Username="lia", UserAttributes=[{"Name": "email", "Value": "lia@example.com"}])
    _, rcpt, msg = sink.messages[-1]
    assert rcpt == ["lia@example.com"] and msg["Subject"] == "Your temporary password"
    body = body_of(msg)
    assert "lia" in body
    temp = re.search(r"temporary password is (\S+?)\.?$", body.strip()).group(1)
    assert sign_in(public_idp, cid, "lia", temp)["ChallengeName"] == "NEW_PASSWORD_REQUIRED"

    public_idp.forgot_password(ClientId=cid, Username="kai")
    code = re.search(r"\b(\d{6})\b", body_of(sink.messages[-1][2])).group(1)
    public_idp.confirm_forgot_password(ClientId=cid, Username="kai", ConfirmationCode=code, Password="Reset-Pass1!")
    assert sign_in(public_idp, cid, "kai", "Reset-Pass1!")["AuthenticationResult"]
    # Neither codes nor passwords reach the log.
    log = srv.logs()
    assert temp not in log and code not in log


def test_smtp_unreachable_is_a_delivery_failure(fresh_server):
    srv = fresh_server(extra_args=["--smtp-url", f"smtp://127.0.0.1:{free_port()}"])
    idp, public_idp = srv.client(), srv.client(signed=False)
    pid, cid = new_pool(idp, AutoVerifiedAttributes=["email"])
    make_user(idp, pid, "max")
    code, _ = error_of(public_idp.forgot_password, ClientId=cid, Username="max")
    assert code == "CodeDeliveryFailureException"
