# sluice: multi-stage image. The build stage compiles with the same CMake as `make`; the
# runtime stage carries only the shared libraries, the three binaries, the built-in masking
# plugins and the example config, and runs as an unprivileged user.
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc make cmake pkg-config ca-certificates \
      libh2o-evloop-dev libh2o-dev-common libssl-dev librdkafka-dev libhiredis-dev libjansson-dev \
      libyaml-dev libcurl4-openssl-dev libpq-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DSLUICE_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX=/usr \
 && cmake --build /build -j"$(nproc)" \
 && DESTDIR=/out cmake --install /build \
 && mkdir -p /out/etc/sluice \
 && cp -r config/examples/. /out/etc/sluice/

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libh2o-evloop0.13 libssl3 librdkafka1 libhiredis0.14 libjansson4 libyaml-0-2 \
      libcurl4 libpq5 zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system sluice && useradd --system --gid sluice --home-dir /var/lib/sluice --shell /usr/sbin/nologin sluice \
 && mkdir -p /var/lib/sluice /var/log/sluice && chown sluice:sluice /var/lib/sluice /var/log/sluice
COPY --from=build /out/ /
USER sluice
WORKDIR /var/lib/sluice
# HTTPS ingestion and Prometheus metrics (see docs/config.md; SLUICE_* variables override the file).
EXPOSE 8443 9464
ENTRYPOINT ["/usr/bin/sluice-gateway"]
CMD ["--config", "/etc/sluice/acme.yaml"]
