# syntax=docker/dockerfile:1
# The dbmigrate image: the CLI (entrypoint) and the operator (`dbmigrate operator`), with the PostgreSQL and
# MariaDB/MySQL client tools the backup step runs (pg_dump, mariadb-dump/mysqldump).
#
# Two stages: `build` compiles the wheel and installs it with its dependencies into a virtualenv, with compilers
# available for any dependency without a binary wheel; the final stage copies only that virtualenv, so no build
# tool reaches the image. Build: `docker build -t ghcr.io/dbmigrate/dbmigrate:0.1.0 .` (make image).

ARG PYTHON_VERSION=3.11
ARG DEBIAN_RELEASE=bookworm

FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE} AS build
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN python -m venv /opt/dbmigrate \
 && /opt/dbmigrate/bin/pip install --upgrade pip \
 && /opt/dbmigrate/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/dbmigrate/bin/pip install "$(ls /wheels/dbmigrate-*.whl)[operator]"

FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE}
LABEL org.opencontainers.image.title="dbmigrate" \
      org.opencontainers.image.description="Safe database schema migrations: CLI and Kubernetes operator" \
      org.opencontainers.image.source="https://github.com/dbmigrate/dbmigrate" \
      org.opencontainers.image.licenses="Apache-2.0"
# Client tools for backups (policy create): versions follow the Debian release; pg_dump must be at least as new as
# the server, so rebuild with a newer DEBIAN_RELEASE (or the PGDG repository) for newer PostgreSQL servers.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client mariadb-client \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 dbmigrate \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin dbmigrate
COPY --from=build /opt/dbmigrate /opt/dbmigrate
ENV PATH=/opt/dbmigrate/bin:$PATH \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /tmp
# Numeric, so Kubernetes can verify runAsNonRoot without resolving a name.
USER 10001:10001
ENTRYPOINT ["dbmigrate"]
CMD ["--help"]
