"""Headless Chromium through the hosted pages (tests/node/hosted_browser.test.mjs, playwright-core
driving Debian's chromium): sign up, confirm with the code from the outbox, sign in, land on the
callback with a code. Screenshots go to a temp dir; GATEHOUSE_UPDATE_SCREENSHOTS=1 writes them to
docs/hosted-ui/ instead (the ones committed there)."""
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from test_hosted_ui import CALLBACK, oauth_client

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tests" / "node"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def test_chromium_signs_up_confirms_and_signs_in(server, idp, tmp_path):
    if not (NODE_DIR / "node_modules" / "playwright-core").exists():
        pytest.fail("run `npm ci --prefix tests/node` first (scripts/test does)")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (scripts/test does)")
    node = shutil.which("node")
    assert node, "node is required"
    p = idp.create_user_pool(
        PoolName=f"browser-{uuid.uuid4().hex[:8]}",
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        Schema=[{"Name": "given_name", "AttributeDataType": "String", "Required": True, "Mutable": True}],
    )["UserPool"]
    client = oauth_client(idp, p["Id"], name="Pet Store", flows=["code"])
    shots = ROOT / "docs" / "hosted-ui" if os.environ.get("GATEHOUSE_UPDATE_SCREENSHOTS") == "1" else tmp_path / "shots"
    env = dict(os.environ)
    env.update({
        "GATEHOUSE_URL": server.url,
        "GATEHOUSE_CLIENT_ID": client["ClientId"],
        "GATEHOUSE_REDIRECT_URI": CALLBACK,
        "GATEHOUSE_OUTBOX": str(server.outbox_path),
        "GATEHOUSE_EMAIL": f"grace-{uuid.uuid4().hex[:6]}@example.com",
        "GATEHOUSE_PASSWORD": "Hopper-1906!",
        "GATEHOUSE_SCREENSHOTS": str(shots),
        "CHROMIUM": CHROMIUM,
    })
    try:
        out = subprocess.run([node, "--test", "--test-reporter=spec", "hosted_browser.test.mjs"], cwd=NODE_DIR,
                             env=env, capture_output=True, text=True, timeout=180)
        assert out.returncode == 0, f"node --test failed:\n{out.stdout}\n{out.stderr}"
        names = sorted(f.name for f in shots.glob("*.png"))
        assert names == ["1-sign-in.png", "2-sign-up.png", "3-confirm.png", "4-confirm-wrong-code.png",
                         "5-sign-in-error.png", "6-forgot-password-phone.png"], names
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])
