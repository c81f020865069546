#!/usr/bin/env bash
# Builds (or reuses) the Helm CLI the deploy tests render and lint the chart
# with, from Go modules, the way test/conformance/build.sh and
# peers/build-peers.sh build theirs:
#
#   test/deploy/build-helm.sh      # helm.sh/helm/v4 at the version test/deploy/helm/go.mod pins
#
# Output: $CACHE/helm/bin/helm plus .stamp (Helm version, Go version, hash of
# go.mod, go.sum and this script); a matching stamp means nothing is rebuilt.
# Modules and build cache are shared with the other conformance builds:
#   CACHE=${NETCLAIM_CONFORMANCE_CACHE:-/var/tmp/netclaim-conformance}
#   GOMODCACHE=$CACHE/gomod  GOCACHE=$CACHE/gocache
# Concurrent callers are serialised with flock. Prints the bin folder on the
# last line of stdout; progress and timings go to stderr.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
src="$here/helm"
LOG_PREFIX=build-helm
source "$here/../lib/go-build-env.sh"
bin="$cache/helm/bin"

mkdir -p "$bin"

exec 9>"$cache/helm/.lock"
flock 9

t0="$(now)"
version="$(sed -n 's#^[[:space:]]*require[[:space:]]\+helm\.sh/helm/v4[[:space:]]\+\(v[^[:space:]]*\).*#\1#p; s#^[[:space:]]*helm\.sh/helm/v4[[:space:]]\+\(v[^[:space:]]*\).*#\1#p' "$src/go.mod" | head -1)"
if [ -z "$version" ]; then
  log "no helm.sh/helm/v4 version in $src/go.mod"
  exit 3
fi
srchash="$(cat "$src/go.mod" "$src/go.sum" "$here/build-helm.sh" | sha256sum | cut -c1-16)"
stamp="helm=$version src=$srchash $(go env GOVERSION)"

if [ -x "$bin/helm" ] && [ "$(cat "$bin/.stamp" 2>/dev/null)" = "$stamp" ]; then
  log "reusing $bin ($stamp) [$(secs "$t0" "$(now)") s]"
  echo "$bin"
  exit 0
fi

log "building helm $version into $bin ($stamp; GOMODCACHE/GOCACHE under $cache)"
rm -f "$bin/.stamp"
# The same version stamp Helm's Makefile sets, so `helm version` is right.
ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$version -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
# go build fetches only the modules that provide packages (as build-peers.sh does).
(cd "$src" && go build -mod=readonly -trimpath "-ldflags=$ldflags" -o "$bin/.helm.new" helm.sh/helm/v4/cmd/helm)
mv "$bin/.helm.new" "$bin/helm"
echo "$stamp" >"$bin/.stamp"
log "done in $(secs "$t0" "$(now)") s: $("$bin/helm" version --short 2>/dev/null || echo '?')"
echo "$bin"
