# Build stage: resolve the locked dependencies into a virtual environment.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
RUN /opt/venv/bin/pip install -r /tmp/requirements.lock
COPY pyproject.toml README.md /src/
COPY bot /src/bot
COPY extensions /src/extensions
RUN /opt/venv/bin/pip install --no-deps /src

# Runtime stage: only the environment, the config and an unprivileged user.
FROM python:3.11-slim
# espeak-ng is the fully offline speech engine; the others need no system packages.
RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 teachbot
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY config.toml /app/config.toml
RUN mkdir -p /app/data && chown teachbot:teachbot /app/data
USER teachbot
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 TEACHBOT_CONFIG=/app/config.toml
VOLUME ["/app/data"]
# hikari shuts down cleanly (closing the gateway and the database) on SIGINT.
STOPSIGNAL SIGINT
CMD ["python", "-m", "bot"]
