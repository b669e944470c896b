#!/bin/sh
# /init of the Debian Linux guest's initramfs (bench/metal/linux_guest.sh
# builds it; busybox sh). Loads the virtio modules (/etc/modules, in
# dependency order), configures eth0 from the kernel command line --
# tern_ip=ADDR/LEN [tern_gw=GW] for a static address, a DHCP lease through
# busybox udhcpc otherwise -- and starts nginx (one worker). Prints one
# marker line per stage on the console with the guest clock
# (/proc/uptime, CLOCK_BOOTTIME: starts in start_kernel at timekeeping
# init, so it excludes the firmware, the bzImage decompressor and the
# kernel's setup before start_kernel):
#   LINUX_MARK init uptime=S         kernel up, /init starts
#   LINUX_MARK modules uptime=S      virtio modules loaded, eth0 present
#   LINUX_MARK net_up uptime=S ip=A  address configured (lease or static)
#   LINUX_MARK ready uptime=S        nginx listening (the daemon's parent
#                                    returns after bind+listen)
# or LINUX_MARK fail stage=NAME. Then init idles; QEMU is killed from outside.
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# The kernel opened /dev/console from the initramfs if it could (the
# builder makes the node as root); otherwise the console starts here.
[ -t 1 ] || exec </dev/console >/dev/console 2>&1
mark() {
    read -r up _ </proc/uptime
    echo "LINUX_MARK $1 uptime=$up${2:+ $2}"
}
fail() {
    echo "LINUX_MARK fail stage=$1"
    while :; do sleep 3600; done
}
mark init

while read -r m; do
    insmod "/lib/modules/$m.ko" || fail "insmod-$m"
done </etc/modules
# virtio_net's probe runs inside insmod; poll in case a device shows late.
n=0
while [ ! -e /sys/class/net/eth0 ]; do
    n=$((n + 1))
    [ "$n" -gt 5000 ] && fail eth0
    usleep 1000
done
mark modules

ip=
gw=
for arg in $(cat /proc/cmdline); do
    case $arg in
        tern_ip=*) ip=${arg#tern_ip=} ;;
        tern_gw=*) gw=${arg#tern_gw=} ;;
    esac
done
ip link set lo up
ip link set eth0 up
if [ -n "$ip" ]; then
    ip addr add "$ip" dev eth0 || fail static
    [ -n "$gw" ] && { ip route add default via "$gw" || fail route; }
    mark net_up "ip=$ip via=static"
else
    udhcpc -i eth0 -f -q -n -t 20 -T 1 -s /etc/udhcpc.sh >/dev/null 2>&1 || fail dhcp
    mark net_up "ip=$(ip -4 -o addr show dev eth0 | awk '{print $4}') via=dhcp"
fi

nginx -p /nginx -c /nginx/nginx.conf -e stderr || fail nginx
mark ready
while :; do sleep 3600; done
