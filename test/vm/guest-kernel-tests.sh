#!/bin/sh
# Runs inside the QEMU lane's VM (see qemu-lane.sh): every kernel test file,
# once per FFI backend, each writing a vitest JSON report to $NC_REPORT_DIR.
# koffi runs with RDMA in its default `shared` namespace mode; then the VM
# switches to `exclusive` (allowed only while no other namespace exists, as on
# a node at boot) and ffi-rs runs, so both modes are exercised.
# The CLI tests (test/cli) spawn a fresh Node.js process per call, and Node
# itself crashes now and then at start-up under TCG emulation (SIGSEGV/SIGTRAP,
# not our code); they run on the host kernel tier instead, and so do the crash
# tests (*.crash.kernel.test.ts), which start a child Node.js per kill point.
# The bundle test (test/bundle) checks packaging, not a kernel feature: host only.
#
#   NETCLAIM_LANE_FILES     only these test files (space-separated; default: all)
#   NETCLAIM_LANE_BACKENDS  these backends, in order ("koffi ffi-rs"; ffi-rs
#                           always runs in exclusive mode)
#   NC_REPORT_PREFIX        report file prefix ("vm"): <prefix>-<backend>.json
export PATH="$PWD/node_modules/.bin:$PATH" CI=true NETCLAIM_IN_VM=1
: "${NC_REPORT_DIR:?}"
mkdir -p "$NC_REPORT_DIR"
echo "qemu-lane guest: kernel $(uname -r), node $(node --version), $(nproc) vCPUs"
rc=0
for backend in ${NETCLAIM_LANE_BACKENDS:-koffi ffi-rs}; do
  if [ "$backend" = ffi-rs ] && command -v rdma >/dev/null 2>&1; then
    rdma system set netns exclusive && echo "qemu-lane guest: RDMA netns mode: $(rdma system show netns 2>&1 | head -1)"
  fi
  echo "===== qemu-lane: kernel tests on $backend ($(uname -r)) ====="
  t0=$(cut -d' ' -f1 /proc/uptime)
  # sysctl-readonly.kernel.test.ts checks a read-only /proc/sys in a mount namespace, nothing this
  # kernel adds; in the guest its child node died with a V8 fatal ("Check failed:
  # it->second.Size() > offset") on both backends, not yet understood: it runs on the host tier.
  # (sh has no pipefail: vitest's own status goes through a file, not `| cat`'s)
  # shellcheck disable=SC2086
  { NETCLAIM_FFI=$backend vitest run --project kernel --exclude 'test/cli/**' --exclude '**/*.crash.kernel.test.ts' --exclude 'test/bundle/**' \
    --exclude 'src/driver/sysctl-readonly.kernel.test.ts' --reporter=default --reporter=json \
    --outputFile.json="$NC_REPORT_DIR/${NC_REPORT_PREFIX:-vm}-$backend.json" ${NETCLAIM_LANE_FILES:-} 2>&1
    echo $? > /tmp/ql-vitest-status; } | cat
  status=$(cat /tmp/ql-vitest-status)
  echo "qemu-lane guest: $backend on $(uname -r) took $(awk -v a="$t0" '{printf "%.0f", $1 - a}' /proc/uptime) s"
  [ $status -eq 0 ] || rc=$status
done
exit $rc
