# Sourced by the Go build scripts of the test tiers (test/conformance/build.sh,
# peers/build-peers.sh, test/deploy/build-helm.sh, test/e2e/*/build*.sh): the
# module and build caches they share, the Go environment every build uses, and
# the log and timing helpers. Set LOG_PREFIX first.
#
#   CACHE=${NETCLAIM_CONFORMANCE_CACHE:-/var/tmp/netclaim-conformance}
#   GOMODCACHE=$CACHE/gomod  GOCACHE=$CACHE/gocache
cache="${NETCLAIM_CONFORMANCE_CACHE:-/var/tmp/netclaim-conformance}"

export GOMODCACHE="$cache/gomod"
export GOCACHE="$cache/gocache"
export GOFLAGS="-buildvcs=false"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export CGO_ENABLED=0
mkdir -p "$GOMODCACHE" "$GOCACHE"

log() { printf '%s: %s\n' "$LOG_PREFIX" "$*" >&2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

if ! command -v go >/dev/null 2>&1; then
  log "go is not installed"
  exit 3
fi
