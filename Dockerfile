# syntax=docker/dockerfile:1
# One image per program, from one build:
#   docker build -t redis-agent .                            (the default target: the agent)
#   docker build --target failover -t redis-failover .
# Both are NativeAOT binaries (no .NET runtime in the image) and run as a non-root user. The
# agent image carries redis-server, so that
# `docker run redis-agent` runs its embedded default; beside a Redis in another container, set
# REDIS_URL and Restart__Driver=none (the platform restarts containers).

# Base images are arguments, so that a machine with no registry can build from images of its own.
ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/runtime-deps:10.0

FROM ${SDK_IMAGE} AS build
# NativeAOT links with clang against zlib.
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Restore first, from the project files alone: this layer is rebuilt only when dependencies change.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/Protos/Protos.csproj src/Protos/
COPY src/Agent/Agent.csproj src/Agent/
COPY src/Failover/Failover.csproj src/Failover/
RUN dotnet restore src/Agent/Agent.csproj -r linux-x64 && dotnet restore src/Failover/Failover.csproj -r linux-x64
COPY src/ src/
COPY README.md ./
RUN dotnet publish src/Agent/Agent.csproj -c Release -r linux-x64 --no-restore -o /out/redis-agent \
 && dotnet publish src/Failover/Failover.csproj -c Release -r linux-x64 --no-restore -o /out/redis-failover \
 && rm -f /out/*/*.dbg /out/*/*.pdb \
 && cp README.md /out/redis-agent/ && cp README.md /out/redis-failover/

FROM ${RUNTIME_IMAGE} AS runtime
RUN groupadd --system --gid 10001 redis-agent \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/redis-agent --create-home --shell /usr/sbin/nologin redis-agent
ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    STATE_DIRECTORY=/var/lib/redis-agent

FROM runtime AS failover
COPY --from=build /out/redis-failover /app/redis-failover
# Its state (the store, the published URL files) lives under STATE_DIRECTORY: made here, owned by its user.
RUN install -d -o 10001 -g 10001 -m 0750 /var/lib/redis-agent/failover
# Outside the container's loopback, or nobody reaches it: so over TLS, with a credential per caller,
# from mounted secrets (a container without them stops at once, naming the file it lacks).
ENV Urls=https://+:9380 \
    Failover__Tls__CertFile=/run/secrets/redis-failover.crt \
    Failover__Tls__KeyFile=/run/secrets/redis-failover.key \
    Failover__CredentialsFile=/run/secrets/redis-failover-credentials \
    STATE_DIRECTORY=/var/lib/redis-agent/failover
USER 10001:10001
EXPOSE 9380
ENTRYPOINT ["/app/redis-failover/redis-failover"]

FROM runtime AS agent
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/redis-agent /app/redis-agent
# /logs (Redis's own lines) and /metrics on every interface need a bearer token, from a mounted secret.
ENV Urls=http://+:9379 \
    Http__TokenFile=/run/secrets/redis-agent-http-token
USER 10001:10001
EXPOSE 9379 6379
HEALTHCHECK --interval=10s --timeout=3s CMD ["/app/redis-agent/redis-agent", "health"]
ENTRYPOINT ["/app/redis-agent/redis-agent"]
