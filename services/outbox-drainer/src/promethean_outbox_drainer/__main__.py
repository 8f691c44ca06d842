"""``promethean-outbox-drainer`` / ``python -m promethean_outbox_drainer``.

Started the way every service is: see `promethean.runtime.main`.
"""

from promethean.runtime.main import run_service


def main() -> None:
    run_service("promethean_outbox_drainer")


if __name__ == "__main__":
    main()
