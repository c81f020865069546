#!/usr/bin/env bash
# `npm run test:vm`: boots the QEMU lane (Debian's stock kernel with dummy,
# vrf, vlan, ipvlan, bonding, netdevsim and soft-RoCE) and runs every kernel
# test file inside it, on both FFI backends, once per kernel of the matrix.
# Reports land in .cache/vm/vm-<kernel>-<backend>.json.
# The kernels, their modules and the netdevsim builds are cached in
# $QL_CACHE (default /var/tmp/qemu-lane), outside the repository.
#
#   NETCLAIM_LANE_KERNEL  stable (Debian 12's 6.1; "6.1" works too) | backports
#                         (Debian 13's newest trixie-backports kernel) | all  (all)
#   NETCLAIM_LANE_FILES   only these kernel test files (space-separated)
#   NETCLAIM_LANE_BACKENDS  "koffi ffi-rs" (koffi in shared RDMA mode, ffi-rs in exclusive)
set -euo pipefail
cd "$(dirname "$0")/../.."
export NC_REPORT_DIR="$PWD/.cache/vm"
rm -rf "$NC_REPORT_DIR" && mkdir -p "$NC_REPORT_DIR"
export QL_PASSENV="NC_REPORT_DIR NC_REPORT_PREFIX NETCLAIM_LANE_FILES NETCLAIM_LANE_BACKENDS ${QL_PASSENV:-}"
# The VM's watchdog (a wedged guest; hangs inside are the tests' own timeouts): one per
# backend of the boot, 3,600 s. A quiet run takes about 650 s per backend (docs/qemu-lane.md);
# beside `stress-ng --cpu 2` a koffi run passed 19 of 54 files in 1,170 s, a pace of about
# 3,300 s for all, and a fixed 1,800 s for both backends killed such runs with every test passing.
backends=${NETCLAIM_LANE_BACKENDS:-koffi ffi-rs}
export QL_TIMEOUT="${QL_TIMEOUT:-$(( 3600 * $(echo $backends | wc -w) ))}"
# Tests spawn node processes (CLI tests) beside two vitest workers: 2 GB was seen to run short.
export QL_MEM="${QL_MEM:-4G}"
kernels=${NETCLAIM_LANE_KERNEL:-all}
case $kernels in
  all) kernels="stable backports";;
  6.1|stable) kernels=stable;;
  backports) ;;
  *) echo "NETCLAIM_LANE_KERNEL must be stable (6.1), backports or all, not '$kernels'" >&2; exit 2;;
esac
rc=0
for k in $kernels; do
  echo "===== qemu-lane: kernel $k ====="
  t0=$(date +%s)
  QL_KERNEL=$k NC_REPORT_PREFIX="vm-$k" bash test/vm/qemu-lane.sh -- sh test/vm/guest-kernel-tests.sh || rc=$?
  echo "qemu-lane: kernel $k took $(( $(date +%s) - t0 )) s (boot included)"
done
exit $rc
