"""A broker and a gateway that trust three kinds of keys: an HMAC secret,
an RSA public key (PEM) and a JWKS served by a small aiohttp server on
loopback. ``aud`` and ``iss`` are enforced."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm

from tests.fixtures.broker import BrokerFactory, BrokerProcess
from tests.fixtures.ferretdb import free_port
from tests.integration.gateway.support import GatewayProcess

AUDIENCE = "promethean"
ISSUER = "https://issuer.test"
JWKS_KID = "ec-key-1"


@dataclass
class Keys:
    rsa_private: rsa.RSAPrivateKey
    rsa_public_pem: str
    ec_private: ec.EllipticCurvePrivateKey
    other_ec_private: ec.EllipticCurvePrivateKey
    jwks_requests: list[str] = field(default_factory=list)


class JwksServer:
    """aiohttp on its own thread and loop, serving one EC key."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/jwks"

    async def _jwks(self, request: web.Request) -> web.Response:
        self.keys.jwks_requests.append(request.path)
        jwk = json.loads(ECAlgorithm.to_jwk(self.keys.ec_private.public_key()))
        jwk.update({"kid": JWKS_KID, "alg": "ES256", "use": "sig"})
        return web.json_response({"keys": [jwk]})

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/jwks", self._jwks)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        self._loop.run_until_complete(site.start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(10)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture(scope="module")
def keys() -> Keys:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Keys(
        private,
        pem.decode(),
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )


@pytest.fixture(scope="module")
def stack(
    keys: Keys, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[BrokerProcess, GatewayProcess]]:
    log_dir = tmp_path_factory.mktemp("security")
    jwks = JwksServer(keys)
    jwks.start()
    brokers = BrokerFactory(log_dir)
    gateway: GatewayProcess | None = None
    try:
        broker = brokers()
        env = {
            "JWT_JWKS_URL": jwks.url,
            "JWT_PUBLIC_KEY": keys.rsa_public_pem,
            "JWT_AUD": AUDIENCE,
            "JWT_ISS": ISSUER,
            "PROMETHEAN_JWT_ALGORITHMS": "HS256,RS256,ES256",
            "PROMETHEAN_JWT_LEEWAY_S": "2",
            "PROMETHEAN_JWKS_MIN_REFRESH_MS": "60000",
        }
        gateway = GatewayProcess(broker, env, log_dir)
        gateway.start()
        yield broker, gateway
    finally:
        if gateway is not None:
            gateway.kill()
        brokers.kill_all()
        jwks.stop()


@pytest.fixture
def gateway(stack: tuple[BrokerProcess, GatewayProcess]) -> GatewayProcess:
    return stack[1]


@pytest.fixture
def broker(stack: tuple[BrokerProcess, GatewayProcess]) -> BrokerProcess:
    return stack[0]
