// ARP parse, in-place reply and request building, through DPDK's rte_arp_hdr (packed, so its
// 32-bit addresses at offsets 14 and 24 are read without alignment assumptions).
#include "net/arp.hpp"

#include "net/ether.hpp"

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_mbuf.h>

namespace tcpterm::net {

namespace {

void fill(rte_arp_hdr* a, std::uint16_t op, const rte_ether_addr& sha, std::uint32_t sip,
          const rte_ether_addr& tha, std::uint32_t tip) noexcept {
    a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
    a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    a->arp_hlen = RTE_ETHER_ADDR_LEN;
    a->arp_plen = sizeof(std::uint32_t);
    a->arp_opcode = rte_cpu_to_be_16(op);
    a->arp_data.arp_sha = sha;
    a->arp_data.arp_sip = sip;
    a->arp_data.arp_tha = tha;
    a->arp_data.arp_tip = tip;
}

rte_mbuf* build_request(rte_mempool* mp, const rte_ether_addr& my_mac, std::uint32_t sip,
                        std::uint32_t tip) noexcept {
    rte_mbuf* m = rte_pktmbuf_alloc(mp);
    if (m == nullptr) {
        return nullptr;
    }
    auto* a = reinterpret_cast<rte_arp_hdr*>(rte_pktmbuf_append(m, sizeof(rte_arp_hdr)));
    if (a == nullptr) {
        rte_pktmbuf_free(m);
        return nullptr;
    }
    fill(a, RTE_ARP_OP_REQUEST, my_mac, sip, rte_ether_addr{}, tip);
    const rte_ether_addr bcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    if (!prepend_ether(m, my_mac, bcast, RTE_ETHER_TYPE_ARP)) {
        rte_pktmbuf_free(m);
        return nullptr;
    }
    return m;
}

} // namespace

NetDrop parse_arp(rte_mbuf* m, ArpInfo& out) noexcept {
    if (rte_pktmbuf_pkt_len(m) < sizeof(rte_arp_hdr)) {
        return NetDrop::bad_arp;
    }
    if (rte_pktmbuf_data_len(m) < sizeof(rte_arp_hdr)) {
        return NetDrop::not_contiguous;
    }
    const auto* a = rte_pktmbuf_mtod(m, const rte_arp_hdr*);
    if (rte_be_to_cpu_16(a->arp_hardware) != RTE_ARP_HRD_ETHER ||
        a->arp_hlen != RTE_ETHER_ADDR_LEN ||
        rte_be_to_cpu_16(a->arp_protocol) != RTE_ETHER_TYPE_IPV4 ||
        a->arp_plen != sizeof(std::uint32_t)) {
        return NetDrop::bad_arp;
    }
    out.op = rte_be_to_cpu_16(a->arp_opcode);
    out.sha = a->arp_data.arp_sha;
    out.sip = a->arp_data.arp_sip;
    out.tha = a->arp_data.arp_tha;
    out.tip = a->arp_data.arp_tip;
    // The header is all in the first segment, so the padding to cut is too: trim the chain.
    rte_pktmbuf_free(m->next);
    m->next = nullptr;
    m->nb_segs = 1;
    m->data_len = sizeof(rte_arp_hdr);
    m->pkt_len = sizeof(rte_arp_hdr);
    return NetDrop::none;
}

bool arp_make_reply(rte_mbuf* m, const rte_ether_addr& my_mac) noexcept {
    if (rte_pktmbuf_data_len(m) < sizeof(rte_arp_hdr) ||
        rte_pktmbuf_headroom(m) < sizeof(rte_ether_hdr)) {
        return false;
    }
    auto* a = rte_pktmbuf_mtod(m, rte_arp_hdr*);
    if (rte_be_to_cpu_16(a->arp_opcode) != RTE_ARP_OP_REQUEST) {
        return false;
    }
    const rte_ether_addr requester_mac = a->arp_data.arp_sha;
    const std::uint32_t requester_ip = a->arp_data.arp_sip;
    const std::uint32_t wanted_ip = a->arp_data.arp_tip;
    fill(a, RTE_ARP_OP_REPLY, my_mac, wanted_ip, requester_mac, requester_ip);
    return prepend_ether(m, my_mac, requester_mac, RTE_ETHER_TYPE_ARP);
}

rte_mbuf* build_arp_request(rte_mempool* mp, const rte_ether_addr& my_mac, std::uint32_t my_ip,
                            std::uint32_t target_ip) noexcept {
    return build_request(mp, my_mac, my_ip, target_ip);
}

rte_mbuf* build_gratuitous_arp(rte_mempool* mp, const rte_ether_addr& my_mac,
                               std::uint32_t my_ip) noexcept {
    return build_request(mp, my_mac, my_ip, my_ip);
}

} // namespace tcpterm::net
