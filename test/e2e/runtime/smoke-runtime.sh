#!/usr/bin/env bash
# Smoke test of the node e2e tier's runtime on this host: starts the containerd
# from build-runtime.sh with containerd-config.toml.tmpl, in a scratch dir and a
# fresh network namespace, imports the images from build-images.sh and runs
# containers through ctr and through the CRI (crictl), with CNI, CDI and NRI.
# Then it takes everything down again: containers, shims, containerd, cgroups,
# the netns, the scratch dir. Needs root. Nothing touches the host's network.
#
#   test/e2e/runtime/smoke-runtime.sh        # exit 0 when every check passed
#
# Output: progress on stderr, "N passed, N failed" as the last stdout line.
# NETCLAIM_SMOKE_KEEP=1 keeps the scratch dir (logs, configs and container
# output are copied to $CACHE/e2e/smoke-last/ either way);
# NETCLAIM_SMOKE_RUNC=PATH puts another runc (e.g. a wrapper that saves each
# bundle's config.json) in the CRI runtime's BinaryName.
#
# What it checks: plugins cri/nri/overlayfs/runc shim load; both images import
# under their names; `ctr run` of the tools image (ip -j [-d] addr, ip -j route,
# ethtool -k) and of pause (runs as 65535, exits 0 on SIGTERM) in cgroup v1;
# CRI status/RuntimeConfig (cgroupfs); a CRI pod (sandbox = our pause, CNI
# bridge + host-local) with a tools container that gets a CDI device (env edit)
# and an NRI adjustment (from the conformance peers' nri-plugin, when built),
# and whose orphan child pause reaps.
set -euo pipefail
umask 022

here="$(cd "$(dirname "$0")" && pwd)"
cache="${NETCLAIM_CONFORMANCE_CACHE:-/var/tmp/netclaim-conformance}"

log() { printf 'smoke-runtime: %s\n' "$*" >&2; }
pass=0
fail=0
check() { # check NAME COMMAND...
  local name="$1"
  shift
  if "$@"; then
    pass=$((pass + 1))
    log "ok   $name"
  else
    fail=$((fail + 1))
    log "FAIL $name"
  fi
}

if [ "$(id -u)" != 0 ]; then
  log "needs root"
  exit 3
fi

bin="$("$here/build-runtime.sh" | tail -1)"
images="$("$here/../images/build-images.sh" | tail -1)"
pause_image="$(awk '$3 == "pause.oci.tar" { print $1 }' "$images/images.txt")"
tools_image="$(awk '$3 == "tools.oci.tar" { print $1 }' "$images/images.txt")"

rand="$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
netns="ncrt-$rand"
cg="ncrt-$rand" # cgroup (v1 hierarchies and unified) for every container here
scratch="$(mktemp -d /tmp/ncrt.XXXXXX)" # short: the shim socket dir must be <= 42 chars
sock="$scratch/containerd.sock"
ctd_pid=""
nri_pid=""
host_paths=(/var/lib/containerd /run/containerd /opt/containerd /opt/cni /etc/cni /var/lib/cni
  /etc/cdi /var/run/cdi /run/nri /opt/nri /etc/nri /etc/containerd /etc/crictl.yaml)
host_before="$(ls -d "${host_paths[@]}" 2>/dev/null || true)"

cgroup_dirs() { # the dirs of $cg in every cgroup hierarchy
  local d
  for d in /sys/fs/cgroup/*/; do
    [ -d "$d$cg" ] && echo "$d$cg"
  done
  return 0
}
procs_matching() { # PIDs whose command line contains $1
  local p
  for p in /proc/[0-9]*; do
    tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$1" && echo "${p#/proc/}"
  done
  return 0
}

cleanup() {
  local rc=$? p d i
  set +e
  if [ -n "$ctd_pid" ] && kill -0 "$ctd_pid" 2>/dev/null; then
    timeout 30 "$bin/crictl" --config "$scratch/crictl.yaml" rmp --force --all >/dev/null 2>&1
    for i in $(timeout 10 "$bin/ctr" --address "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
      timeout 10 "$bin/ctr" --address "$sock" -n k8s.io tasks kill -s SIGKILL "$i" >/dev/null 2>&1
      sleep 0.5
      timeout 10 "$bin/ctr" --address "$sock" -n k8s.io tasks delete -f "$i" >/dev/null 2>&1
    done
    for i in $(timeout 10 "$bin/ctr" --address "$sock" -n k8s.io containers ls -q 2>/dev/null); do
      timeout 10 "$bin/ctr" --address "$sock" -n k8s.io containers delete "$i" >/dev/null 2>&1
    done
  fi
  [ -n "$nri_pid" ] && kill "$nri_pid" 2>/dev/null
  if [ -n "$ctd_pid" ]; then
    kill -TERM "$ctd_pid" 2>/dev/null
    for i in $(seq 50); do kill -0 "$ctd_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$ctd_pid" 2>/dev/null
    wait "$ctd_pid" 2>/dev/null
  fi
  # Shims (started with -address $sock) outlive containerd; their containers are in $cg.
  for p in $(procs_matching "-address $sock"); do log "killing leftover shim $p"; kill -KILL "$p"; done
  for d in $(cgroup_dirs); do
    for p in $(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null); do
      log "killing leftover container process $p"
      kill -KILL "$p" 2>/dev/null
    done
  done
  sleep 0.3
  for d in $(cgroup_dirs); do find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null; done
  ip netns del "$netns" 2>/dev/null
  # containerd's mounts live in the mount namespace `ip netns exec` made; none should be here.
  awk -v s="$scratch" 'index($5, s) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
    log "unmounting leftover $m"
    umount -l "$m"
  done
  mkdir -p "$cache/e2e/smoke-last"
  cp "$scratch"/*.log "$scratch"/*.json "$scratch"/config.toml "$cache/e2e/smoke-last/" 2>/dev/null
  if [ "${NETCLAIM_SMOKE_KEEP:-}" != 1 ]; then
    case "$scratch" in /tmp/ncrt.??????) rm -rf -- "$scratch" ;; esac
  fi
  # Leftovers: say so, and fail.
  local left=""
  [ -n "$(procs_matching "$scratch")" ] && left+=" processes"
  [ -n "$(cgroup_dirs)" ] && left+=" cgroups"
  ip netns list | grep -q "^$netns\b" && left+=" netns"
  grep -qF "$scratch" /proc/self/mountinfo && left+=" mounts"
  [ "$(ls -d "${host_paths[@]}" 2>/dev/null || true)" = "$host_before" ] || left+=" host-paths($(ls -d "${host_paths[@]}" 2>/dev/null | tr '\n' ' '))"
  if [ -n "$left" ]; then
    log "LEFT BEHIND:$left"
    [ "$rc" = 0 ] && rc=1
  else
    log "clean: no processes, cgroups, netns, mounts or host paths left"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for d in /sys/fs/cgroup/*/; do
  if [ -e "$d$cg" ]; then
    log "cgroup $d$cg exists already"
    exit 1
  fi
done
mkdir -p "$scratch/root" "$scratch/state" "$scratch/cdi" "$scratch/net.d" "$scratch/logs" "$scratch/fifo" "$scratch/ns-run" "$scratch/ns-varlib"
printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 30\n' "$sock" "$sock" >"$scratch/crictl.yaml"

# --- config ---
sed -e "s#{{ROOT}}#$scratch/root#g" -e "s#{{STATE}}#$scratch/state#g" -e "s#{{SOCKET}}#$sock#g" \
  -e "s#{{SHIM_SOCKET_DIR}}#$scratch/s#g" -e "s#{{NRI_SOCKET}}#$scratch/nri.sock#g" \
  -e "s#{{CDI_DIR}}#$scratch/cdi#g" -e "s#{{CNI_BIN}}#$bin#g" -e "s#{{CNI_CONF}}#$scratch/net.d#g" \
  -e "s#{{PAUSE_IMAGE}}#$pause_image#g" -e "s#{{RUNC}}#${NETCLAIM_SMOKE_RUNC:-/usr/sbin/runc}#g" -e "s#{{NETNS_MOUNTS_UNDER_STATE_DIR}}#true#g" -e "s#{{NRI_REQUIRED_PLUGINS}}#[]#g" \
  "$here/containerd-config.toml.tmpl" >"$scratch/config.toml"
if grep -v '^#' "$scratch/config.toml" | grep '{{'; then
  log "unfilled placeholders"
  exit 1
fi
cat >"$scratch/net.d/10-ncrt.conflist" <<EOF
{"cniVersion":"1.0.0","name":"ncrt","plugins":[{"type":"bridge","bridge":"ncrt0","isGateway":false,"ipMasq":false,
 "ipam":{"type":"host-local","dataDir":"$scratch/cni-ipam","ranges":[[{"subnet":"10.244.77.0/24"}]]}}]}
EOF
cat >"$scratch/cdi/netclaim-smoke.json" <<'EOF'
{"cdiVersion":"0.6.0","kind":"netclaim.test/smoke","devices":[{"name":"dev0","containerEdits":{"env":["NETCLAIM_SMOKE_CDI=dev0"]}}],"containerEdits":{}}
EOF

# --- containerd, in its own netns ---
# `ip netns exec` makes a mount namespace (/ rslave) and mounts a fresh sysfs on
# /sys for the new netns: the cgroup mounts under /sys/fs/cgroup are gone there.
# Mount the host's hierarchies again (same options: the same hierarchies), then
# exec containerd. Its mounts (rootfs overlays, pod netns) stay in that namespace.
{
  echo 'set -eu'
  echo 'ip link set lo up' # the CRI stream server listens on 127.0.0.1
  echo 'mount -t tmpfs -o mode=0755,size=64k cgroup-root /sys/fs/cgroup'
  awk '{ for (i = 7; $i != "-"; i++); fs = $(i + 1); if (fs != "cgroup" && fs != "cgroup2") next
         n = split($5, parts, "/"); if (parts[n - 1] != "cgroup" || n != 5) next
         opts = $(i + 3); sub(/^rw,?/, "", opts)
         printf "mkdir -p %s && mount -t %s -o %s %s %s\n", $5, fs, (opts == "" ? "defaults" : opts), fs, $5 }' /proc/self/mountinfo
  # As in the harness: fresh /run and /var/lib (e.g. CNI's result cache, /var/lib/cni, is not configurable).
  echo "mount --bind '$scratch/ns-run' /run && mount --bind '$scratch/ns-varlib' /var/lib"
  echo "exec '$bin/containerd' --config '$scratch/config.toml'"
} >"$scratch/start.sh"
ip netns add "$netns"
ip netns exec "$netns" sh "$scratch/start.sh" >"$scratch/containerd.log" 2>&1 &
ctd_pid=$!
log "containerd pid $ctd_pid in netns $netns, scratch $scratch"
for _ in $(seq 150); do
  "$bin/ctr" --address "$sock" version >/dev/null 2>&1 && break
  kill -0 "$ctd_pid" 2>/dev/null || { log "containerd exited:"; tail -20 "$scratch/containerd.log" >&2; exit 1; }
  sleep 0.2
done
ctr() { "$bin/ctr" --address "$sock" -n k8s.io "$@"; }
# ctr run's runc root and IO FIFOs default to /run/containerd/{runc,fifo}: keep them in scratch.
ctr_run=(run --rm --runc-binary /usr/sbin/runc --runc-root "$scratch/state/runc" --fifo-dir "$scratch/fifo")
crictl() { "$bin/crictl" --config "$scratch/crictl.yaml" "$@"; }

ctr version >&2
ctr plugins ls >"$scratch/plugins.log"
plugin_ok() { awk -v t="$1" -v i="$2" '$1 == t && $2 == i && $NF == "ok" { f = 1 } END { exit !f }' "$scratch/plugins.log"; }
check "plugin cri"        plugin_ok io.containerd.grpc.v1 cri
check "plugin cri runtime" plugin_ok io.containerd.cri.v1 runtime
check "plugin nri"        plugin_ok io.containerd.nri.v1 nri
check "plugin overlayfs"  plugin_ok io.containerd.snapshotter.v1 overlayfs
check "plugin runc shim"  plugin_ok io.containerd.runtime.v2 task
log "plugins not ok: $(awk '$NF != "ok" && NR > 1 { printf "%s/%s(%s) ", $1, $2, $NF }' "$scratch/plugins.log")"
check "nri socket" test -S "$scratch/nri.sock"

# --- images ---
# --local (client-side import, as the e2e harness does) and through the transfer service.
check "import pause --local" ctr images import --local "$images/pause.oci.tar"
check "import tools --local" ctr images import --local "$images/tools.oci.tar"
check "import pause (transfer service)" ctr images import "$images/pause.oci.tar"
ctr images ls >&2
check "images named" sh -c "'$bin/ctr' --address '$sock' -n k8s.io images ls -q | grep -qx '$pause_image' &&
  '$bin/ctr' --address '$sock' -n k8s.io images ls -q | grep -qx '$tools_image'"

# --- ctr run: runc with this host's cgroup v1 ---
out="$(ctr "${ctr_run[@]}" --cgroup "/$cg/t1" "$tools_image" t1 ip -j addr 2>&1)" || true
echo "$out" >"$scratch/ctr-ip-addr.log"
log "ctr run ... ip -j addr: $out"
check "ctr run tools: ip -j addr shows lo" grep -q '"ifname":"lo"' <<<"$out"
out="$(ctr "${ctr_run[@]}" --cgroup "/$cg/t2" "$tools_image" t2 sh -c \
  'ip -j -d addr show lo; ip -j route show table all; ethtool -k lo | head -4; ethtool -g lo; grep -E "memory|pids" /proc/self/cgroup' 2>&1)" || true
echo "$out" >"$scratch/ctr-tools.log"
log "ctr run ... tools: $out"
has_all() { # has_all TEXT PATTERN... (fixed strings)
  local t="$1" p
  shift
  for p in "$@"; do grep -qF -- "$p" <<<"$t" || return 1; done
}
check "ctr run tools: ip -d, route, ethtool -k" has_all "$out" '"promiscuity":' '"table":"local"' 'Features for lo'
check "ctr run tools: in cgroup /$cg/t2" grep -q ":memory:/$cg/t2" <<<"$out"

ctr "${ctr_run[@]}" --cgroup "/$cg/p1" "$pause_image" p1 >"$scratch/ctr-pause.log" 2>&1 &
runpid=$!
for _ in $(seq 50); do ctr tasks ls 2>/dev/null | grep -q '^p1 .*RUNNING' && break; sleep 0.2; done
ctr tasks ls >&2
check "pause runs as 65535" sh -c "cat /sys/fs/cgroup/pids/$cg/p1/cgroup.procs | head -1 | xargs -I{} grep -q '^Uid:.*65535' /proc/{}/status"
ctr tasks kill -s SIGTERM p1
rc=0
wait "$runpid" || rc=$?
log "pause after SIGTERM: exit $rc, output: $(cat "$scratch/ctr-pause.log")"
check "pause exits 0 on SIGTERM" test "$rc" = 0

# --- CRI ---
crictl info >"$scratch/crictl-info.json"
node_m="$here/../../../node_modules/.bin/node"
summary() { # the parts of crictl info that matter here
  "$node_m" -e '
    const i = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const c = i.config || {};
    console.log(JSON.stringify({
      conditions: (i.status?.conditions || []).map(x => `${x.type}=${x.status}${x.reason ? " (" + x.reason + ")" : ""}`),
      cdiSpecDirs: c.cdiSpecDirs, enableCDI: c.enableCDI, sandboxImage: c.pinnedImages?.sandbox ?? c.sandboxImage,
      snapshotter: c.containerd?.snapshotter ?? c.snapshotter, runtime: c.containerd?.defaultRuntimeName,
      systemdCgroup: c.containerd?.runtimes?.runc?.options?.SystemdCgroup, cni: i.cniconfig?.Networks?.length,
      runtimeHandlers: (i.runtimeHandlers || []).map(h => h.name), nri: i.nri ?? c.nri ?? null,
      features: i.features,
    }));' "$1"
}
log "crictl info: $(summary "$scratch/crictl-info.json")"
check "CRI RuntimeReady" grep -q '"RuntimeReady"' "$scratch/crictl-info.json"
check "CRI NetworkReady true" "$node_m" -e '
  const i = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  process.exit(i.status.conditions.some(c => c.type === "NetworkReady" && c.status === true) ? 0 : 1)' "$scratch/crictl-info.json"
check "CRI cdiSpecDirs" grep -q "$scratch/cdi" "$scratch/crictl-info.json"
check "CRI no deprecation condition" sh -c "! grep -q ContainerdHasDeprecationWarnings '$scratch/crictl-info.json'"
crictl runtime-config >"$scratch/crictl-runtime-config.log" 2>&1 || true
log "crictl runtime-config: $(tr -s ' \n' ' ' <"$scratch/crictl-runtime-config.log")"
check "CRI RuntimeConfig: cgroupfs driver" grep -qi cgroupfs "$scratch/crictl-runtime-config.log"
crictl images >&2

# An NRI plugin (the conformance peers' test plugin), if it is built.
nri_plugin="$cache/peers/bin/nri-plugin"
if [ -x "$nri_plugin" ]; then
  "$nri_plugin" --socket "$scratch/nri.sock" --name smoke --idx 50 >"$scratch/nri-plugin.log" 2>&1 &
  nri_pid=$!
  for _ in $(seq 50); do grep -q configured "$scratch/nri-plugin.log" && break; sleep 0.1; done
fi

cat >"$scratch/pod.json" <<EOF
{"metadata":{"name":"smoke","namespace":"default","uid":"ncrt-$rand","attempt":0},
 "log_directory":"$scratch/logs","linux":{"cgroup_parent":"/$cg/pod-smoke"}}
EOF
cat >"$scratch/container.json" <<'EOF'
{"metadata":{"name":"tools"},"image":{"image":"TOOLS"},"log_path":"tools.log",
 "command":["sh","-c","echo cdi=$NETCLAIM_SMOKE_CDI nri=$NETCLAIM_TEST_POD; ip -j -d addr show eth0; ip -j route; ethtool -k eth0 | head -3; ethtool -g eth0 2>&1 | head -3; (sleep 0.2 &); sleep 1; ps -o pid,stat,args"],
 "CDI_devices":[{"name":"netclaim.test/smoke=dev0"}]}
EOF
sed -i "s#TOOLS#$tools_image#" "$scratch/container.json"
pod="$(crictl runp "$scratch/pod.json")" || pod=""
check "CRI RunPodSandbox (pause $pause_image, CNI bridge)" test -n "$pod"
if [ -n "$pod" ]; then
  crictl inspectp "$pod" >"$scratch/crictl-inspectp.json"
  log "pod ip: $(crictl inspectp -o go-template --template '{{.status.network.ip}}' "$pod")"
  cid="$(crictl create --no-pull "$pod" "$scratch/container.json" "$scratch/pod.json")" || cid=""
  check "CRI CreateContainer" test -n "$cid"
  if [ -n "$cid" ]; then
    crictl start "$cid" >/dev/null
    for _ in $(seq 100); do
      [ "$(crictl inspect -o go-template --template '{{.status.state}}' "$cid")" = CONTAINER_EXITED ] && break
      sleep 0.1
    done
    crictl logs "$cid" >"$scratch/cri-tools.log" 2>&1 || true
    log "CRI container output: $(cat "$scratch/cri-tools.log")"
    check "CRI container: CDI env injected" grep -q 'cdi=dev0' "$scratch/cri-tools.log"
    check "CRI container: eth0 from CNI bridge" grep -q '"ifname":"eth0"' "$scratch/cri-tools.log"
    check "CRI container: pause is PID 1 and reaped the orphan" sh -c "grep -q '^ *1 .*/pause' '$scratch/cri-tools.log' && ! grep -q ' Z ' '$scratch/cri-tools.log'"
    if [ -n "$nri_pid" ]; then
      check "CRI container: NRI adjustment (env) applied" grep -q 'nri=smoke' "$scratch/cri-tools.log"
    fi
  fi
  crictl stopp "$pod" >/dev/null
  crictl rmp "$pod" >/dev/null
fi
if [ -n "$nri_pid" ]; then
  sleep 0.5
  log "NRI plugin events: $(tr '\n' ' ' <"$scratch/nri-plugin.log")"
  check "NRI plugin saw RunPodSandbox" grep -q '"event":"run-pod-sandbox"' "$scratch/nri-plugin.log"
  # The pod netns is a bind mount in containerd's mount namespace: from outside it, not an nsfs.
  log "NRI pod netns seen from the host mount namespace is nsfs: $(grep -o '"netnsIsNsfs":[a-z]*' "$scratch/nri-plugin.log" | head -1)"
fi
log "written to containerd's private /run and /var/lib: $(cd "$scratch" && find ns-run ns-varlib -mindepth 1 -maxdepth 3 | tr '\n' ' ')"
grep -iE 'level=(warn|error)' "$scratch/containerd.log" | sed 's/^/smoke-runtime: containerd: /' | sort | uniq -c | sort -rn | head -40 >&2 || true

log "$pass passed, $fail failed"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
