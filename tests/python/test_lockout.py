"""Brute-force protection: after 5 failed sign-ins a user is locked out ("Password attempts
exceeded") for a growing interval, whichever password flow is used; a correct password during a
lockout is refused too; a success resets the count. With PreventUserExistenceErrors ENABLED an
unknown username behaves exactly like a wrong password: same errors in the same order (lockout
included) and similar response times."""
import statistics
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import PASSWORD, make_user

FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
WRONG = "Wr0ng-Password!"
INCORRECT = ("NotAuthorizedException", "Incorrect username or password.")
EXCEEDED = ("NotAuthorizedException", "Password attempts exceeded")


def new_pool(idp, prevent="ENABLED"):
    p = idp.create_user_pool(PoolName=f"lo-{uuid.uuid4().hex[:8]}")["UserPool"]
    c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="app", ExplicitAuthFlows=FLOWS,
                                    PreventUserExistenceErrors=prevent)["UserPoolClient"]
    return p["Id"], c["ClientId"]


def attempt(public_idp, cid, username, password):
    """(code, message) of a sign-in, or ("OK", "") when it succeeded."""
    try:
        public_idp.initiate_auth(ClientId=cid, AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": username, "PASSWORD": password})
        return ("OK", "")
    except ClientError as e:
        err = e.response["Error"]
        return (err["Code"], err.get("Message", ""))


def admin_attempt(idp, pid, cid, username, password):
    try:
        idp.admin_initiate_auth(UserPoolId=pid, ClientId=cid, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                AuthParameters={"USERNAME": username, "PASSWORD": password})
        return ("OK", "")
    except ClientError as e:
        err = e.response["Error"]
        return (err["Code"], err.get("Message", ""))


def wait_unlocked(public_idp, cid, username, started, limit):
    """Polls with a wrong password until it is judged again (the lockout ended); returns how
    long after `started` that was. Attempts during the lockout do not count as failures."""
    while True:
        r = attempt(public_idp, cid, username, WRONG)
        if r == INCORRECT:
            return time.monotonic() - started
        assert r == EXCEEDED
        assert time.monotonic() - started < limit, "lockout did not end"
        time.sleep(0.1)


def test_five_failures_lock_out_with_a_growing_interval(idp, public_idp):
    pid, cid = new_pool(idp)
    make_user(idp, pid, "olga")
    make_user(idp, pid, "pete")
    for _ in range(5):
        assert attempt(public_idp, cid, "olga", WRONG) == INCORRECT
    t0 = time.monotonic()
    assert attempt(public_idp, cid, "olga", WRONG) == EXCEEDED
    # The right password is refused during a lockout too, and the admin flow shares the count.
    assert attempt(public_idp, cid, "olga", PASSWORD) == EXCEEDED
    assert admin_attempt(idp, pid, cid, "olga", PASSWORD) == EXCEEDED
    # Other users are not affected.
    assert attempt(public_idp, cid, "pete", PASSWORD) == ("OK", "")

    # 2^(n-5) seconds: 1 s after the 5th failure, 2 s after the 6th, 4 s after the 7th (the
    # server clock has one-second resolution, so each lasts up to a second longer).
    t1 = wait_unlocked(public_idp, cid, "olga", t0, 10)          # 6th failure
    t2 = wait_unlocked(public_idp, cid, "olga", time.monotonic(), 10)  # 7th failure
    started = time.monotonic()
    assert attempt(public_idp, cid, "olga", PASSWORD) == EXCEEDED
    t3 = wait_unlocked(public_idp, cid, "olga", started, 15)     # 8th failure
    assert 0.5 <= t1 <= 3.0, t1
    assert 1.5 <= t2 <= 4.0, t2
    assert 3.5 <= t3 <= 6.5, t3
    assert t3 > t1 + 1.5

    # After the lockout (8 failures: 8 s now) the correct password works and resets the count.
    started = time.monotonic()
    while attempt(public_idp, cid, "olga", PASSWORD) != ("OK", ""):
        assert time.monotonic() - started < 15
        time.sleep(0.2)
    for _ in range(4):
        assert attempt(public_idp, cid, "olga", WRONG) == INCORRECT
    assert attempt(public_idp, cid, "olga", PASSWORD) == ("OK", "")


def test_admin_flow_counts_failures(idp, public_idp):
    pid, cid = new_pool(idp)
    make_user(idp, pid, "quin")
    for _ in range(3):
        assert admin_attempt(idp, pid, cid, "quin", WRONG) == INCORRECT
    for _ in range(2):
        assert attempt(public_idp, cid, "quin", WRONG) == INCORRECT
    assert admin_attempt(idp, pid, cid, "quin", PASSWORD) == EXCEEDED
    assert attempt(public_idp, cid, "quin", PASSWORD) == EXCEEDED


def test_unknown_user_is_indistinguishable(idp, public_idp):
    pid, cid = new_pool(idp, "ENABLED")
    make_user(idp, pid, "rosa")
    real = [attempt(public_idp, cid, "rosa", WRONG) for _ in range(7)]
    name = "ghost-" + uuid.uuid4().hex[:6]
    ghost = [attempt(public_idp, cid, name, WRONG) for _ in range(7)]
    assert real == ghost == [INCORRECT] * 5 + [EXCEEDED] * 2
    # Nor does another spelling (this pool compares usernames case-sensitively).
    assert attempt(public_idp, cid, name.upper(), WRONG) == attempt(public_idp, cid, "ROSA", WRONG)


def test_unknown_user_timing_is_similar(idp, public_idp):
    """Unknown users cost the same hashing work as a wrong password. Medians over 10 tries
    each, interleaved so machine noise hits both alike; a generous bound (2x) for a noisy
    2-core machine, where skipping the hash would be ~10-50x faster."""
    pid, cid = new_pool(idp, "ENABLED")
    users = [f"timing{i}" for i in range(4)]
    for u in users:
        make_user(idp, pid, u)
    attempt(public_idp, cid, "warmup", WRONG)
    real, ghost = [], []
    for i in range(10):
        for bucket, name in ((real, users[i % 4]), (ghost, "nobody-" + uuid.uuid4().hex[:8])):
            t = time.perf_counter()
            assert attempt(public_idp, cid, name, WRONG) == INCORRECT
            bucket.append(time.perf_counter() - t)
    mr, mg = statistics.median(real), statistics.median(ghost)
    assert mg / mr < 2.0 and mr / mg < 2.0, (mr, mg)
    # And the locked-out path really is cheap compared with a hash (it does no hashing).
    for _ in range(3):
        attempt(public_idp, cid, users[0], WRONG)
    locked = []
    for _ in range(5):
        t = time.perf_counter()
        assert attempt(public_idp, cid, users[0], WRONG) == EXCEEDED
        locked.append(time.perf_counter() - t)
    assert statistics.median(locked) < mr


def test_legacy_clients_report_unknown_users(idp, public_idp):
    pid, cid = new_pool(idp, "LEGACY")
    for _ in range(7):
        code, _ = attempt(public_idp, cid, "nobody-here", WRONG)
        assert code == "UserNotFoundException"
