"""``promethean-broker`` / ``python -m promethean_broker``.

Started the way every service is: see `promethean.runtime.main`.
"""

from promethean.runtime.main import run_service


def main() -> None:
    run_service("promethean_broker")


if __name__ == "__main__":
    main()
