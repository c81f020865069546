#!/usr/bin/env bash
# Builds (or reuses) the container runtime of the node end-to-end tier: pinned
# upstream releases, built from Go modules, each in its own module so that its
# dependency set is exactly the one upstream's go.mod selects:
#
#   containerd, containerd-shim-runc-v2, ctr   test/e2e/runtime/containerd  containerd v2.4.2
#   bridge, host-local, loopback               test/e2e/runtime/cni         CNI plugins v1.10.0
#   crictl                                     test/e2e/runtime/crictl      cri-tools v1.37.0
#   runc                                       Debian's package (/usr/sbin/runc), installed with
#                                              apt-get when missing; its version goes into the stamp
#
# All Go binaries are static (CGO_ENABLED=0). containerd needs build tags for
# that: the btrfs snapshotter needs cgo (no_btrfs); devmapper and zfs are left
# out too (no_devmapper no_zfs: unused here). The CRI plugin, NRI, CDI and the
# overlayfs snapshotter are all in.
#
#   test/e2e/runtime/build-runtime.sh
#
# Output: $CACHE/e2e/runtime/bin/<binaries> plus .stamp (hash of the go.mod/go.sum
# files and this script, the Go version and runc's version); a matching stamp
# means nothing is rebuilt. Modules and build cache are shared with
# test/conformance/build.sh:
#   CACHE=${NETCLAIM_CONFORMANCE_CACHE:-/var/tmp/netclaim-conformance}
#   GOMODCACHE=$CACHE/gomod  GOCACHE=$CACHE/gocache
# Concurrent callers are serialised with flock. Prints the bin folder on the
# last line of stdout; progress and timings go to stderr.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
LOG_PREFIX=build-runtime
source "$here/../../lib/go-build-env.sh"
bin="$cache/e2e/runtime/bin"

mkdir -p "$bin"

exec 9>"$cache/e2e/runtime/.lock"
flock 9

t0="$(now)"

# runc comes from Debian (1.1.5 on bookworm). containerd's shim finds it on PATH.
if [ ! -x /usr/sbin/runc ]; then
  log "installing runc with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y --no-install-recommends runc >&2; then
    apt-get update >&2
    apt-get install -y --no-install-recommends runc >&2
  fi
fi
runc_version="$(/usr/sbin/runc --version | awk 'NR == 1 { print $3 }')"

modver() { # modver MODDIR MODULE -> the version the module's go.mod requires
  sed -n "s#^[[:space:]]*$2[[:space:]]\+\(v[^[:space:]]*\).*#\1#p" "$here/$1/go.mod" | head -1
}
containerd_v="$(modver containerd github.com/containerd/containerd/v2)"
cni_v="$(modver cni github.com/containernetworking/plugins)"
crictl_v="$(modver crictl sigs.k8s.io/cri-tools)"

srchash="$(
  {
    find "$here/containerd" "$here/cni" "$here/crictl" -maxdepth 1 -type f \( -name 'go.mod' -o -name 'go.sum' \) -print
    echo "$here/build-runtime.sh"
  } | LC_ALL=C sort | xargs sha256sum | sed "s#  $here/#  #" | sha256sum | cut -c1-16
)"
stamp="containerd=$containerd_v cni=$cni_v crictl=$crictl_v runc=$runc_version src=$srchash $(go env GOVERSION)"

names=(containerd containerd-shim-runc-v2 ctr bridge host-local loopback crictl)
all_present() {
  local n
  for n in "${names[@]}"; do [ -x "$bin/$n" ] || return 1; done
}

if all_present && [ "$(cat "$bin/.stamp" 2>/dev/null)" = "$stamp" ]; then
  log "reusing $bin ($stamp) [$(secs "$t0" "$(now)") s]"
  echo "$bin"
  exit 0
fi

log "building into $bin ($stamp; GOMODCACHE/GOCACHE under $cache)"
rm -f "$bin/.stamp"

# The same tags and version stamps as upstream's static release builds.
ctd_tags="no_btrfs no_devmapper no_zfs urfave_cli_no_docs osusergo netgo static_build"
ctd_pkg=github.com/containerd/containerd/v2
ctd_ld="-s -w -X $ctd_pkg/version.Version=$containerd_v -X $ctd_pkg/version.Package=$ctd_pkg -X $ctd_pkg/version.Revision=netclaim-e2e"
cni_ld="-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$cni_v"
crictl_ld="-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=${crictl_v#v}"

# name | module dir | package | tags | ldflags
targets=(
  "containerd|containerd|$ctd_pkg/cmd/containerd|$ctd_tags|$ctd_ld"
  "containerd-shim-runc-v2|containerd|$ctd_pkg/cmd/containerd-shim-runc-v2|$ctd_tags no_grpc|$ctd_ld"
  "ctr|containerd|$ctd_pkg/cmd/ctr|$ctd_tags|$ctd_ld"
  "bridge|cni|github.com/containernetworking/plugins/plugins/main/bridge||$cni_ld"
  "host-local|cni|github.com/containernetworking/plugins/plugins/ipam/host-local||$cni_ld"
  "loopback|cni|github.com/containernetworking/plugins/plugins/main/loopback||$cni_ld"
  "crictl|crictl|sigs.k8s.io/cri-tools/cmd/crictl||$crictl_ld"
)
# go build fetches only the modules that provide packages.
for t in "${targets[@]}"; do
  IFS='|' read -r name dir pkg tags ld <<<"$t"
  ts="$(now)"
  (cd "$here/$dir" && go build -mod=readonly -trimpath "-tags=$tags" "-ldflags=$ld" -o "$bin/.$name.new" "$pkg")
  mv "$bin/.$name.new" "$bin/$name"
  log "$name built [$(secs "$ts" "$(now)") s]"
done
echo "$stamp" >"$bin/.stamp"
log "done in $(secs "$t0" "$(now)") s: $("$bin/containerd" --version), runc $runc_version"
echo "$bin"
