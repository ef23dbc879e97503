# gitberth as one container beside the engine it drives (see "Running gitberth in a container"
# in README.md). Any Debian-based image with python3 >= 3.11 and its venv module works as the
# base: CI passes a locally made one (scripts/base-image.sh), since no image registry is
# reachable there.
#
#   docker build -t gitberth .
#   docker build --build-arg BASE_IMAGE="$(scripts/base-image.sh)" -t gitberth .
ARG BASE_IMAGE=python:3.12-slim-bookworm

# ---- build: the wheel and a virtualenv holding it and its dependencies ----------------------
FROM ${BASE_IMAGE} AS build
# Marks the intermediate image, so scripts/build-gitberth-image.sh can prune old ones.
LABEL io.gitberth.build-stage="true"
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
# Behind a TLS-intercepting proxy, put its CA bundle in the context as build-ca.pem: pip in this
# stage trusts it; the runtime stage never sees it.
COPY pyproject.toml requirements/runtime-lock.txt build-ca*.pem /src/
# Dependencies first, the locked versions with their hashes (`make lock`), so every build
# installs the same files and editing the source reuses this layer.
RUN if [ -f /src/build-ca.pem ]; then export PIP_CERT=/src/build-ca.pem; fi \
    && python3 -m venv /opt/gitberth \
    && /opt/gitberth/bin/pip install -q --only-binary=:all: --require-hashes \
        -r /src/runtime-lock.txt
COPY README.md /src/
COPY src /src/src
RUN if [ -f /src/build-ca.pem ]; then export PIP_CERT=/src/build-ca.pem; fi \
    && /opt/gitberth/bin/pip wheel -q --no-deps --wheel-dir /wheels /src \
    && /opt/gitberth/bin/pip install -q --no-deps /wheels/gitberth-*.whl \
    && /opt/gitberth/bin/pip uninstall -q -y pip setuptools wheel \
    && /opt/gitberth/bin/python -m compileall -q /opt/gitberth/lib

# ---- runtime: the virtualenv, git, and an unprivileged user ---------------------------------
FROM ${BASE_IMAGE}
ARG GITBERTH_UID=10001
# gitberth drives Git through the git binary (and ssh for ssh:// sources); a base that ships
# both (like CI's) skips apt.
# The repo is a bind mount owned by someone else on the host: trust it (safe.directory), as
# the operator chose to mount it.
RUN if ! command -v git >/dev/null 2>&1 || ! command -v ssh >/dev/null 2>&1; then \
        apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends git ca-certificates openssh-client >/dev/null \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && groupadd --system --gid "${GITBERTH_UID}" gitberth \
    && useradd --system --uid "${GITBERTH_UID}" --gid gitberth --no-create-home \
        --home-dir /var/lib/gitberth --shell /usr/sbin/nologin gitberth \
    && git config --system --add safe.directory '*' \
    && install -d -o gitberth -g gitberth -m 0700 /var/lib/gitberth \
    && install -d -o gitberth -g gitberth -m 0700 /run/gitberth/secrets
COPY --from=build /opt/gitberth /opt/gitberth
ENV PATH=/opt/gitberth/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/var/lib/gitberth \
    GITBERTH_STATE_DIR=/var/lib/gitberth \
    GITBERTH_LISTEN=0.0.0.0:8700 \
    GITBERTH_LOG_FORMAT=json
USER gitberth
WORKDIR /var/lib/gitberth
VOLUME ["/var/lib/gitberth"]
EXPOSE 8700
# uvicorn finishes the action in flight on SIGTERM; the apps it started keep running.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/opt/gitberth/bin/python", "-m", "gitberth.healthcheck"]
# Last, so a new revision rebuilds nothing but this layer.
ARG BASE_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="gitberth" \
      org.opencontainers.image.description="Declarative GitOps reconciler for Docker: Git manifests in, labelled containers out." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
ENTRYPOINT ["gitberth"]
CMD ["serve"]
