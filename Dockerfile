# syntax=docker/dockerfile:1
# The five service images from one Dockerfile, one target per service,
# built from the repository root (the uv workspace):
#   docker build --target broker -t ghcr.io/promethean-bus/broker:0.1.0 .
# Targets: broker, gateway, outbox-drainer, compactor, partitioned-worker.
# The base image is pinned by tag and digest; VERSION_MATRIX.md records the
# digest and tests/deploy/test_dockerfiles.py fails when they disagree.

FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7 AS build

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/promethean \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m pip install --no-cache-dir uv==0.13.9

WORKDIR /src
# Dependency layer: the lockfile and the workspace's project files only, so
# it is rebuilt when uv.lock changes, never when a service's source does, and
# all five targets share it.
COPY pyproject.toml uv.lock ./
COPY libs/promethean/pyproject.toml libs/promethean/
COPY services/broker/pyproject.toml services/broker/
COPY services/gateway/pyproject.toml services/gateway/
COPY services/outbox-drainer/pyproject.toml services/outbox-drainer/
COPY services/compactor/pyproject.toml services/compactor/
COPY services/partitioned-worker/pyproject.toml services/partitioned-worker/
RUN uv sync --frozen --no-dev --no-editable --no-install-workspace --all-packages

# The workspace's own packages, as wheels (not editable), at the versions in uv.lock.
COPY libs/ libs/
COPY services/ services/
RUN uv sync --frozen --no-dev --no-editable --all-packages

FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7 AS runtime

RUN groupadd --system --gid 10001 promethean \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/promethean \
        --create-home --shell /usr/sbin/nologin promethean

COPY --from=build /opt/promethean /opt/promethean

ENV PATH=/opt/promethean/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# Set by .github/workflows/release.yml (the tag and the commit).
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=""
LABEL org.opencontainers.image.version=$VERSION \
      org.opencontainers.image.revision=$REVISION \
      org.opencontainers.image.source=$SOURCE \
      org.opencontainers.image.vendor="Promethean Event Bus" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim"

USER 10001:10001
WORKDIR /var/lib/promethean
# No HEALTHCHECK: Kubernetes probes GET /healthz/live and /healthz/ready.

FROM runtime AS broker
LABEL org.opencontainers.image.title="promethean-broker" \
      org.opencontainers.image.description="Promethean Event Bus broker: the log, consumer groups, delivery"
EXPOSE 7070
ENTRYPOINT ["/opt/promethean/bin/promethean-broker"]

FROM runtime AS gateway
LABEL org.opencontainers.image.title="promethean-gateway" \
      org.opencontainers.image.description="Promethean Event Bus gateway: WebSocket and HTTP edge with JWT auth"
EXPOSE 8090
ENTRYPOINT ["/opt/promethean/bin/promethean-gateway"]

FROM runtime AS outbox-drainer
LABEL org.opencontainers.image.title="promethean-outbox-drainer" \
      org.opencontainers.image.description="Promethean Event Bus outbox drainer"
EXPOSE 7071
ENTRYPOINT ["/opt/promethean/bin/promethean-outbox-drainer"]

FROM runtime AS compactor
LABEL org.opencontainers.image.title="promethean-compactor" \
      org.opencontainers.image.description="Promethean Event Bus compactor: compaction, snapshots, retention"
EXPOSE 7073
ENTRYPOINT ["/opt/promethean/bin/promethean-compactor"]

FROM runtime AS partitioned-worker
LABEL org.opencontainers.image.title="promethean-partitioned-worker" \
      org.opencontainers.image.description="Promethean Event Bus partitioned worker"
EXPOSE 8092
ENTRYPOINT ["/opt/promethean/bin/promethean-worker"]
