# netclaim's node daemon in a distroless Node.js 24 image: the bundle from
# `npm run bundle` and nothing else (no shell, no package manager). See
# docs/packaging.md; test/bundle/bundle-chroot.kernel.test.ts proves the bundle
# runs with only the node binary and its shared libraries beside it.
#
#   docker build --build-arg VERSION=$(node -p "require('./package.json').version") -t netclaim .
#   docker buildx build --platform linux/amd64,linux/arm64 -t netclaim .
#
# The build stage runs on each target platform, so npm installs that
# platform's prebuilt FFI addons (koffi, ffi-rs) and the bundle ships them.
#
# The e2e tier builds the same final stage without a container engine
# (test/e2e/images/build-netclaim-image.sh: the bundle on a stand-in for the
# distroless base) and runs it as the chart's DaemonSet; docs/e2e.md lists the
# differences. Keep the two in step: the entry point, the /netclaim and
# /nodejs/bin/node paths (the chart's startup probe runs that node).

FROM node:24-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install script is needed: esbuild and the FFI addons come prebuilt as
# per-platform npm packages, and the `node` dev dependency's download is
# useless here (this stage has Node.js 24).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/ scripts/
COPY proto/ proto/
COPY data/ data/
COPY src/ src/
RUN npm run bundle

FROM gcr.io/distroless/nodejs24-debian12
ARG VERSION=dev
LABEL org.opencontainers.image.title="netclaim" \
      org.opencontainers.image.description="Kubernetes DRA driver for network devices: the node daemon" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /src/dist/ /netclaim/
# Node's compile cache, baked in: V8's code for the bundle, made once here by the
# image's own node with the ENTRYPOINT's flags, at the bundle's path (Node keys the
# cache by both), so a start reads it instead of compiling 5 MB of JavaScript
# (process start → daemon start about 120 ms shorter; docs/benchmarks.md, daemon).
# Read-only at run time (readOnlyRootFilesystem): Node then only reads it. Exec form:
# the base has no shell.
ENV NODE_COMPILE_CACHE=/netclaim/compile-cache
# glibc's malloc: at most 2 arenas instead of 8 per CPU. Node's threads (V8's
# compiler and GC workers, libuv's pool) each got an arena of their own that
# kept freed memory; 2 saved about 1.5 MB of RSS with no cost measured on Prepare
# (docs/benchmarks.md, daemon).
ENV MALLOC_ARENA_MAX=2
RUN ["/nodejs/bin/node", "--max-semi-space-size=1", "--no-icu-timezone-data", "--no-turbofan", "/netclaim/netclaim.mjs", "--version"]
# No USER: the daemon runs as uid 0 with the explicit capabilities its
# DaemonSet grants (NET_ADMIN, SYS_ADMIN; docs/deployment.md says why),
# since it writes the kubelet's root-owned plugin directories and enters pod
# network namespaces. The distroless :nonroot variant would not work.
# Node's flags (docs/benchmarks.md, daemon, measures each; bench/daemon.ts runs
# the daemon with the same ones, and test/e2e/images/build-netclaim-image.sh
# builds the e2e tier's image with them):
# --max-semi-space-size=1: V8's young generation capped at 1 MB per semi-space.
#   The daemon allocates little; with the default (up to 16 MB) V8 kept ~90 MB
#   committed after every GC and RSS rose 174 → 344 MB over 2,000 claim cycles;
#   with 1 MB it was 152 → 203 MB, flat after warm-up.
# --no-icu-timezone-data: local time from the C library, not ICU. V8's
#   Date.prototype.toISOString (pino's timestamps, the claim records) looked up
#   the local zone's display names in ICU once: ~1 MB of ICU data and code paged
#   in for a name the daemon never prints. Only Date.prototype.toString's zone
#   name changes ("UTC" instead of "Coordinated Universal Time").
# --no-turbofan: V8's top compiler off; hot code stops at Maglev. TurboFan paged in
#   about 5.5 MB of its own machine code at its first compile, which the daemon's
#   start made every time (netlink parsing, path and buffer helpers), for code
#   that then ran once a pod: idle RSS 82.4 → 76.8 MB. On the node, pod start-up
#   did not change (netclaim's Prepare p50 7.2–7.9 ms against 7.3–8.6, its share
#   of the pod's path 25.4–26.5 against 25.8–29.3 ms, interleaved e2e runs); a
#   tight loop of claim cycles, which no node runs, is slower (Prepare p50
#   +0.8 ms). docs/benchmarks.md, daemon, has both.
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=1", "--no-icu-timezone-data", "--no-turbofan", "/netclaim/netclaim.mjs"]
CMD ["run"]
