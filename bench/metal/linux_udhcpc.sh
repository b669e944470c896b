#!/bin/sh
# udhcpc's event script in the Debian Linux guest (linux_init.sh): applies
# the lease (busybox passes ip, mask as a prefix length, router).
case $1 in
    deconfig)
        ip -4 addr flush dev "$interface"
        ip link set "$interface" up
        ;;
    bound|renew)
        ip -4 addr flush dev "$interface"
        ip addr add "$ip/${mask:-24}" dev "$interface"
        for r in $router; do
            ip route add default via "$r" dev "$interface"
            break
        done
        ;;
esac
exit 0
