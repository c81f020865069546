#!/usr/bin/env bash
# Builds (or reuses) the two container images of the node end-to-end tier, as
# OCI image-layout tar archives that `ctr -n k8s.io images import FILE` takes
# (no registry is reachable, so nothing is ever pulled):
#
#   pause.oci.tar  registry.k8s.io/pause:3.10.2  containerd 2.4's default sandbox
#                  image name (pinned_images.sandbox); the binary is our own
#                  test/e2e/images/pause (Go, static): waits for SIGINT/SIGTERM,
#                  exits 0, reaps children. Runs as 65535:65535 like upstream's.
#   tools.oci.tar  netclaim.test/e2e-tools:1  Debian's static busybox (applets as
#                  symlinks in /usr/bin) plus the host's ip (iproute2),
#                  ethtool and dash (as /bin/sh: busybox's sh would run its own
#                  ip applet) with the shared libraries ldd lists for them, at the
#                  same paths (usr-merged: /bin /sbin /lib /lib64 are symlinks
#                  into /usr, as on Debian 12). Default command: sleep infinity.
#
#   test/e2e/images/build-images.sh
#   NETCLAIM_PAUSE_IMAGE=registry.k8s.io/pause:3.10 test/e2e/images/build-images.sh
#
# Each archive holds one single-layer linux/amd64 image: gzip'd layer (gzip -n),
# config with rootfs.diff_ids = sha256 of the uncompressed layer, manifest,
# index.json naming it through the io.containerd.image.name (full name) and
# org.opencontainers.image.ref.name (tag) annotations. Deterministic: tar
# entries sorted, mtime 0, owner 0:0, umask 022, gzip without name/time, so the
# same inputs give the same digests.
#
# Output: $CACHE/e2e/images/{pause.oci.tar,tools.oci.tar,images.txt,.stamp};
# images.txt has one line per image: NAME MANIFEST-DIGEST FILE. A matching stamp
# (hash of the sources, this script, the Go version and every host file copied
# in) means nothing is rebuilt. CACHE=${NETCLAIM_CONFORMANCE_CACHE:-/var/tmp/netclaim-conformance}
# Concurrent callers are serialised with flock. Prints the images folder on the
# last line of stdout; progress and timings go to stderr.
set -euo pipefail
umask 022

here="$(cd "$(dirname "$0")" && pwd)"
LOG_PREFIX=build-images
source "$here/../../lib/go-build-env.sh"
out="$cache/e2e/images"
pause_image="${NETCLAIM_PAUSE_IMAGE:-registry.k8s.io/pause:3.10.2}"
tools_image="netclaim.test/e2e-tools:1"

export GOOS=linux GOARCH=amd64
mkdir -p "$out"

if [ "$(uname -m)" != x86_64 ]; then
  log "only linux/amd64 is supported (this is $(uname -m))"
  exit 3
fi

exec 9>"$out/.lock"
flock 9

t0="$(now)"

# Host packages whose files go into the tools image.
missing=()
[ -x /usr/bin/busybox ] && dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || missing+=(busybox-static)
[ -x /usr/sbin/ip ] || missing+=(iproute2)
[ -x /usr/sbin/ethtool ] || missing+=(ethtool)
[ -x /usr/bin/dash ] || missing+=(dash)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
    apt-get update >&2
    apt-get install -y --no-install-recommends "${missing[@]}" >&2
  fi
fi

# The host files for the tools image: "SOURCE DEST-IN-IMAGE MODE" lines.
# Libraries go to the directory ldd names, resolved through the host's usr-merge
# symlinks (/lib/x86_64-linux-gnu -> /usr/lib/x86_64-linux-gnu), and are copied
# dereferenced under the name ldd gives (the soname).
host_files() {
  echo "/usr/bin/busybox usr/bin/busybox 0755"
  echo "/usr/sbin/ip usr/sbin/ip 0755"
  echo "/usr/sbin/ethtool usr/sbin/ethtool 0755"
  echo "/usr/bin/dash usr/bin/dash 0755"
  ldd /usr/sbin/ip /usr/sbin/ethtool /usr/bin/dash |
    awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(0x/ { print $1 }' |
    LC_ALL=C sort -u |
    while read -r lib; do
      dir="$(realpath "$(dirname "$lib")")"
      mode=0644
      case "$(basename "$lib")" in ld-linux*) mode=0755 ;; esac
      echo "$lib ${dir#/}/$(basename "$lib") $mode"
    done
  if [ -d /etc/iproute2 ]; then
    find /etc/iproute2 -type f | LC_ALL=C sort | while read -r f; do echo "$f ${f#/} 0644"; done
  fi
}
files="$(host_files)"

srchash="$(
  {
    find "$here/pause" -maxdepth 1 -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) | LC_ALL=C sort | xargs sha256sum | sed "s#  $here/#  #"
    sha256sum "$here/build-images.sh" "$here/oci-image.sh" | sed "s#  $here/#  #"
    echo "$files" | while read -r src dst mode; do echo "$(sha256sum <"$src" | cut -c1-64) $dst $mode"; done
  } | sha256sum | cut -c1-16
)"
stamp="pause=$pause_image tools=$tools_image src=$srchash $(go env GOVERSION)"

if [ -f "$out/pause.oci.tar" ] && [ -f "$out/tools.oci.tar" ] && [ -f "$out/images.txt" ] &&
  [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
  log "reusing $out ($stamp) [$(secs "$t0" "$(now)") s]"
  echo "$out"
  exit 0
fi

log "building images into $out ($stamp)"
rm -f "$out/.stamp"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/netclaim-images.XXXXXXXX")"
cleanup() { case "$scratch" in /*/netclaim-images.*) rm -rf -- "$scratch" ;; esac; }
trap cleanup EXIT

source "$here/oci-image.sh"

rm -f "$out/images.txt.new"

# --- pause ---
ts="$(now)"
pause_root="$scratch/pause-root"
mkdir -p "$pause_root"
(cd "$here/pause" && go build -mod=readonly -trimpath -ldflags='-s -w -buildid=' -o "$pause_root/pause" .)
chmod 0755 "$pause_root/pause"
oci_layer "$pause_root" "$scratch/pause-layer"
oci_image "$pause_image" "$out/pause.oci.tar" \
  '{"User":"65535:65535","Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Entrypoint":["/pause"],"WorkingDir":"/"}' \
  "$scratch/pause-layer"
log "pause image built [$(secs "$ts" "$(now)") s]"

# --- tools ---
ts="$(now)"
root="$scratch/tools-root"
mkdir -p "$root"/usr/bin "$root"/usr/sbin "$root"/usr/lib "$root"/usr/lib64 \
  "$root"/dev "$root"/proc "$root"/sys "$root"/etc "$root"/run "$root"/var "$root"/tmp "$root"/root
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
echo "$files" | while read -r src dst mode; do
  mkdir -p "$(dirname "$root/$dst")"
  install -m "$mode" "$src" "$root/$dst" # dereferences symlinks
done
# /bin/sh is dash, not busybox: Debian's static busybox is a "standalone shell"
# (FEATURE_SH_STANDALONE): its sh runs its own applets before searching PATH,
# so `sh -c "ip ..."` would get busybox's ip applet, not iproute2's.
ln -s dash "$root/usr/bin/sh"
# busybox applets, except names a real binary in the image already has (ip, sh).
/usr/bin/busybox --list | LC_ALL=C sort | while read -r applet; do
  case "$applet" in busybox | ip | ethtool | sh | dash) continue ;; esac
  [ -e "$root/usr/bin/$applet" ] || [ -e "$root/usr/sbin/$applet" ] || ln -s busybox "$root/usr/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
# Every directory 0755 except the two set above, whatever the host's modes were.
find "$root" -type d ! -path "$root/tmp" ! -path "$root/root" -exec chmod 0755 {} +
tools_cmd="$(json_array sleep infinity)"
oci_layer "$root" "$scratch/tools-layer"
oci_image "$tools_image" "$out/tools.oci.tar" \
  "{\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"],\"Cmd\":$tools_cmd,\"WorkingDir\":\"/\"}" \
  "$scratch/tools-layer"
log "tools image built [$(secs "$ts" "$(now)") s]"

mv "$out/images.txt.new" "$out/images.txt"
echo "$stamp" >"$out/.stamp"
log "done in $(secs "$t0" "$(now)") s"
echo "$out"
