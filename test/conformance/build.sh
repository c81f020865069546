#!/usr/bin/env bash
# Builds (or reuses) the upstream binaries the conformance tier (T3) runs
# against: kube-apiserver and etcd, from Go modules, for one Kubernetes release.
#
#   test/conformance/build.sh            # default release (the committed go.mod)
#   NETCLAIM_K8S_VERSION=v1.34.4 test/conformance/build.sh
#
# Output: $CACHE/<k8s-version>/bin/{kube-apiserver,etcd} plus a stamp file
# (versions + go version + go.sum hash); a matching stamp means nothing is rebuilt.
# The Go module and build caches live under $CACHE too, so CI runs on the same
# machine reuse them:  CACHE=${NETCLAIM_CONFORMANCE_CACHE:-/var/tmp/netclaim-conformance}
#
# Prints the bin folder on the last line of stdout (everything else goes to stderr).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
src="$here/apiserver"
LOG_PREFIX=conformance-build
source "$here/../lib/go-build-env.sh"
committed="$(sed -n 's#^[[:space:]]*k8s\.io/kubernetes[[:space:]]\+\(v[^[:space:]]*\).*#\1#p' "$src/go.mod" | head -1)"
k8s="${NETCLAIM_K8S_VERSION:-$committed}"

t0="$(now)"
if [ "$k8s" = "$committed" ]; then
  moddir="$src"
else
  # Another release: generate its go.mod/go.sum in the cache, never in the tree.
  moddir="$cache/$k8s/src"
  if [ ! -f "$moddir/go.sum" ] || ! grep -q "k8s.io/kubernetes $k8s" "$moddir/go.mod"; then
    log "generating go.mod for k8s.io/kubernetes $k8s"
    "$src/gen-go-mod.sh" "$k8s" "$moddir"
  fi
fi

etcd="$(sed -n 's#^[[:space:]]*go\.etcd\.io/etcd/server/v3[[:space:]]\+\(v[^[:space:]]*\).*#\1#p' "$moddir/go.mod" | head -1)"
bin="$cache/$k8s/bin"
stamp="k8s=$k8s etcd=$etcd $(go env GOVERSION) gosum=$(sha256sum "$moddir/go.sum" | cut -c1-16)"

if [ -x "$bin/kube-apiserver" ] && [ -x "$bin/etcd" ] && [ "$(cat "$bin/.stamp" 2>/dev/null)" = "$stamp" ]; then
  log "reusing $bin ($stamp) [$(secs "$t0" "$(now)") s]"
  echo "$bin"
  exit 0
fi

log "building kube-apiserver $k8s and etcd $etcd into $bin (GOMODCACHE/GOCACHE under $cache)"
mkdir -p "$bin"
rm -f "$bin/.stamp"
minor="$(echo "$k8s" | cut -d. -f2)"
vpkg=k8s.io/component-base/version
# The same version stamps Kubernetes' own build sets (hack/lib/version.sh), so /version is right.
ldflags="-s -w -X $vpkg.gitVersion=$k8s -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean"
flags=(-mod=readonly -trimpath "-ldflags=$ldflags")
t1="$(now)"
(cd "$moddir" && go mod download)
t2="$(now)"
log "modules ready [$(secs "$t1" "$t2") s]"
(cd "$moddir" && go build "${flags[@]}" -o "$bin/etcd.new" go.etcd.io/etcd/server/v3)
t3="$(now)"
log "etcd built [$(secs "$t2" "$t3") s]"
(cd "$moddir" && go build "${flags[@]}" -o "$bin/kube-apiserver.new" k8s.io/kubernetes/cmd/kube-apiserver)
t4="$(now)"
log "kube-apiserver built [$(secs "$t3" "$t4") s]"
mv "$bin/etcd.new" "$bin/etcd"
mv "$bin/kube-apiserver.new" "$bin/kube-apiserver"
echo "$stamp" > "$bin/.stamp"
log "done in $(secs "$t0" "$(now)") s: $("$bin/kube-apiserver" --version 2>&1 | head -1), etcd $("$bin/etcd" --version 2>&1 | head -1 | awk '{print $NF}')"
echo "$bin"
