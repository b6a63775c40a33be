# syntax=docker/dockerfile:1
# Tollgate container image: docs/operations.md ("Docker") shows how to run it.
#
#   docker build -t tollgate .
#   docker run -d --name tollgate --read-only --tmpfs /tmp \
#     -v /etc/tollgate:/etc/tollgate:ro -v tollgate-data:/var/lib/tollgate \
#     --env-file /etc/tollgate/tollgate.env -p 8080:8080 tollgate

# --- build: cgo is required by the SQLite driver (mattn/go-sqlite3) ---
FROM golang:1.26-bookworm AS build
WORKDIR /src
# go.mod names the patched toolchain; let the go command fetch it if the
# image's is older.
ENV GOTOOLCHAIN=auto CGO_ENABLED=1
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/tollgate ./cmd/tollgate

# --- runtime: glibc (the cgo binary links it) and CA certificates only ---
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 tollgate \
 && useradd --system --uid 10001 --gid tollgate --home-dir /var/lib/tollgate --no-create-home \
      --shell /usr/sbin/nologin tollgate \
 && install -d -o tollgate -g tollgate -m 0700 /var/lib/tollgate \
 && install -d -m 0755 /etc/tollgate
COPY --from=build /out/tollgate /usr/local/bin/tollgate

# Nothing is written outside the data volume and /tmp, so the container runs
# with --read-only --tmpfs /tmp. Config, keys and known_hosts are mounted
# read-only at /etc/tollgate; the config must say
#   database: /var/lib/tollgate/tollgate.db
USER 10001:10001
ENV HOME=/var/lib/tollgate
WORKDIR /var/lib/tollgate
VOLUME ["/var/lib/tollgate"]
EXPOSE 8080
# SIGTERM lets running deploys finish (serve --shutdown-grace, default 2m):
# give docker stop a longer timeout (docker stop -t 180, stop_grace_period).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/tollgate", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/tollgate"]
CMD ["serve", "--config", "/etc/tollgate/tollgate.yml"]
