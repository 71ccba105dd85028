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
# Optional extras of the bot, e.g. --build-arg EXTRAS=postgres for PostgreSQL (asyncpg, at the version the dev lock
# pins). compose.yaml builds with it.
ARG EXTRAS=""
COPY requirements-dev.lock /tmp/requirements-dev.lock
RUN if [ -n "$EXTRAS" ]; then /opt/venv/bin/pip install -c /tmp/requirements-dev.lock "/src[$EXTRAS]"; fi

# Training service (GPU): docker build --target trainer -t teachbot-trainer . ; docker run --gpus all ...
# PyPI's Linux torch wheels are CUDA builds (the CUDA libraries come as nvidia-* wheels): the host needs only the
# NVIDIA driver and the container toolkit.
FROM build AS trainer-build
RUN /opt/venv/bin/pip install "/src[trainer]"

FROM python:3.11-slim AS trainer
RUN useradd --create-home --uid 10001 teachbot
COPY --from=trainer-build /opt/venv /opt/venv
WORKDIR /app
COPY trainer.toml /app/trainer.toml
# Reachable from other containers, hence the API key below.
RUN sed -i 's/^host = "127.0.0.1"/host = "0.0.0.0"/' /app/trainer.toml && mkdir -p /app/data && chown teachbot:teachbot /app/data
USER teachbot
# TRAINER_API_KEY must be set (docker run -e TRAINER_API_KEY=...): the service refuses to start without it.
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 TRAINER_CONFIG=/app/trainer.toml HF_HOME=/app/data/hf
VOLUME ["/app/data"]
EXPOSE 8600
CMD ["python", "-m", "bot.training_service"]

# Runtime stage (the default target, built last): only the environment, the config and an unprivileged user.
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
# /healthz, /readyz, /metrics (HEALTH_HOST=0.0.0.0 to reach them from outside the container).
EXPOSE 8081
# hikari shuts down cleanly (closing the gateway and the database) on SIGINT.
STOPSIGNAL SIGINT
CMD ["python", "-m", "bot"]
