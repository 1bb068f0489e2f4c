# syntax=docker/dockerfile:1
# livecart in a container: built with the release profile of Cargo.toml, run as a non-root user on
# a small Debian. See README.md, "Running it in containers".
#
#   docker build -t livecart .
#   docker compose up          # with PostgreSQL and Redis (compose.yaml)

# ---- build -----------------------------------------------------------------------------------
# The Rust version the locked dependencies need (Cargo.toml, rust-version).
FROM rust:1.95-bookworm AS build
# libpq-dev and pkg-config: diesel links libpq, whichever database is used.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The cache mounts keep the crate downloads and compiled dependencies between builds; the binary
# is copied out because the target directory is not part of the image layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin livecart \
 && cp target/release/livecart /usr/local/bin/livecart

# ---- run -------------------------------------------------------------------------------------
FROM debian:bookworm-slim
# libpq5: the PostgreSQL client library the binary links; ca-certificates: TLS to PostgreSQL or
# Redis when their URLs ask for it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system livecart \
 && useradd --system --gid livecart --home-dir /var/lib/livecart --shell /usr/sbin/nologin livecart \
 && mkdir -p /var/lib/livecart /app \
 && chown livecart:livecart /var/lib/livecart
COPY --from=build /usr/local/bin/livecart /usr/local/bin/livecart

# Every config/*.toml is compiled into the binary; mount a directory at /app/config to add an
# environment or replace one. Secrets (LIVECART__AUTH__JWT_SECRET, LIVECART__STREAM__PUSH_KEY)
# and DATABASE_URL / REDIS_URL come from the environment: production refuses the development ones.
WORKDIR /app
ENV LIVECART_ENV=production \
    LIVECART__SERVER__BIND=0.0.0.0:8080 \
    LIVECART__DATABASE__DATA_DIR=/var/lib/livecart
# The embedded SQLite database, when LIVECART__DATABASE__URL=sqlite://livecart.db is chosen.
VOLUME ["/var/lib/livecart"]
EXPOSE 8080
USER livecart
ENTRYPOINT ["livecart"]
CMD ["serve"]
