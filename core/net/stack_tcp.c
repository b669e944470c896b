/*
 * Interface: see net.h (tern_net_attach_tcp). Joins the TCP module to
 * this stack through the seam: TCP's lower layer is tern_net_tcp_output /
 * tern_net_path_mtu with ctx = the stack (plus the TSO and partial-
 * checksum outputs when a device offloads), and the stack's TCP hooks
 * call tern_tcp_input / tern_tcp_icmp_error.
 */
#include "net_internal.h"
#include "tern/tcp.h"

static void hook_input(void *arg, uint32_t src, uint32_t dst, const void *segment, size_t len,
                       bool csum_valid)
{
    tern_tcp_input_offload(arg, src, dst, segment, len, csum_valid);
}

static void hook_icmp(void *arg, uint8_t type, uint8_t code, uint16_t next_mtu, const void *orig,
                      size_t len)
{
    tern_tcp_icmp_error(arg, type, code, next_mtu, orig, len);
}

tern_result tern_net_attach_tcp(struct tern_net *net, struct tern_tcp *tcp,
                                const struct tern_tcp_config *cfg)
{
    struct tern_tcp_lower lower = {
        .output = tern_net_tcp_output,
        .path_mtu = tern_net_path_mtu,
        .ctx = net,
    };
    /* TSO only when a device offers it: TCP then keeps a 64 KiB scratch. */
    if (net->tso_buf != NULL) {
        lower.tso_max = tern_net_tso_max;
        lower.output_tso = tern_net_tcp_output_tso;
    }
    /* Checksums left to the device when any device completes them (a
     * route through another one completes them in software). */
    for (unsigned i = 0; i < net->if_count; i++)
        if (net->ifs[i].offloads & TERN_NET_OFFLOAD_TX_CSUM)
            lower.output_partial = tern_net_tcp_output_partial;
    tern_result r = tern_tcp_init(tcp, net->os, &lower, cfg);  /* counts a failed draw */
    if (r != TERN_OK)
        return r;
    tern_net_set_tcp_hooks(net, hook_input, hook_icmp, tcp);
    return TERN_OK;
}
