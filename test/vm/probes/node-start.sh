#!/bin/sh
# Which fresh Node.js starts die in the QEMU lane (TCG), and with what: the
# probe behind docs/qemu-lane.md "Why sysctl-readonly.kernel.test.ts stays on
# the host tier".
#   QL_KERNEL=backports QL_DEBS= bash test/vm/qemu-lane.sh -- sh test/vm/probes/node-start.sh
# readonly-child.ts without arguments loads its whole module graph (types
# stripped by Node.js) and then throws its usage error: exit 1 is a clean start.
export PATH="$PWD/node_modules/.bin:$PATH"
echo "kernel $(uname -r), node $(node --version), cpu flags pku: $(grep -c -w pku /proc/cpuinfo), ospke: $(grep -c -w ospke /proc/cpuinfo)"
CHILD=test/fixtures/claim-driver/readonly-child.ts
RO='mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && exec "$0" "$@"'
try() { # label n cmd...
  label=$1; n=$2; shift 2; ok=0; bad=0
  i=0; while [ $i -lt $n ]; do i=$((i+1))
    "$@" >/tmp/p.out 2>&1; rc=$?
    if grep -q 'Check failed\|Fatal error' /tmp/p.out || [ $rc -ge 128 ]; then bad=$((bad+1)); [ -f /tmp/first-$label ] || { cp /tmp/p.out /tmp/first-$label; echo "--- $label first failure rc=$rc:"; grep -v '^\s*$' /tmp/p.out | head -30; }; else ok=$((ok+1)); fi
  done
  echo "=== $label: $ok fine, $bad died (of $n)"
}
try ts-plain 6 node $CHILD
try ts-readonly 6 unshare --mount --propagation private -- sh -c "$RO" node $CHILD
echo 'console.log(1)' > /tmp/x.mjs
try js-plain 6 node /tmp/x.mjs
try ts-liftoff-only 6 node --liftoff-only $CHILD
try ts-no-wasm-tierup 6 node --no-wasm-tier-up $CHILD
