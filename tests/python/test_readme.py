"""The README's tutorial block, run as written (bash, the aws CLI, curl) against a fresh server
started the way the README's first command starts one: the documentation cannot drift from what
works."""
import os
import re
import subprocess
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def tutorial_script():
    text = README.read_text()
    section = text.split("## The tutorial with the aws CLI", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert blocks, "no ```sh block in the README's tutorial section"
    return "\n".join(blocks)


def test_readme_tutorial_runs_as_written(fresh_server):
    server = fresh_server(extra_env={"GATEHOUSE_ADMIN_ACCESS_KEY_ID": "AKIDLOCAL",
                                     "GATEHOUSE_ADMIN_SECRET_ACCESS_KEY": "localsecret"})
    script = (tutorial_script()
              .replace("127.0.0.1:9229", f"127.0.0.1:{server.port}")
              .replace("localhost:8080", f"localhost:{server.gateway_port}")
              .replace("gatehouse-data/outbox.jsonl", str(server.outbox_path)))
    env = {**os.environ, "AWS_PAGER": "", "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"stdout:\n{out.stdout[-3000:]}\nstderr:\n{out.stderr[-3000:]}"
    lines = out.stdout.splitlines()
    assert "no token: 401" in lines
    assert any(l.endswith(" with a token: 200") and '"ok"' in l for l in lines), out.stdout[-2000:]
    assert "missing scope: 403" in lines
    assert "REST, no token: 401" in lines
    assert any(l.endswith(" REST, ID token: 200") for l in lines), out.stdout[-2000:]
