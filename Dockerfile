# syntax=docker/dockerfile:1.7
# One image per workload, built from the repository root:
#   docker build --build-arg SERVICE=proxy -t certify-proxy .
# SERVICE names a folder under services/: proxy, x402, circular, quote, qr, operator (sandbox for dev only).
# Both stages use the same pinned base; bump them together.

FROM python:3.11.14-slim-bookworm AS build
ARG SERVICE
WORKDIR /src
RUN pip install --no-cache-dir uv==0.13.8
COPY constraints.txt local-packages.txt ./
COPY libs/common libs/common
COPY libs/client libs/client
COPY services/${SERVICE} services/${SERVICE}
# Third-party packages come pinned and hash-checked from constraints.txt; the repository's own libraries come
# from their folders (local-packages.txt overrides), and only those the service's pyproject declares.
# Bytecode is compiled here: at run time the root filesystem is read-only and nothing may be cached.
RUN uv venv /opt/venv \
    && uv pip install --no-cache --compile-bytecode --python /opt/venv/bin/python \
       -c constraints.txt --overrides local-packages.txt services/${SERVICE}

FROM python:3.11.14-slim-bookworm
ARG SERVICE
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin certify
COPY --from=build /opt/venv /opt/venv
COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/certify-entrypoint
# Read-only root filesystem: everything written at run time goes to /tmp (an emptyDir in Kubernetes).
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 HOST=0.0.0.0 TMPDIR=/tmp \
    SERVICE=${SERVICE} PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080 8402 8403 8404 8405 8406 8499
HEALTHCHECK --interval=10s --timeout=3s CMD ["certify-entrypoint", "healthcheck"]
ENTRYPOINT ["certify-entrypoint"]
