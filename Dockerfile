# fleethub image: one image for every process; the first argument picks it
# (`hub`, `proxy`, `api`, `vda5050`, `migrate`, `sim`, `up`). See k8s/README.md.
# Needs BuildKit (the default builder since Docker 23; buildah/podman too) for RUN --mount.

# --- builder: a wheel of the project plus wheels of its dependencies, as tested -------
FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY fleetcore ./fleetcore
COPY fleethub ./fleethub
COPY hub ./hub
COPY proxy ./proxy
COPY rest_api ./rest_api
COPY ros_bridge ./ros_bridge
COPY simulator ./simulator
COPY vda5050 ./vda5050
RUN python -m pip wheel --wheel-dir /wheels . --constraint constraints.txt

# --- final: the wheels installed offline; no compilers, no sources, no build cache -------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp \
    FLEETHUB_HOST=0.0.0.0 \
    FLEETHUB_DATA_DIR=/tmp/fleethub
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m pip install --no-index --find-links=/wheels /wheels/fleethub-*.whl \
 && groupadd --system --gid 10001 fleethub \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp \
        --shell /usr/sbin/nologin fleethub
# Everything the processes write goes below /tmp (an emptyDir on Kubernetes), so the
# root filesystem can be mounted read-only.
WORKDIR /tmp
USER 10001:10001
# 8000 api (REST, OpenAPI, dashboard) · 8100 hub (/_internal ingest) · 8200 proxy (socket.io)
EXPOSE 8000 8100 8200 8400
# Each process has its own port and /healthz, so the health check lives in the
# orchestrator (Kubernetes probes on /healthz and /readyz), not here.
ENTRYPOINT ["fleethub"]
CMD ["up"]
