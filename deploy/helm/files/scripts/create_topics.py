"""The declarative topics Job: create or update every topic of the chart's
`topics` value through the broker's admin API (POST /topics), retrying
while the broker is not ready. Exits non-zero when a topic is refused."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request

PAUSE_S = 3.0
RETRY_STATUSES = frozenset({429, 502, 503, 504})


def post(url: str, token: str, topic: dict[str, object]) -> tuple[int, str]:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"BROKER_ADMIN_URL must be http(s)://, not {url!r}")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        f"{url}/topics",
        data=json.dumps(topic).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def main() -> int:
    url = os.environ["BROKER_ADMIN_URL"].rstrip("/")
    token = os.environ["PROMETHEAN_BROKER_TOKEN"]
    deadline = time.monotonic() + float(os.environ.get("TOPICS_TIMEOUT_S", "600"))
    with open(os.environ["TOPICS_FILE"], encoding="utf-8") as file:
        topics = json.load(file)
    for topic in topics:
        attempt = 0
        while True:
            attempt += 1
            try:
                status, body = post(url, token, topic)
            except OSError as exc:
                status, body = 0, str(exc)
            if status in (200, 201):
                verb = "created" if status == 201 else "updated"
                print(f"topic {topic['name']}: {verb}", flush=True)
                break
            if (status == 0 or status in RETRY_STATUSES) and time.monotonic() < deadline:
                print(
                    f"topic {topic['name']}: broker not ready ({status or body}), attempt {attempt}"
                )
                time.sleep(PAUSE_S)
                continue
            print(f"topic {topic['name']}: refused with {status}: {body}", file=sys.stderr)
            return 1
    print(f"{len(topics)} topics in place")
    return 0


if __name__ == "__main__":
    sys.exit(main())
