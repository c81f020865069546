set -x
ip netns add ncprobe
ip netns exec ncprobe sh -c 'echo "77 1" > /sys/bus/netdevsim/new_device'
ls /sys/bus/netdevsim/devices/netdevsim77/ /sys/bus/netdevsim/devices/netdevsim77/net
ip -n ncprobe -d -j link show
echo 2 > /sys/bus/netdevsim/devices/netdevsim77/sriov_numvfs
ls /sys/kernel/debug/netdevsim/netdevsim77/
cat /sys/kernel/debug/netdevsim/netdevsim77/max_vfs
ip -n ncprobe link set dev eth0 vf 1 mac 02:11:22:33:44:55 vlan 7 qos 3 spoofchk on trust on state disable
ip -n ncprobe link set dev eth0 vf 0 rate 100 max_tx_rate 200 min_tx_rate 50
ip -n ncprobe link set dev eth0 vf 0 vlan 5 proto 802.1ad
ip -n ncprobe link set dev eth0 vf 0 query_rss on
ip -n ncprobe -d -j -p link show
ip -n ncprobe link show
echo 77 > /sys/bus/netdevsim/del_device
ip -n ncprobe link show
ip -V
