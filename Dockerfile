# sluice: multi-stage image. The build stage compiles with the same CMake as `make` (the JS tag
# is committed prebuilt, so no npm is needed); the runtime stage carries only the shared
# libraries, the three binaries, the built-in masking plugins, the plugin SDK files and the
# example config, and runs as an unprivileged user.
#
#   docker build -t sluice .
#   docker run --rm -p 8443:8443 -v /etc/sluice/tls:/tls:ro \
#     -e SLUICE_TLS_CERT=/tls/server.crt -e SLUICE_TLS_KEY=/tls/server.key \
#     -e SLUICE_HTTPS_LISTEN=0.0.0.0:8443 -e SLUICE_KAFKA_BROKERS=kafka:9092 \
#     -e SLUICE_REDIS_URL=redis://redis:6379 -e ENCRYPTION_KEY -e ACME_WEB_WRITE_KEY \
#     -e ACME_WEB_WRITE_KEY_PREVIOUS -e ACME_APP_WRITE_KEY -e ACME_BACKEND_HMAC_SECRET \
#     -e ACME_FPE_KEY -e GLOBEX_STORE_WRITE_KEY -e GLOBEX_CRM_HMAC_SECRET sluice
#   docker run --rm --entrypoint sluice-deliver -e SLUICE_KAFKA_BROKERS=kafka:9092 \
#     -e SLUICE_DATABASE_URL -e ENCRYPTION_KEY sluice --config /etc/sluice/acme.yaml
#
# The example config (config/examples/acme.yaml with orgs/globex.yaml) names every one of these
# variables, and the gateway refuses to start while one is unset (`sluicectl config check --secrets`
# lists them). A bare `-e NAME` passes the shell's value: a secret written as `-e NAME=value` is in
# the shell's history and in every `ps` listing while docker runs. tests/deploy/check.py runs
# config check with exactly these variables.
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc libc6-dev make cmake pkg-config ca-certificates \
      libh2o-evloop-dev libh2o-dev-common libssl-dev librdkafka-dev libhiredis-dev libjansson-dev \
      libyaml-dev libcurl4-openssl-dev libpq-dev zlib1g-dev libpcre2-dev libmaxminddb-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# scripts/check-builds.sh (`make test`) builds this exact configure line, so a warning only this
# build type shows fails the tests first. A fixed libdir keeps the image's paths the same on every
# architecture (/usr/lib/sluice/plugins); the programs find the plugins relative to themselves.
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DSLUICE_BUILD_TESTS=OFF \
      -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_LIBDIR=lib \
 && cmake --build /build -j"$(nproc)" \
 && DESTDIR=/out cmake --install /build \
 && mkdir -p /out/etc/sluice \
 && cp -r config/examples/. /out/etc/sluice/

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libh2o-evloop0.13 libssl3 librdkafka1 libhiredis0.14 libjansson4 libyaml-0-2 \
      libcurl4 libpq5 zlib1g libpcre2-8-0 libmaxminddb0 uap-core \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 sluice \
 && useradd --system --uid 10001 --gid sluice --home-dir /var/lib/sluice --shell /usr/sbin/nologin sluice \
 && mkdir -p /var/lib/sluice /var/log/sluice && chown sluice:sluice /var/lib/sluice /var/log/sluice
COPY --from=build /out/ /
# The built-in plugins are found next to the programs (/usr/bin/../lib/sluice/plugins) with nothing
# set. The example config's TLS files point into a source tree's build/demo: give them with
# SLUICE_TLS_CERT and SLUICE_TLS_KEY (above) or mount a config of your own.
USER sluice
WORKDIR /var/lib/sluice
# HTTPS ingestion, gateway metrics, worker metrics (docs/config.md; SLUICE_* variables override the file).
EXPOSE 8443 9464 9465
ENTRYPOINT ["/usr/bin/sluice-gateway"]
CMD ["--config", "/etc/sluice/acme.yaml"]
