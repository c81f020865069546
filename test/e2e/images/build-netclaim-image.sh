#!/usr/bin/env bash
# Builds (or reuses) netclaim's container image for the node end-to-end tier:
# what the Dockerfile's final stage makes, put together here without a
# container engine (none runs on these machines, and the distroless base
# cannot be pulled), as an OCI image-layout tar archive for
# `ctr -n k8s.io images import`:
#
#   layer 1, "base"  stands in for gcr.io/distroless/nodejs24-debian12:
#                    /nodejs/bin/node (node_modules/node's official Node.js 24
#                    binary) and the shared libraries ldd lists for it and for
#                    the bundle's two FFI addons, at the paths ldd names (this
#                    machine is Debian 12, like the distroless base);
#                    /etc/passwd and /etc/group with distroless's root, nobody
#                    and nonroot (65532) entries, /etc/nsswitch.conf,
#                    /etc/os-release, CA certificates
#                    (/etc/ssl/certs/ca-certificates.crt), /tmp (1777), /root,
#                    /home/nonroot (65532). No shell, no package manager, no
#                    npm: nothing else.
#   layer 2, "app"   the Dockerfile's `COPY --from=build /src/dist/ /netclaim/`:
#                    the `npm run bundle` output given as DIST-DIR, and its
#                    `RUN` that bakes Node's compile cache into
#                    /netclaim/compile-cache (here in a chroot of the layers).
#   config           ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=1",
#                    "--no-icu-timezone-data", "--no-turbofan", "/netclaim/netclaim.mjs"],
#                    CMD ["run"], no USER (root), distroless's PATH and
#                    SSL_CERT_FILE, the Dockerfile's NODE_COMPILE_CACHE and
#                    MALLOC_ARENA_MAX, its OCI labels.
#
# Differences from a `docker build`: the base is not distroless's own (no
# tzdata, no /var/lib/dpkg/status.d package records, no libssl3: Node.js
# links OpenSSL statically), and the node binary and addons come from this
# checkout's node_modules rather than from the build stage's node:24 image.
# docs/e2e.md lists them.
#
#   test/e2e/images/build-netclaim-image.sh [DIST-DIR]     (default: dist/)
#
# The name is the chart's: <values.yaml image.repository>:<Chart.yaml appVersion>,
# e.g. ghcr.io/netclaim/netclaim:0.1.0, so the DaemonSet runs it with its
# default image and pull policy (IfNotPresent: present, never pulled).
#
# Output: $CACHE/e2e/netclaim-image/{netclaim.oci.tar,images.txt,.stamp} and
# base.* (the base layer, rebuilt only when the node binary, a library or
# this script changes; ~5 s). A matching stamp (base, hash of DIST-DIR's
# files, image name) means nothing is rebuilt; a new bundle costs ~1 s.
# CACHE=${NETCLAIM_CONFORMANCE_CACHE:-/var/tmp/netclaim-conformance}.
# Concurrent callers are serialised with flock. Prints the output folder on
# the last line of stdout; progress and timings go to stderr.
set -euo pipefail
umask 022

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
LOG_PREFIX=build-netclaim-image
log() { printf '%s: %s\n' "$LOG_PREFIX" "$*" >&2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
cache="${NETCLAIM_CONFORMANCE_CACHE:-/var/tmp/netclaim-conformance}"
out="$cache/e2e/netclaim-image"
dist="$(realpath "${1:-$repo/dist}")"
node_bin="$(realpath "$repo/node_modules/node/bin/node")"
chart="$repo/deploy/helm/netclaim"

if [ "$(uname -m)" != x86_64 ]; then
  log "only linux/amd64 is supported (this is $(uname -m))"
  exit 3
fi
[ -f "$dist/netclaim.mjs" ] || { log "$dist/netclaim.mjs is missing: run npm run bundle"; exit 2; }
[ -x "$node_bin" ] || { log "$node_bin is missing: npm ci"; exit 2; }

repository="$(sed -n 's/^  repository: *\([^ #]*\).*/\1/p' "$chart/values.yaml" | head -1)"
app_version="$(sed -n 's/^appVersion: *"\{0,1\}\([^" ]*\)"\{0,1\}.*/\1/p' "$chart/Chart.yaml" | head -1)"
version="$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' "$repo/package.json" | head -1)"
image="$repository:$app_version"
[ -n "$repository" ] && [ -n "$app_version" ] || { log "cannot read image.repository / appVersion from $chart"; exit 2; }

mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
t0="$(now)"

# Base files: "SOURCE DEST-IN-IMAGE MODE" lines. Libraries at the path ldd names,
# copied dereferenced under that name (the soname).
base_files() {
  echo "$node_bin nodejs/bin/node 0755"
  ldd "$node_bin" $(find "$dist/node_modules" -name '*.node' | LC_ALL=C sort) 2>/dev/null |
    awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(0x/ { print $1 }' |
    LC_ALL=C sort -u |
    while read -r lib; do
      mode=0644
      case "$(basename "$lib")" in ld-linux*) mode=0755 ;; esac
      echo "$lib ${lib#/} $mode"
    done
  echo "/etc/ssl/certs/ca-certificates.crt etc/ssl/certs/ca-certificates.crt 0644"
}
files="$(base_files)"
base_hash="$(
  {
    sha256sum "$here/build-netclaim-image.sh" "$here/oci-image.sh" | sed "s#  $here/#  #"
    echo "$files" | while read -r src dst mode; do echo "$(sha256sum <"$src" | cut -c1-64) $dst $mode"; done
  } | sha256sum | cut -c1-16
)"
dist_hash="$(cd "$dist" && find . -type f -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum | sha256sum | cut -c1-16)"
# The Dockerfile's ENTRYPOINT flags (keep in step with it and with bench/daemon.ts).
node_flags=(--max-semi-space-size=1 --no-icu-timezone-data --no-turbofan)
stamp="image=$image base=$base_hash dist=$dist_hash flags=${node_flags[*]} env=MALLOC_ARENA_MAX=2"

if [ -f "$out/netclaim.oci.tar" ] && [ -f "$out/images.txt" ] && [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
  log "reusing $out ($stamp) [$(secs "$t0" "$(now)") s]"
  echo "$out"
  exit 0
fi

log "building $image into $out ($stamp)"
rm -f "$out/.stamp"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/netclaim-image.XXXXXXXX")"
cleanup() { case "$scratch" in /*/netclaim-image.*) rm -rf -- "$scratch" ;; esac; }
trap cleanup EXIT
source "$here/oci-image.sh"

# --- layer 1: the base (cached by base_hash) ---
ts="$(now)"
if [ -f "$out/base.tar.gz" ] && [ -f "$out/base.diffid" ] && [ "$(cat "$out/base.stamp" 2>/dev/null)" = "$base_hash" ]; then
  log "base layer reused ($base_hash)"
else
  root="$scratch/base-root"
  mkdir -p "$root"/etc/ssl/certs "$root"/tmp "$root"/root "$root"/home/nonroot
  echo "$files" | while read -r src dst mode; do
    mkdir -p "$(dirname "$root/$dst")"
    install -m "$mode" "$src" "$root/$dst" # dereferences symlinks
  done
  # distroless base-debian12's accounts (its /etc/passwd and /etc/group).
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'tty:x:5:' 'staff:x:50:' 'nonroot:x:65532:' >"$root/etc/group"
  printf '%s\n' 'passwd:         files' 'group:          files' 'shadow:         files' 'hosts:          files dns' \
    'networks:       files' 'protocols:      files' 'services:       files' 'ethers:         files' 'rpc:            files' >"$root/etc/nsswitch.conf"
  printf '%s\n' 'PRETTY_NAME="netclaim e2e base (stands in for distroless nodejs24-debian12)"' 'NAME="Debian GNU/Linux"' \
    'ID=debian' 'VERSION_ID="12"' 'HOME_URL="https://github.com/GoogleContainerTools/distroless"' >"$root/etc/os-release"
  find "$root" -type d -exec chmod 0755 {} +
  chmod 1777 "$root/tmp"
  chmod 0700 "$root/root" "$root/home/nonroot"
  echo "home/nonroot 65532 65532" >"$scratch/base.owners"
  oci_layer "$root" "$scratch/base"
  mv "$scratch/base.tar.gz" "$out/base.tar.gz"
  mv "$scratch/base.diffid" "$out/base.diffid"
  echo "$base_hash" >"$out/base.stamp"
  log "base layer built: $(oci_size "$out/base.tar.gz") bytes gzip'd [$(secs "$ts" "$(now)") s]"
fi
cp "$out/base.tar.gz" "$out/base.diffid" "$scratch/"

# --- layer 2: the bundle, as /netclaim ---
ts="$(now)"
app="$scratch/app-root"
mkdir -p "$app/netclaim"
cp -a "$dist/." "$app/netclaim/"
# The Dockerfile's compile-cache RUN: the bundle run once by the image's node, with the
# ENTRYPOINT's flags, at its path in the image (Node keys the cache by the file's path and by
# V8's flags), in a chroot of the two layers; the cache it writes goes into the app layer.
warm="$scratch/warm-root"
mkdir -p "$warm"
tar -xzf "$scratch/base.tar.gz" -C "$warm"
cp -a "$app/netclaim" "$warm/"
NODE_COMPILE_CACHE=/netclaim/compile-cache MALLOC_ARENA_MAX=2 chroot "$warm" /nodejs/bin/node "${node_flags[@]}" /netclaim/netclaim.mjs --version >/dev/null
cp -a "$warm/netclaim/compile-cache" "$app/netclaim/"
chmod -R u=rwX,go=rX "$app"
oci_layer "$app" "$scratch/app"
log "app layer built: $(oci_size "$scratch/app.tar.gz") bytes gzip'd [$(secs "$ts" "$(now)") s]"

rm -f "$out/images.txt.new"
labels="{\"org.opencontainers.image.title\":\"netclaim\",\"org.opencontainers.image.description\":\"Kubernetes DRA driver for network devices: the node daemon\",\"org.opencontainers.image.licenses\":\"Apache-2.0\",\"org.opencontainers.image.version\":\"$version\"}"
oci_image "$image" "$out/netclaim.oci.tar" \
  "{\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt\",\"NODE_COMPILE_CACHE=/netclaim/compile-cache\",\"MALLOC_ARENA_MAX=2\"],\"Entrypoint\":$(json_array /nodejs/bin/node "${node_flags[@]}" /netclaim/netclaim.mjs),\"Cmd\":$(json_array run),\"WorkingDir\":\"/\",\"Labels\":$labels}" \
  "$scratch/base" "$scratch/app"
mv "$out/images.txt.new" "$out/images.txt"
echo "$stamp" >"$out/.stamp"
log "done in $(secs "$t0" "$(now)") s"
echo "$out"
