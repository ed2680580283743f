# syntax=docker/dockerfile:1
# One image with the three binaries: fintech-server (the default command), fintech (the CLI)
# and fintech-mcp. Build: docker build -t fintech .   Run: see docs/deploy.md.
#
# Stages: `chef` has the toolchain and cargo-chef; `planner` reduces the workspace to a recipe
# of its dependencies; `builder` compiles those dependencies in a layer that is reused while
# Cargo.toml/Cargo.lock do not change, then builds the three release binaries in one cargo
# invocation; the runtime stage is distroless (glibc, CA certificates, no shell, no package
# manager) running as an unprivileged user.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS chef
RUN cargo install cargo-chef --locked --version ^0.1
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
# the dependency layer: rebuilt only when the recipe (manifests and lockfile) changes
RUN cargo chef cook --release --locked --recipe-path recipe.json \
        -p fintech-server -p fintech-cli -p fintech-mcp
COPY . .
RUN cargo build --release --locked -p fintech-server -p fintech-cli -p fintech-mcp \
    && mkdir -p /out/bin /out/data \
    && cp target/release/fintech-server target/release/fintech target/release/fintech-mcp /out/bin/

# a static wget for the container health check (the runtime image has no shell or curl)
FROM busybox:1.37.0-musl AS wget

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
LABEL org.opencontainers.image.title="fintech" \
      org.opencontainers.image.description="fintech-server, the fintech CLI and fintech-mcp" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"
COPY --from=wget /bin/busybox /usr/local/bin/wget
COPY --from=builder /out/bin/ /usr/local/bin/
# The server writes nothing to disk on PostgreSQL, so the root filesystem can be read-only.
# The SQLite default writes fintech.db (and its key file) in the working directory, an empty
# directory owned by the runtime user: mount a volume there to keep it.
COPY --from=builder --chown=65532:65532 /out/data/ /var/lib/fintech/
WORKDIR /var/lib/fintech
ENV FINTECH_ADDR=0.0.0.0:8080 \
    FINTECH_METRICS_ADDR=0.0.0.0:9464 \
    FINTECH_JSON_LOGS=true
# 8080: the API (put TLS in front); 9464: /metrics for Prometheus (keep it private)
EXPOSE 8080 9464
USER 65532:65532
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/fintech-server"]
