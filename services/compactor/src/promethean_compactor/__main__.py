"""``promethean-compactor`` / ``python -m promethean_compactor``.

Started the way every service is: see `promethean.runtime.main`.
"""

from promethean.runtime.main import run_service


def main() -> None:
    run_service("promethean_compactor")


if __name__ == "__main__":
    main()
