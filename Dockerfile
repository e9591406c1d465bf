# syntax=docker/dockerfile:1
# Orderflow's one image. The command picks the process (docker-compose.yml runs each):
#   API (default)      uvicorn --factory api.main:create_app --host 0.0.0.0 --port 8000
#   worker             python worker.py
#   migrations         python -m storage.migrate
#   Temporal namespace python -m scripts.prepare_temporal
#   codec server       python codec_server.py
#
# The base is pinned by tag and by the digest of its multi-architecture index, so a rebuild
# gets the same operating system and Python. To move to a newer patch release, change both
# (README: Production deployment).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
# Every distribution comes from the lock and must match its hash; --no-deps so that nothing
# outside the lock gets in, wheels only so that no compiler is needed and nothing is built.
RUN /opt/venv/bin/pip install --no-cache-dir --require-hashes --no-deps --only-binary=:all: \
        -r /tmp/requirements.lock
WORKDIR /src
COPY . .
# The app itself, without dependencies (they are all in already) and without an index; then
# pip check proves that the lock satisfies what pyproject.toml asks for.
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps --no-index --no-build-isolation /src \
    && /opt/venv/bin/pip check

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="orderflow" \
      org.opencontainers.image.description="Order management: every order is a durable Temporal workflow"
# A fixed numeric uid/gid, so volume permissions and Kubernetes' runAsNonRoot can rely on it.
RUN groupadd --system --gid 10001 orderflow \
    && useradd --system --uid 10001 --gid orderflow --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin orderflow
COPY --from=build /opt/venv /opt/venv
# The processes run from the source tree: python worker.py and python codec_server.py are
# files, and Alembic's migrations sit next to storage/migrate.py. Owned by root and only
# readable by the app's user, so a compromised process cannot change the code it runs.
WORKDIR /app
COPY . .
RUN /opt/venv/bin/python -m compileall -q /app
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ORDERFLOW_PROFILE=production \
    ORDERFLOW_LOG_JSON=true
USER 10001:10001
EXPOSE 8000
# For the default command, the API: /healthz asks the database and Temporal and answers 503
# when either is down. docker-compose.yml gives the other commands their own checks.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["uvicorn", "--factory", "api.main:create_app", "--host", "0.0.0.0", "--port", "8000"]
