#!/bin/sh
# netdevsim's carrier after a close, with `ip` alone (no netclaim code): the
# reproduction behind docs/qemu-lane.md's "netdevsim loses its carrier" row.
#   QL_KERNEL=backports QL_DEBS= bash test/vm/qemu-lane.sh -- sh test/vm/probes/netdevsim-carrier.sh
# For each case a fresh netdevsim port in a namespace of its own, up with an
# address; then nothing (control), `ip link set down; up` (close), or a move
# to another namespace and back (round trip); its flags and operstate are
# printed whenever they change over the next seconds.
set -u
st() { ip -n "$1" -o link show dev "$2" 2>/dev/null | sed -E 's/.*<([^>]*)>.*state ([A-Z]+).*/\1 \2/'; }
poll() { # label ns dev seconds
  t0=$(cut -d' ' -f1 /proc/uptime); last=""
  while :; do
    now=$(cut -d' ' -f1 /proc/uptime); s=$(st "$2" "$3")
    [ "$s" != "$last" ] && echo "$1 t+$(awk -v a="$t0" -v b="$now" 'BEGIN{printf "%.2f", b-a}')s: $s, IPv6 link-locals: $(ip -n "$2" -6 -o addr show dev "$3" scope link | wc -l)"
    last=$s
    awk -v n="$now" -v a="$t0" -v s="$4" 'BEGIN{exit !(n-a>s)}' && break
    sleep 0.2
  done
}
echo "kernel $(uname -r); netdevsim ndo_open/ndo_stop: $(grep -w -E 'nsim_(open|stop)' /proc/kallsyms | awk '{print $3}' | tr '\n' ' ')"
for case in control close roundtrip; do
  ip netns add ncph; ip netns add ncpp
  ip netns exec ncph sh -c 'echo "4242 1" > /sys/bus/netdevsim/new_device'
  sleep 1
  dev=$(ip -n ncph -o link show | awk -F': ' '$2!="lo"{print $2}' | head -1)
  ip -n ncph link set "$dev" up; ip -n ncph addr add 10.93.0.1/24 dev "$dev"
  poll "$case: before" ncph "$dev" 3
  case $case in
    close) ip -n ncph link set "$dev" down; ip -n ncph link set "$dev" up;;
    roundtrip)
      ip -n ncph link set "$dev" netns ncpp
      ip -n ncpp link set "$dev" netns ncph
      ip -n ncph link set "$dev" up; ip -n ncph addr add 10.93.0.1/24 dev "$dev";;
  esac
  poll "$case: after" ncph "$dev" 8
  echo 4242 > /sys/bus/netdevsim/del_device
  ip netns del ncph; ip netns del ncpp
done
