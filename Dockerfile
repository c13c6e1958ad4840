# One image with zkrs-server, zkrs-cli and (when the workspace has it) zkrs-operator.
#
# With public images (BuildKit or the classic builder):
#   docker build -t zkrs:dev .
# builds the binaries in a Rust image (BUILDER_IMAGE) and copies them into a slim Debian
# (BASE_IMAGE). Where nothing can be pulled, scripts/build-image.sh builds the binaries on
# the host, stages them in target/image-bin and builds the `prebuilt` target on a base made
# from Debian's packages (scripts/debian-base.sh):
#   docker build --target prebuilt --build-arg BASE_IMAGE=zkrs-base:bookworm -t zkrs:dev .
#
# The stages are ordered so that the classic builder, which builds every stage before its
# target, never reaches the Rust image when the target is `prebuilt`.

ARG BASE_IMAGE=debian:bookworm-slim
ARG BUILDER_IMAGE=rust:1-bookworm

# Host-built binaries, when target/image-bin has them. The Dockerfile is copied along so
# that the COPY has a source even when the directory is absent (the default build with the
# classic builder passes through this stage too).
FROM ${BASE_IMAGE} AS prebuilt-bins
COPY Dockerfile target/image-bin/zkrs-* /staging/
RUN set -eu; mkdir /out; \
    for f in /staging/zkrs-*; do if [ -f "$f" ]; then install -m 0755 "$f" /out/; fi; done

# What both images share: a fixed non-root user, /data as the only writable place, the
# config read from /conf.
FROM ${BASE_IMAGE} AS runtime
ARG UID=1000
ARG GID=1000
RUN set -eu; \
    if [ ! -e /etc/ssl/certs/ca-certificates.crt ]; then \
      apt-get update; \
      apt-get install -y --no-install-recommends ca-certificates; \
      rm -rf /var/lib/apt/lists/*; \
    fi; \
    groupadd --gid "$GID" zkrs; \
    useradd --uid "$UID" --gid "$GID" --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin zkrs; \
    mkdir -p /data /conf; \
    chown "$UID:$GID" /data
COPY deploy/image/zoo.cfg /conf/zoo.cfg
LABEL org.opencontainers.image.title="zkrs" \
      org.opencontainers.image.description="ZooKeeper-compatible server, shell and Kubernetes operator" \
      org.opencontainers.image.licenses="Apache-2.0"
USER ${UID}:${GID}
WORKDIR /data
VOLUME ["/data"]
# client, quorum, election, admin server, Prometheus metrics
EXPOSE 2181 2888 3888 8080 7000
CMD ["zkrs-server", "/conf/zoo.cfg"]

FROM runtime AS prebuilt
COPY --from=prebuilt-bins /out/ /usr/local/bin/

FROM ${BUILDER_IMAGE} AS builder
WORKDIR /src
COPY . .
# strip --strip-debug keeps the symbols, so a panic's backtrace still names functions.
RUN set -eu; \
    cargo build --release --locked --bins; \
    mkdir /out; \
    for b in zkrs-server zkrs-cli zkrs-operator; do \
      if [ -f "target/release/$b" ]; then strip --strip-debug -o "/out/$b" "target/release/$b"; fi; \
    done

# The default target: binaries built from source in the Rust image.
FROM runtime AS image
COPY --from=builder /out/ /usr/local/bin/
