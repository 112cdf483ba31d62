# One image for every procgate service: `procgate serve gate|stakeholders|reporting`, or all.
#   docker build -t procgate .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p procgate \
 && cp target/release/procgate /usr/local/bin/procgate

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/procgate --create-home procgate
COPY --from=build /usr/local/bin/procgate /usr/local/bin/procgate
USER procgate
ENV PROCGATE_LISTEN=0.0.0.0:8080 \
    PROCGATE_DATA_DIR=/var/lib/procgate \
    PROCGATE_LOG_JSON=true
# The embedded store and the keys made on first start: mount a named volume here
# (docker run -v procgate-data:/var/lib/procgate) to keep them when the container is replaced.
VOLUME ["/var/lib/procgate"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/health/ready || exit 1
ENTRYPOINT ["procgate"]
CMD ["serve"]
