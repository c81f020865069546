#!/usr/bin/env bash
# `npm run test:vm`: boots the QEMU lane (Debian's stock kernel with dummy,
# vrf, vlan, ipvlan, bonding, netdevsim and soft-RoCE) and runs every kernel
# test file inside it, on both FFI backends. Reports land in .cache/vm/.
# The kernel, its modules and the netdevsim build are cached in
# $QL_CACHE (default /var/tmp/qemu-lane), outside the repository.
set -euo pipefail
cd "$(dirname "$0")/../.."
export NC_REPORT_DIR="$PWD/.cache/vm"
rm -rf "$NC_REPORT_DIR" && mkdir -p "$NC_REPORT_DIR"
export QL_PASSENV="NC_REPORT_DIR ${QL_PASSENV:-}"
export QL_TIMEOUT="${QL_TIMEOUT:-1800}"
# Tests spawn node processes (CLI tests) beside two vitest workers: 2 GB was seen to run short.
export QL_MEM="${QL_MEM:-4G}"
exec bash test/vm/qemu-lane.sh -- sh test/vm/guest-kernel-tests.sh
