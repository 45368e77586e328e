// Ethernet header parse/strip and prepend, through DPDK's rte_ether_hdr.
#include "net/ether.hpp"

#include <rte_byteorder.h>
#include <rte_mbuf.h>

namespace tcpterm::net {

NetDrop parse_ether(rte_mbuf* m, EtherInfo& out) noexcept {
    if (rte_pktmbuf_pkt_len(m) < sizeof(rte_ether_hdr)) {
        return NetDrop::too_short;
    }
    if (rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr)) {
        return NetDrop::not_contiguous;
    }
    const auto* e = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    const std::uint16_t type = rte_be_to_cpu_16(e->ether_type);
    if (type != RTE_ETHER_TYPE_IPV4 && type != RTE_ETHER_TYPE_ARP) {
        return NetDrop::bad_ether_type;
    }
    out.dst = e->dst_addr;
    out.src = e->src_addr;
    out.ether_type = type;
    rte_pktmbuf_adj(m, sizeof(rte_ether_hdr));
    return NetDrop::none;
}

bool prepend_ether(rte_mbuf* m, const rte_ether_addr& src, const rte_ether_addr& dst,
                   std::uint16_t ether_type) noexcept {
    auto* e = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_prepend(m, sizeof(rte_ether_hdr)));
    if (e == nullptr) {
        return false; // headroom too small; rte_pktmbuf_prepend left m unchanged
    }
    e->dst_addr = dst;
    e->src_addr = src;
    e->ether_type = rte_cpu_to_be_16(ether_type);
    m->l2_len = sizeof(rte_ether_hdr);
    return true;
}

} // namespace tcpterm::net
