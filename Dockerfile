# Multi-stage build: compile in the official Rust image, run from a slim Debian image.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /app
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# Cargo.toml declares the benchmark target, so cargo wants its file present.
COPY benches ./benches
RUN cargo build --release --locked --bin excursobot

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 excursobot
COPY --from=build /app/target/release/excursobot /usr/local/bin/excursobot
USER excursobot
ENV LOG_FORMAT=json
EXPOSE 8080
CMD ["/usr/local/bin/excursobot"]
