# syntax=docker/dockerfile:1
#
# Copydesk container image.
#
#   docker build -t copydesk .
#   docker run -p 8080:8080 -v copydesk-data:/app/data copydesk
#
# Without COPYDESK__DATABASE__URL it uses SQLite in /app/data; keys that are not
# set (COPYDESK__AUTH__JWT_SECRET, COPYDESK__SECURITY__ENCRYPTION_KEY) are
# generated into /app/data on first start, so keep that volume.
# docker-compose.yml runs two nodes on PostgreSQL + Redis behind nginx.

# ---- 1. web UI -> /src/web/dist ------------------------------------------------
FROM node:20-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# ---- 2. server binary -> /usr/local/bin/copydesk ---------------------------------
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The caches keep downloaded crates and compiled dependencies between builds
# (BuildKit). target/ is a cache mount, so the binary is copied out of it in
# the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin copydesk \
 && cp target/release/copydesk /usr/local/bin/copydesk

# ---- 3. runtime -------------------------------------------------------------------
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 copydesk \
 && useradd --system --uid 10001 --gid copydesk --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin copydesk \
 && mkdir -p /app/data \
 && chown copydesk:copydesk /app/data

WORKDIR /app
COPY --from=build /usr/local/bin/copydesk /usr/local/bin/copydesk
COPY --from=web /src/web/dist /app/web/dist
COPY config/ /app/config/

ENV COPYDESK__STATIC__DIR=/app/web/dist \
    COPYDESK__SERVER__HOST=0.0.0.0 \
    COPYDESK__SERVER__PORT=8080 \
    COPYDESK__DATABASE__DATA_DIR=/app/data

USER copydesk
VOLUME ["/app/data"]
EXPOSE 8080

# No curl in the image: bash's /dev/tcp speaks just enough HTTP.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${COPYDESK__SERVER__PORT:-8080} && printf 'GET /health/live HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && IFS= read -r status <&3 && [[ $status == *' 200 '* ]]"]

CMD ["copydesk", "serve"]
