// IPv4/TCP parsing and building on mbufs. Headers are read and written through DPDK's packed
// structs (rte_ipv4_hdr, rte_tcp_hdr), so an IPv4 header at any offset (after a 14-byte Ethernet
// header, say) is accessed safely, and every checksum comes from DPDK's helpers, which also walk
// a multi-segment payload (through cksum.hpp, which works around a DPDK 22.11 defect with
// odd-length segments). The NIC's RX checksum verdict is trusted when it gave one; software
// verification is the fallback, never the default when hardware already did the work.

#include "net/packet.hpp"

#include "net/cksum.hpp"

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include <cstring>

namespace tcpterm::net {

namespace {

// Trims `m` to `len` bytes. rte_pktmbuf_trim only shortens the last segment; padding that
// fills whole trailing segments is cut here by freeing them.
void trim_to(rte_mbuf* m, std::uint32_t len) noexcept {
    const std::uint32_t excess = rte_pktmbuf_pkt_len(m) - len;
    if (excess == 0 || rte_pktmbuf_trim(m, static_cast<std::uint16_t>(excess)) == 0) {
        return;
    }
    rte_mbuf* seg = m;
    std::uint32_t left = len;
    std::uint16_t nb = 1;
    while (left > seg->data_len) {
        left -= seg->data_len;
        seg = seg->next;
        ++nb;
    }
    seg->data_len = static_cast<std::uint16_t>(left);
    rte_pktmbuf_free(seg->next);
    seg->next = nullptr;
    m->nb_segs = nb;
    m->pkt_len = len;
}

bool bad_source(std::uint32_t be_addr) noexcept {
    const std::uint32_t a = rte_be_to_cpu_32(be_addr);
    return a == 0 || (a >> 24) == 127 || (a >> 28) == 0xE || a == 0xFFFFFFFFu;
}

bool bad_destination(std::uint32_t be_addr) noexcept {
    const std::uint32_t a = rte_be_to_cpu_32(be_addr);
    return a == 0 || (a >> 28) == 0xE || a == 0xFFFFFFFFu;
}

} // namespace

NetDrop parse_ipv4(rte_mbuf* m, Ipv4Info& ip) noexcept {
    if (rte_pktmbuf_pkt_len(m) < sizeof(rte_ipv4_hdr)) {
        return NetDrop::too_short;
    }
    if (rte_pktmbuf_data_len(m) < sizeof(rte_ipv4_hdr)) {
        return NetDrop::not_contiguous;
    }
    const auto* h = rte_pktmbuf_mtod(m, const rte_ipv4_hdr*);
    if ((h->version_ihl >> 4) != 4) {
        return NetDrop::bad_ip_version;
    }
    const std::uint16_t hlen = rte_ipv4_hdr_len(h);
    if (hlen < sizeof(rte_ipv4_hdr) || hlen > rte_pktmbuf_pkt_len(m)) {
        return NetDrop::bad_ip_hlen;
    }
    if (hlen > rte_pktmbuf_data_len(m)) {
        return NetDrop::not_contiguous;
    }
    const std::uint16_t total = rte_be_to_cpu_16(h->total_length);
    if (total < hlen || total > rte_pktmbuf_pkt_len(m)) {
        return NetDrop::bad_ip_len;
    }
    switch (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) {
    case RTE_MBUF_F_RX_IP_CKSUM_GOOD:
    case RTE_MBUF_F_RX_IP_CKSUM_NONE: // sum not in the data, but the port verified the header
        break;
    case RTE_MBUF_F_RX_IP_CKSUM_BAD:
        return NetDrop::bad_ip_csum;
    default:
        // Summing a header that includes its own correct checksum gives 0xffff, so ~sum is 0.
        if (rte_ipv4_cksum(h) != 0) {
            return NetDrop::bad_ip_csum;
        }
        break;
    }
    if ((rte_be_to_cpu_16(h->fragment_offset) &
         (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) != 0) {
        return NetDrop::ip_fragment;
    }
    if (bad_source(h->src_addr) || bad_destination(h->dst_addr)) {
        return NetDrop::bad_ip_addr;
    }
    trim_to(m, total);
    ip.src = h->src_addr;
    ip.dst = h->dst_addr;
    ip.hdr_len = hlen;
    ip.total_len = total;
    ip.proto = h->next_proto_id;
    ip.ttl = h->time_to_live;
    ip.tos = h->type_of_service;
    return NetDrop::none;
}

NetDrop parse_tcp(rte_mbuf* m, const Ipv4Info& ip, TcpSegment& seg) noexcept {
    if (ip.proto != IPPROTO_TCP) {
        return NetDrop::not_tcp;
    }
    const std::uint16_t l4_len = static_cast<std::uint16_t>(ip.total_len - ip.hdr_len);
    if (l4_len < sizeof(rte_tcp_hdr)) {
        return NetDrop::too_short;
    }
    if (ip.hdr_len + sizeof(rte_tcp_hdr) > rte_pktmbuf_data_len(m)) {
        return NetDrop::not_contiguous;
    }
    const auto* t = rte_pktmbuf_mtod_offset(m, const rte_tcp_hdr*, ip.hdr_len);
    if (t->src_port == 0 || t->dst_port == 0) {
        return NetDrop::bad_tcp_port;
    }
    const std::uint16_t thlen = static_cast<std::uint16_t>((t->data_off >> 4) * 4);
    if (thlen < sizeof(rte_tcp_hdr) || thlen > l4_len) {
        return NetDrop::bad_tcp_doff;
    }
    if (ip.hdr_len + thlen > rte_pktmbuf_data_len(m)) {
        return NetDrop::not_contiguous;
    }
    switch (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) {
    case RTE_MBUF_F_RX_L4_CKSUM_GOOD:
    case RTE_MBUF_F_RX_L4_CKSUM_NONE:
        break;
    case RTE_MBUF_F_RX_L4_CKSUM_BAD:
        return NetDrop::bad_tcp_csum;
    default:
        if (!ipv4_tcp_cksum_mbuf_ok(m, rte_pktmbuf_mtod(m, const rte_ipv4_hdr*), ip.hdr_len)) {
            return NetDrop::bad_tcp_csum;
        }
        break;
    }
    const bool syn = (t->tcp_flags & kSyn) != 0;
    const auto* opts = reinterpret_cast<const std::uint8_t*>(t + 1);
    if (const NetDrop d = parse_tcp_options(opts, thlen - sizeof(rte_tcp_hdr), syn, seg.opts);
        d != NetDrop::none) {
        return d;
    }
    seg.tuple.laddr = ip.dst;
    seg.tuple.raddr = ip.src;
    seg.tuple.lport = t->dst_port;
    seg.tuple.rport = t->src_port;
    seg.seq = rte_be_to_cpu_32(t->sent_seq);
    seg.ack = rte_be_to_cpu_32(t->recv_ack);
    seg.window = rte_be_to_cpu_16(t->rx_win);
    seg.flags = t->tcp_flags;
    seg.ttl = ip.ttl;
    seg.tos = ip.tos;
    seg.payload_off = static_cast<std::uint16_t>(ip.hdr_len + thlen);
    seg.payload_len = static_cast<std::uint16_t>(l4_len - thlen);
    m->l3_len = ip.hdr_len;
    m->l4_len = thlen;
    return NetDrop::none;
}

NetDrop parse_ipv4_tcp(rte_mbuf* m, TcpSegment& seg) noexcept {
    Ipv4Info ip;
    if (const NetDrop d = parse_ipv4(m, ip); d != NetDrop::none) {
        return d;
    }
    return parse_tcp(m, ip, seg);
}

bool prepend_ipv4_tcp(rte_mbuf* m, const TcpFields& f, Checksum mode) noexcept {
    std::uint8_t opts[kMaxOptionBytes];
    const std::size_t optlen =
        f.syn_options ? write_syn_options(opts, f.opts) : write_options(opts, f.opts);
    const std::uint16_t thlen = static_cast<std::uint16_t>(sizeof(rte_tcp_hdr) + optlen);
    const std::uint16_t hlen = static_cast<std::uint16_t>(sizeof(rte_ipv4_hdr) + thlen);
    if (rte_pktmbuf_headroom(m) < hlen + kL2Headroom ||
        rte_pktmbuf_pkt_len(m) + hlen > UINT16_MAX) {
        return false;
    }
    char* start = rte_pktmbuf_prepend(m, hlen);
    if (start == nullptr) {
        return false;
    }
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(start);
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->type_of_service = f.tos;
    ip->total_length = rte_cpu_to_be_16(static_cast<std::uint16_t>(rte_pktmbuf_pkt_len(m)));
    ip->packet_id = rte_cpu_to_be_16(f.ip_id);
    ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
    ip->time_to_live = f.ttl;
    ip->next_proto_id = IPPROTO_TCP;
    ip->hdr_checksum = 0;
    ip->src_addr = f.tuple.laddr;
    ip->dst_addr = f.tuple.raddr;

    auto* t = reinterpret_cast<rte_tcp_hdr*>(ip + 1);
    t->src_port = f.tuple.lport;
    t->dst_port = f.tuple.rport;
    t->sent_seq = rte_cpu_to_be_32(f.seq);
    t->recv_ack = rte_cpu_to_be_32(f.ack);
    t->data_off = static_cast<std::uint8_t>((thlen / 4) << 4);
    t->tcp_flags = f.flags;
    t->rx_win = rte_cpu_to_be_16(f.window);
    t->cksum = 0;
    t->tcp_urp = 0;
    std::memcpy(t + 1, opts, optlen);

    m->l3_len = sizeof(rte_ipv4_hdr);
    m->l4_len = thlen;
    m->packet_type = RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_TCP;
    m->ol_flags &= ~(RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_L4_MASK);
    if (mode == Checksum::offload) {
        // The NIC sums the segment onto the pseudo-header sum it finds in the checksum field.
        m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;
        t->cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
    } else {
        ip->hdr_checksum = rte_ipv4_cksum(ip);
        t->cksum = ipv4_tcp_cksum_mbuf(m, ip, sizeof(rte_ipv4_hdr));
    }
    return true;
}

rte_mbuf* build_ipv4_tcp(rte_mempool* mp, const TcpFields& f, Checksum mode) noexcept {
    rte_mbuf* m = rte_pktmbuf_alloc(mp);
    if (m == nullptr) {
        return nullptr;
    }
    if (!prepend_ipv4_tcp(m, f, mode)) {
        rte_pktmbuf_free(m);
        return nullptr;
    }
    return m;
}

} // namespace tcpterm::net
