# Sourced by scripts/run-qemu.sh and scripts/run-microvm.sh.
#
# qemu_as_child ARG...: runs qemu-system-x86_64 ARG... as a child of the
# calling script with its standard input (a background job would
# otherwise get /dev/null, and the serial console needs it), passes a
# TERM/INT/HUP to the script on to it (a test that kills the script must
# not leave QEMU running), and returns QEMU's exit status.
qemu_as_child() {
    qemu_child_pid=
    trap '[ -n "$qemu_child_pid" ] && kill "$qemu_child_pid" 2>/dev/null' TERM INT HUP
    qemu-system-x86_64 "$@" <&0 &
    qemu_child_pid=$!
    local status=0
    while :; do
        wait "$qemu_child_pid" && status=0 || status=$?
        kill -0 "$qemu_child_pid" 2>/dev/null || break   # a trapped signal interrupted wait
    done
    return "$status"
}
