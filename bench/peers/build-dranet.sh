#!/usr/bin/env bash
# Builds (or reuses) the reference peer, kubernetes-sigs/dranet, from its source
# through the Go module proxy, for the side-by-side e2e bench (bench/e2e.ts --peer dranet).
#
#   bench/peers/build-dranet.sh [version]     # a tag, a commit or a branch (DRANET_MODULE=… for the module path)
#
# The module is fetched with `go mod download` (a branch name resolves to a
# pseudo-version), copied out of the read-only module cache and built there with its
# own go.mod/go.sum (replace directives and all), CGO off. Nothing lands in the repo.
# Output: $CACHE/peers/dranet-<version>/dranet plus a stamp (version + go
# version + this script); a matching stamp means nothing is rebuilt.
# Caches are the conformance tier's: CACHE=${NETCLAIM_CONFORMANCE_CACHE:-/var/tmp/netclaim-conformance}
# Prints the binary's path on the last line of stdout; progress goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
LOG_PREFIX=dranet-build
source "$here/../../test/lib/go-build-env.sh"
# sigs.k8s.io/dranet is the project's home since 2025-12; this machine's module proxy
# answers 403 for it (any version, and its version list). Its former path,
# github.com/google/dranet, is served: its last release is the default here.
module="${DRANET_MODULE:-github.com/google/dranet}"
want="${1:-v1.0.1}"

mkdir -p "$cache/peers"
exec 9>"$cache/peers/.dranet-lock"
flock 9

t0="$(now)"
# Resolve the version once (main moves); an exact version is reused without asking the proxy.
if [[ "$want" =~ ^v[0-9] ]]; then
  version="$want"
else
  version="$(cd "$cache/peers" && go list -m -json "$module@$want" | sed -n 's/^[[:space:]]*"Version": "\(.*\)",\{0,1\}$/\1/p' | head -1)"
fi
[ -n "$version" ] || { log "could not resolve $module@$want"; exit 1; }
out="$cache/peers/dranet-$version"
stamp="$module=$version $(go env GOVERSION) script=$(sha256sum "$0" | cut -c1-16)"
if [ -x "$out/dranet" ] && [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
  log "reusing $out/dranet ($stamp) [$(secs "$t0" "$(now)") s]"
  echo "$out/dranet"
  exit 0
fi

log "fetching $module@$version"
dir="$(cd "$cache/peers" && go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
[ -d "$dir" ] || { log "module download gave no source dir"; exit 1; }
src="$out/src"
rm -rf "$src"
mkdir -p "$out"
cp -r "$dir" "$src"
chmod -R u+w "$src"
t1="$(now)"
(cd "$src" && go mod download)
log "modules ready [$(secs "$t1" "$(now)") s]"
t2="$(now)"
(cd "$src" && go build -trimpath -ldflags='-s -w' -o "$out/dranet.new" ./cmd/dranet)
mv "$out/dranet.new" "$out/dranet"
echo "$stamp" > "$out/.stamp"
log "built $out/dranet [$(secs "$t2" "$(now)") s; all $(secs "$t0" "$(now)") s]"
echo "$out/dranet"
