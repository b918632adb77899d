# Builds the `guardian` binary and packs it into a slim runtime image.
#   docker build -t guardian-fleet .
ARG SWIFT_VERSION=6.1
FROM swift:${SWIFT_VERSION}-bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      pkg-config librdkafka-dev libpq-dev libhiredis-dev libsimdjson-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Resolve dependencies in their own layer so source edits do not refetch them.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product guardian --static-swift-stdlib \
 && install -D "$(swift build -c release --show-bin-path)/guardian" /out/guardian

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librdkafka1 libpq5 libhiredis0.14 libsimdjson14 libstdc++6 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/guardian /usr/local/bin/guardian
COPY schemas /opt/guardian/schemas
COPY console /opt/guardian/console
USER nobody
ENTRYPOINT ["/usr/local/bin/guardian"]
CMD ["--help"]
