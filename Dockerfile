# Multi-stage build: compile in the official Rust image, run from a slim Debian image.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /app
COPY Cargo.toml Cargo.lock build.rs ./
# build.rs makes the offline gazetteer's table from this CSV.
COPY data ./data
COPY migrations ./migrations
COPY src ./src
# Cargo.toml declares the benchmark target, so cargo wants its file present.
COPY benches ./benches
RUN cargo build --release --locked --bin excursobot

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data excursobot \
    && mkdir -p /data && chown excursobot /data
COPY --from=build /app/target/release/excursobot /usr/local/bin/excursobot
USER excursobot
# Without DATABASE_URL the embedded SQLite file lands here (mount a volume to keep it).
WORKDIR /data
ENV LOG_FORMAT=json
EXPOSE 8080
CMD ["/usr/local/bin/excursobot"]
