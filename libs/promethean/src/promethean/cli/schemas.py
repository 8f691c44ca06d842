"""``promethean schemas register|get|list|check|config`` and ``promethean
asyncapi``: the broker's schema registry (Confluent-compatible REST API)
from the command line.

The broker is ``--broker`` (a ``ws://`` or ``http://`` URL), else
``BUS_URL``, else the local broker; the bearer token is
``PROMETHEAN_BROKER_TOKEN``. A refusal prints one line with Confluent's
error code and exits 1; ``check`` also exits 1 when the schema is
incompatible.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import aiohttp
import msgspec

from promethean.cli.commands import Command, CommandGroup
from promethean.cli.output import add_output_option, wants_json
from promethean.client.admin import admin_base_url
from promethean.schemas.modes import Compatibility
from promethean.settings import DEFAULT_BUS_PORT

DEFAULT_BROKER: Final = f"ws://127.0.0.1:{DEFAULT_BUS_PORT}/ws"
CONTENT_TYPE: Final = "application/vnd.schemaregistry.v1+json"
TIMEOUT_S: Final = 30.0
EXIT_FAILED: Final = 1


class RegistryRefusalError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        if isinstance(body, dict) and "message" in body:
            text = f"{body['message']} (error_code {body.get('error_code')})"
        else:
            text = f"broker answered {status}: {body}"
        super().__init__(text)


class RegistryClient:
    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Accept": CONTENT_TYPE}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else msgspec.json.encode(body)
        headers = dict(self._headers)
        if data is not None:
            headers["Content-Type"] = CONTENT_TYPE
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as session,
            session.request(method, self.base_url + path, data=data, headers=headers) as reply,
        ):
            text = await reply.text()
            try:
                decoded = json.loads(text)
            except ValueError:
                decoded = text
            if reply.status >= 400:
                raise RegistryRefusalError(reply.status, decoded)
            return decoded


def _client(args: argparse.Namespace) -> RegistryClient:
    url = args.broker or os.environ.get("BUS_URL", "").strip() or DEFAULT_BROKER
    return RegistryClient(admin_base_url(url), os.environ.get("PROMETHEAN_BROKER_TOKEN") or None)


def _subject_path(subject: str) -> str:
    return "/subjects/" + quote(subject, safe="")


def _read_schema(source: str) -> str:
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    json.loads(text)  # a ValueError names a file that is not JSON
    return text


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def _run(args: argparse.Namespace, call: Any) -> int:
    try:
        return int(asyncio.run(call(_client(args))))
    except RegistryRefusalError as exc:
        print(f"promethean {args.command_0}: {exc}", file=sys.stderr)
    except ValueError as exc:
        print(f"promethean {args.command_0}: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"promethean {args.command_0}: cannot reach the broker: {exc}", file=sys.stderr)
    return EXIT_FAILED


def run_register(args: argparse.Namespace) -> int:
    async def call(client: RegistryClient) -> int:
        body = {"schema": _read_schema(args.file), "schemaType": "JSON"}
        registered = await client.call("POST", _subject_path(args.subject) + "/versions", body)
        found = await client.call("POST", _subject_path(args.subject), body)
        if wants_json(args):
            _print({"subject": args.subject, "id": registered["id"], "version": found["version"]})
        else:
            print(f"{args.subject}: id {registered['id']}, version {found['version']}")
        return 0

    return _run(args, call)


def run_get(args: argparse.Namespace) -> int:
    async def call(client: RegistryClient) -> int:
        if args.id is not None:
            _print(await client.call("GET", f"/schemas/ids/{args.id}/schema"))
            return 0
        if args.subject is None:
            raise ValueError("give a SUBJECT or --id")
        version = await client.call(
            "GET", f"{_subject_path(args.subject)}/versions/{quote(args.version, safe='')}"
        )
        if args.meta:
            _print({**version, "schema": json.loads(version["schema"])})
        else:
            _print(json.loads(version["schema"]))
        return 0

    return _run(args, call)


def run_list(args: argparse.Namespace) -> int:
    async def call(client: RegistryClient) -> int:
        suffix = "?deleted=true" if args.deleted else ""
        if args.subject is None:
            listed = await client.call("GET", "/subjects" + suffix)
        else:
            listed = await client.call("GET", f"{_subject_path(args.subject)}/versions{suffix}")
        if wants_json(args):
            _print(listed)
        else:
            for item in listed:
                print(item)
        return 0

    return _run(args, call)


def run_check(args: argparse.Namespace) -> int:
    async def call(client: RegistryClient) -> int:
        body = {"schema": _read_schema(args.file), "schemaType": "JSON"}
        path = f"/compatibility{_subject_path(args.subject)}/versions"
        if args.version is not None:
            path += "/" + quote(args.version, safe="")
        report = await client.call("POST", path, body)
        if wants_json(args):
            _print(report)
            return 0 if report["is_compatible"] else EXIT_FAILED
        if report["is_compatible"]:
            print("compatible")
            return 0
        print("incompatible:")
        for message in report.get("messages", []):
            print(f"  {message}")
        return EXIT_FAILED

    return _run(args, call)


def run_config(args: argparse.Namespace) -> int:
    async def call(client: RegistryClient) -> int:
        path = "/config" if args.subject is None else "/config/" + quote(args.subject, safe="")
        if args.set is not None:
            stored = await client.call("PUT", path, {"compatibility": args.set})
            level = stored["compatibility"]
        else:
            if args.subject is not None:
                path += "?defaultToGlobal=true"
            level = (await client.call("GET", path))["compatibilityLevel"]
        if wants_json(args):
            _print({"subject": args.subject, "compatibility": level})
        else:
            print(level)
        return 0

    return _run(args, call)


def run_asyncapi(args: argparse.Namespace) -> int:
    async def call(client: RegistryClient) -> int:
        _print(await client.call("GET", "/asyncapi.json"))
        return 0

    return _run(args, call)


def _broker_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--broker", help="broker URL (ws:// or http://); default BUS_URL or the local broker"
    )
    add_output_option(parser)  # get and asyncapi print JSON either way


def _configure_register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("subject", help="subject, e.g. <topic>-value")
    parser.add_argument("file", help="JSON Schema file, or - for standard input")
    _broker_option(parser)


def _configure_get(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("subject", nargs="?", help="subject")
    parser.add_argument("--version", default="latest", help="version number or latest")
    parser.add_argument("--id", type=int, help="a schema by its global id instead")
    parser.add_argument("--meta", action="store_true", help="print subject, version and id too")
    _broker_option(parser)


def _configure_list(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("subject", nargs="?", help="list this subject's versions")
    parser.add_argument("--deleted", action="store_true", help="include soft-deleted ones")
    _broker_option(parser)


def _configure_check(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("subject", help="subject")
    parser.add_argument("file", help="JSON Schema file, or - for standard input")
    parser.add_argument("--version", help="test against this version only (or latest)")
    _broker_option(parser)


def _configure_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("subject", nargs="?", help="subject (default: the global level)")
    parser.add_argument(
        "--set", type=str.upper, choices=[c.value for c in Compatibility], help="new level"
    )
    _broker_option(parser)


SCHEMAS_GROUP: Final = CommandGroup(
    "schemas",
    "the schema registry on the broker",
    (
        Command(
            "register", "register a JSON Schema under a subject", run_register, _configure_register
        ),
        Command("get", "print a schema (latest, a version, or by id)", run_get, _configure_get),
        Command("list", "list subjects, or the versions of one", run_list, _configure_list),
        Command(
            "check",
            "test a schema's compatibility without registering it",
            run_check,
            _configure_check,
        ),
        Command("config", "show or set a compatibility level", run_config, _configure_config),
    ),
)
ASYNCAPI_COMMAND: Final = Command(
    "asyncapi", "print the AsyncAPI 3.0 document of the topics", run_asyncapi, _broker_option
)
