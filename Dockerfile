# Builds the jackal binary and runs it on a small Debian base.
FROM rust:1-slim-bookworm AS build
# make: tikv-jemalloc-sys builds jemalloc with its configure script and make.
RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin jackal

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/jackal --create-home jackal
COPY --from=build /src/target/release/jackal /usr/local/bin/jackal
USER jackal
WORKDIR /var/lib/jackal
ENV JACKAL_LISTEN=0.0.0.0:8080 \
    JACKAL_STORE=/var/lib/jackal/jackal.db
EXPOSE 8080
VOLUME ["/var/lib/jackal"]
ENTRYPOINT ["jackal"]
CMD ["serve"]
