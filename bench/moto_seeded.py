"""Start moto's own server (the code behind `moto_server -p PORT`) after bulk-loading users.

Creating 100 000 users through moto's HTTP API runs at about 600 users/s on a 2-core machine
(about three minutes), so the bulk users are created in-process with the very backend call the
AdminCreateUser API handler makes (`CognitoIdpBackend.admin_create_user`), and then the
unmodified `moto.server.main` serves them. Everything else (app client, the benchmark user,
its tokens) is done by the driver through the API, as for the other servers.

usage: python moto_seeded.py SPEC.json PORT
SPEC.json: {"region": "us-east-1", "account": "123456789012",
            "pools": [{"name": "...", "count": N, "someone_index": K}, ...]}
The users are the ones bench.py's `bulk_users` makes: user000000 … with user<i>@example.com,
except index K, which is `someone` / someone@example.com. Pool ids go to SPEC.json.ids.json.
"""

import json
import sys
import time


def main() -> None:
    spec_path, port = sys.argv[1], sys.argv[2]
    with open(spec_path) as f:
        spec = json.load(f)

    from moto.cognitoidp.models import cognitoidp_backends

    backend = cognitoidp_backends[spec["account"]][spec["region"]]
    ids = {}
    started = time.monotonic()
    for pool in spec["pools"]:
        user_pool = backend.create_user_pool(pool["name"], {})
        ids[pool["name"]] = user_pool.id
        for i in range(pool["count"]):
            if i == pool["someone_index"]:
                username, email = "someone", "someone@example.com"
            else:
                username, email = f"user{i:06d}", f"user{i:06d}@example.com"
            backend.admin_create_user(
                user_pool.id,
                username,
                "SUPPRESS",
                None,
                [
                    {"Name": "email", "Value": email},
                    {"Name": "email_verified", "Value": "true"},
                ],
            )
    with open(sys.argv[1] + ".ids.json", "w") as f:
        json.dump(ids, f)
    print(f"moto_seeded: bulk users loaded in {time.monotonic() - started:.1f}s", flush=True)

    from moto.server import main as moto_server_main

    moto_server_main(["-p", port, "-H", "127.0.0.1"])


if __name__ == "__main__":
    main()
