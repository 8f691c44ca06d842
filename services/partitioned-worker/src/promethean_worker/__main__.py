"""``promethean-worker`` / ``python -m promethean_worker``.

Started the way every service is: see `promethean.runtime.main`.
"""

from promethean.runtime.main import run_service


def main() -> None:
    run_service("promethean_worker")


if __name__ == "__main__":
    main()
