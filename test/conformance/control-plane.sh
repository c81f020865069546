#!/usr/bin/env bash
# Shell entry to the conformance control plane (etcd + kube-apiserver on loopback).
#
#   test/conformance/control-plane.sh start    # build or reuse binaries, start, print `export` lines
#   eval "$(test/conformance/control-plane.sh env)"
#   kubectl get resourceslices                 # KUBECONFIG is set (if you have a kubectl)
#   test/conformance/control-plane.sh stop
#   test/conformance/control-plane.sh status
#
# The control plane is held by a background node process (control-plane.ts hold);
# its state (server, token, CA, kubeconfig path, PID) is in $STATE_DIR/state.json,
# STATE_DIR=${NETCLAIM_CONTROL_PLANE_DIR:-/tmp/netclaim-control-plane}.
# With NETCLAIM_CONTROL_PLANE_STATE exported (`env` does that), `npm run test:conformance`
# uses this control plane instead of starting its own.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
state_dir="${NETCLAIM_CONTROL_PLANE_DIR:-/tmp/netclaim-control-plane}"
state="$state_dir/state.json"
node="$root/node_modules/.bin/node"
[ -x "$node" ] || node=node

field() { "$node" -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); console.log(s[process.argv[2]])' "$state" "$1"; }
alive() { [ -f "$state" ] && kill -0 "$(field pid)" 2>/dev/null; }

print_env() {
  echo "export KUBECONFIG='$(field kubeconfigPath)'"
  echo "export NETCLAIM_CONTROL_PLANE_STATE='$state'"
  echo "export NETCLAIM_KUBE_SERVER='$(field server)'"
  echo "export NETCLAIM_KUBE_TOKEN='$(field token)'"
  echo "export NETCLAIM_KUBE_CA='$(field caCertPath)'"
}

case "${1:-}" in
  start)
    if alive; then
      echo "control plane already running (pid $(field pid))" >&2
      print_env
      exit 0
    fi
    mkdir -p "$state_dir"
    rm -f "$state"
    bin="$(bash "$here/build.sh")"
    NETCLAIM_CONFORMANCE_BIN="$bin" setsid "$node" "$here/control-plane.ts" hold "$state" </dev/null >"$state_dir/holder.log" 2>&1 &
    holder=$!
    for _ in $(seq 1 1800); do
      [ -f "$state" ] && break
      if ! kill -0 "$holder" 2>/dev/null; then
        echo "control plane failed to start:" >&2
        cat "$state_dir/holder.log" >&2
        exit 1
      fi
      sleep 0.1
    done
    if [ ! -f "$state" ]; then
      echo "control plane did not come up in 180 s; stopping it" >&2
      kill -TERM "$holder" 2>/dev/null || true
      cat "$state_dir/holder.log" >&2
      exit 1
    fi
    grep -E 'ready at' "$state_dir/holder.log" >&2 || true
    print_env
    ;;
  env)
    alive || { echo "no control plane running (state: $state)" >&2; exit 1; }
    print_env
    ;;
  status)
    if alive; then echo "running: pid $(field pid), $(field version) at $(field server)"; else echo "not running"; exit 1; fi
    ;;
  stop)
    if ! alive; then
      echo "no control plane running" >&2
      rm -f "$state"
      exit 0
    fi
    pid="$(field pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "holder $pid did not stop in 15 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$state"
    echo "control plane stopped" >&2
    ;;
  *)
    echo "usage: $0 start|stop|env|status" >&2
    exit 2
    ;;
esac
