#!/usr/bin/env bash
# Builds (or reuses) the Go peers of the conformance tier (T3) and their test
# plugins:
#
#   kubelet-peer     test/conformance/kubelet-peer        k8s.io/kubelet v0.37.2, grpc v1.82.1
#   nri-peer         test/conformance/nri-peer            containerd/nri v0.12.3 (containerd 2.4)
#   nri-peer-legacy  test/conformance/nri-peer (go.legacy.mod, -tags nri_legacy)
#                                                         containerd/nri v0.8.0 (containerd 2.0/2.1)
#   dra-plugin       test/conformance/peers/testplugins/dra-plugin   (self-tests only)
#   nri-plugin       test/conformance/peers/testplugins/nri-plugin   (self-tests only)
#
# Output: $CACHE/peers/bin/<binaries> plus .stamp (hash of every source, go.mod
# and go.sum, the Go version and this script); a matching stamp means nothing
# is rebuilt. Modules and build cache are shared with test/conformance/build.sh:
#   CACHE=${NETCLAIM_CONFORMANCE_CACHE:-/var/tmp/netclaim-conformance}
#   GOMODCACHE=$CACHE/gomod  GOCACHE=$CACHE/gocache
# Concurrent callers are serialised with flock. Prints the bin folder on the
# last line of stdout; progress and timings go to stderr.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
conf="$(cd "$here/.." && pwd)"
LOG_PREFIX=build-peers
source "$here/../../lib/go-build-env.sh"
bin="$cache/peers/bin"

mkdir -p "$bin"

# name | module dir | extra go build flags
targets=(
  "kubelet-peer|$conf/kubelet-peer|"
  "nri-peer|$conf/nri-peer|-tags=nri_no_wasm"
  "nri-peer-legacy|$conf/nri-peer|-modfile=go.legacy.mod -tags=nri_legacy"
  "dra-plugin|$here/testplugins/dra-plugin|"
  "nri-plugin|$here/testplugins/nri-plugin|"
)
moddirs=("$conf/kubelet-peer" "$conf/nri-peer" "$here/testplugins/dra-plugin" "$here/testplugins/nri-plugin")

exec 9>"$cache/peers/.lock"
flock 9

t0="$(now)"
srchash="$(
  {
    for d in "${moddirs[@]}"; do
      find "$d" -maxdepth 1 -type f \( -name '*.go' -o -name 'go*.mod' -o -name 'go*.sum' \) -print
    done
    echo "$here/build-peers.sh"
    echo "$here/../../lib/go-build-env.sh"
  } | LC_ALL=C sort | xargs sha256sum | sed "s#  $conf/#  #" | sha256sum | cut -c1-16
)"
stamp="src=$srchash $(go env GOVERSION)"

all_present() {
  local t name
  for t in "${targets[@]}"; do
    name="${t%%|*}"
    [ -x "$bin/$name" ] || return 1
  done
}

if all_present && [ "$(cat "$bin/.stamp" 2>/dev/null)" = "$stamp" ]; then
  log "reusing $bin ($stamp) [$(secs "$t0" "$(now)") s]"
  echo "$bin"
  exit 0
fi

log "building peers into $bin ($stamp; GOMODCACHE/GOCACHE under $cache)"
rm -f "$bin/.stamp"
# go build fetches only the modules that provide packages (no `go mod download`:
# that would fetch the whole module graph, ~400 MB here).
for t in "${targets[@]}"; do
  IFS='|' read -r name dir extra <<<"$t"
  ts="$(now)"
  # shellcheck disable=SC2086 # $extra is a list of flags
  (cd "$dir" && go build -mod=readonly -trimpath -ldflags='-s -w' $extra -o "$bin/.$name.new" .)
  mv "$bin/.$name.new" "$bin/$name"
  log "$name built [$(secs "$ts" "$(now)") s]"
done
echo "$stamp" >"$bin/.stamp"
log "done in $(secs "$t0" "$(now)") s"
echo "$bin"
