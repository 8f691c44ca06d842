"""Pin a release's images by digest: write the registry, the version tag
and each service image's digest into deploy/helm/values.yaml (and turn
`image.requireDigest` on), the version into deploy/helm/Chart.yaml, and a
"Release images" table into VERSION_MATRIX.md. The release workflow runs it
after pushing the images and opens a pull request with the result.

    python scripts/release_pin.py --version 0.2.0 --registry ghcr.io/org \\
        --digest broker=sha256:... --digest gateway=sha256:... (all five)
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
SERVICES: Final = {
    "broker": "broker",
    "gateway": "gateway",
    "outbox-drainer": "outboxDrainer",
    "compactor": "compactor",
    "partitioned-worker": "worker",
}
DIGEST_RE: Final = re.compile(r"^sha256:[0-9a-f]{64}$")
VERSION_RE: Final = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$")
SECTION: Final = "## Release images"


class PinError(ValueError):
    """A digest, version or file that cannot be pinned."""


def _set_in_block(lines: list[str], start: int, indent: int, key: str, value: str) -> int:
    """Set ``key: value`` among the keys of the block opened at ``start``
    (children indented by ``indent``); returns the line index it is on."""
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if line.strip() and not line.startswith(" " * indent):
            break
        if re.match(rf"^ {{{indent}}}{re.escape(key)}:", line):
            lines[index] = f"{' ' * indent}{key}: {value}"
            return index
    raise PinError(f"no `{key}` under line {start + 1}")


def _block(lines: list[str], start: int, indent: int, key: str) -> int:
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if line.strip() and not line.startswith(" " * indent) and indent:
            break
        if re.match(rf"^ {{{indent}}}{re.escape(key)}:\s*$", line):
            return index
    raise PinError(f"no `{key}:` block after line {start + 1}")


def pin_values(text: str, registry: str, version: str, digests: dict[str, str]) -> str:
    lines = text.split("\n")
    image = _block(lines, -1, 0, "image")
    _set_in_block(lines, image, 2, "registry", registry)
    _set_in_block(lines, image, 2, "requireDigest", "true")
    for service, key in SERVICES.items():
        section = _block(lines, -1, 0, key)
        service_image = _block(lines, section, 2, "image")
        _set_in_block(lines, service_image, 4, "repository", service)
        _set_in_block(lines, service_image, 4, "tag", f'"{version}"')
        _set_in_block(lines, service_image, 4, "digest", digests[service])
    return "\n".join(lines)


def pin_chart(text: str, version: str) -> str:
    text = re.sub(r"(?m)^version: .*$", f"version: {version}", text)
    return re.sub(r"(?m)^appVersion: .*$", f'appVersion: "{version}"', text)


def pin_matrix(text: str, registry: str, version: str, digests: dict[str, str]) -> str:
    rows = "\n".join(
        f"| `{registry}/{service}` | `{version}` | `{digests[service]}` |" for service in SERVICES
    )
    section = (
        f"{SECTION}\n\n"
        "The images `.github/workflows/release.yml` published for this version\n"
        "(linux/amd64 and linux/arm64, SBOM and provenance attached, signed keyless\n"
        "with cosign); `deploy/helm/values.yaml` pins the same digests.\n\n"
        "| Image | Tag | Digest |\n|---|---|---|\n"
        f"{rows}\n"
    )
    if SECTION in text:
        before, _, after = text.partition(SECTION)
        rest = after.split("\n## ", 1)
        tail = f"\n## {rest[1]}" if len(rest) == 2 else ""
        return before + section + tail
    return text.rstrip("\n") + "\n\n" + section


def parse_digests(items: Sequence[str]) -> dict[str, str]:
    digests: dict[str, str] = {}
    for item in items:
        service, _, digest = item.partition("=")
        if service not in SERVICES:
            raise PinError(f"unknown service {service!r} (one of {', '.join(SERVICES)})")
        if not DIGEST_RE.fullmatch(digest):
            raise PinError(f"{service}: {digest!r} is not sha256:<64 hex>")
        digests[service] = digest
    missing = sorted(set(SERVICES) - set(digests))
    if missing:
        raise PinError(f"no digest for {', '.join(missing)}")
    return digests


def main(argv: Sequence[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", required=True)
    parser.add_argument("--registry", required=True, help="e.g. ghcr.io/<owner>")
    parser.add_argument("--digest", action="append", default=[], help="<service>=sha256:<hex>")
    args = parser.parse_args(argv)
    try:
        if not VERSION_RE.fullmatch(args.version):
            raise PinError(f"{args.version!r} is not a semantic version")
        digests = parse_digests(args.digest)
        values = root / "deploy" / "helm" / "values.yaml"
        chart = root / "deploy" / "helm" / "Chart.yaml"
        matrix = root / "VERSION_MATRIX.md"
        pinned_values = pin_values(values.read_text(), args.registry, args.version, digests)
        pinned_chart = pin_chart(chart.read_text(), args.version)
        pinned_matrix = pin_matrix(matrix.read_text(), args.registry, args.version, digests)
    except PinError as exc:
        print(f"release_pin: {exc}", file=sys.stderr)
        return 2
    values.write_text(pinned_values)
    chart.write_text(pinned_chart)
    matrix.write_text(pinned_matrix)
    print(f"pinned {len(digests)} images of {args.version} from {args.registry}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
