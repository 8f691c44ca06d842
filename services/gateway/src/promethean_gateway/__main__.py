"""``promethean-gateway`` / ``python -m promethean_gateway``.

Started the way every service is: see `promethean.runtime.main`.
"""

from promethean.runtime.main import run_service


def main() -> None:
    run_service("promethean_gateway")


if __name__ == "__main__":
    main()
