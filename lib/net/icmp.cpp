// ICMP echo reply in place. The ICMP checksum covers the whole message, which may span a chain,
// so it is summed with raw_cksum_mbuf (DPDK's rte_raw_cksum_mbuf made exact for chains with
// odd-length segments, see cksum.hpp); the IPv4 header is re-summed with rte_ipv4_cksum
// because the TTL changes.
#include "net/icmp.hpp"

#include "net/cksum.hpp"
#include "net/packet.hpp"

#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

namespace tcpterm::net {

NetDrop icmp_echo_reply(rte_mbuf* m, const Ipv4Info& ip, std::uint8_t ttl) noexcept {
    const std::uint32_t icmp_len = ip.total_len - ip.hdr_len;
    if (icmp_len < sizeof(rte_icmp_hdr) || ip.total_len > rte_pktmbuf_pkt_len(m)) {
        return NetDrop::bad_icmp;
    }
    if (ip.hdr_len + sizeof(rte_icmp_hdr) > rte_pktmbuf_data_len(m)) {
        return NetDrop::not_contiguous;
    }
    std::uint16_t sum = 0;
    if (raw_cksum_mbuf(m, ip.hdr_len, icmp_len, &sum) != 0 || sum != 0xffff) {
        return NetDrop::bad_icmp;
    }
    auto* h = rte_pktmbuf_mtod(m, rte_ipv4_hdr*);
    auto* icmp = rte_pktmbuf_mtod_offset(m, rte_icmp_hdr*, ip.hdr_len);
    if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || icmp->icmp_code != 0) {
        return NetDrop::icmp_not_echo;
    }

    const std::uint32_t src = h->src_addr;
    h->src_addr = h->dst_addr;
    h->dst_addr = src;
    h->time_to_live = ttl;
    h->hdr_checksum = 0;
    h->hdr_checksum = rte_ipv4_cksum(h);

    icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
    icmp->icmp_cksum = 0;
    raw_cksum_mbuf(m, ip.hdr_len, icmp_len, &sum); // cannot fail: checked above
    icmp->icmp_cksum = static_cast<std::uint16_t>(~sum);

    m->l3_len = ip.hdr_len;
    m->ol_flags &= ~(RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_L4_MASK);
    return NetDrop::none;
}

} // namespace tcpterm::net
