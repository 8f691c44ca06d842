"""Init container of every pod that reads the store: wait until the
MongoDB URL in MONGO_URL reaches a writable primary and accepts the
application user, logging one line per attempt, so a pod whose replica set
is still starting waits here instead of crash-looping."""

from __future__ import annotations

import os
import sys
import time

from pymongo import MongoClient
from pymongo.errors import PyMongoError

PAUSE_S = 2.0


def main() -> int:
    url = os.environ["MONGO_URL"]
    database = os.environ.get("MONGO_DB", "promethean")
    attempt = 0
    while True:
        attempt += 1
        client: MongoClient[dict[str, object]] = MongoClient(
            url, serverSelectionTimeoutMS=5000, connectTimeoutMS=5000
        )
        try:
            client[database].command("ping")
            print(f"MongoDB is ready (attempt {attempt}): primary reachable, user accepted")
            return 0
        except PyMongoError as exc:
            reason = str(exc).splitlines()[0][:200]
            print(f"waiting for MongoDB (attempt {attempt}): {reason}", flush=True)
        finally:
            client.close()
        time.sleep(PAUSE_S)


if __name__ == "__main__":
    sys.exit(main())
