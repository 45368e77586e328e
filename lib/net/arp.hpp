// ARP for Ethernet/IPv4 (RFC 826): enough to answer for the engine's addresses and to resolve a
// next hop. Parsing works on the ARP header that parse_ether() leaves at the start of the mbuf;
// the reply is built in place in the request's mbuf (no allocation on the receive path), and
// requests and gratuitous ARPs (RFC 5227 announcements) are complete frames in new mbufs.
#pragma once

#include "net/drop.hpp"

#include <rte_ether.h>

#include <cstdint>

struct rte_mbuf;
struct rte_mempool;

namespace tcpterm::net {

/// A received Ethernet/IPv4 ARP packet. op in host order (RTE_ARP_OP_REQUEST/REPLY); IPv4
/// addresses in network order.
struct ArpInfo {
    std::uint16_t op = 0;
    rte_ether_addr sha{};
    std::uint32_t sip = 0;
    rte_ether_addr tha{};
    std::uint32_t tip = 0;
};

/// Parses the ARP packet at the start of `m` (Ethernet already stripped) and trims `m` to the
/// 28 ARP bytes (Ethernet padding removed). Failures:
///  - bad_arp: fewer than 28 bytes, or hardware type not Ethernet (1) with length 6, or protocol
///    not IPv4 (0x0800) with length 4;
///  - not_contiguous: the 28 bytes are not within the first segment.
NetDrop parse_arp(rte_mbuf* m, ArpInfo& out) noexcept;

/// Turns the request `m` (as parse_arp() accepted it, Ethernet stripped) into its reply, in
/// place: the reply says that the requested address (the request's target IP) is at `my_mac`,
/// and goes to the requester, Ethernet header included, ready to transmit. The caller has
/// checked that the target IP is its own. Returns false (m unchanged) if `m` is not an ARP
/// request or the headroom cannot take the Ethernet header.
bool arp_make_reply(rte_mbuf* m, const rte_ether_addr& my_mac) noexcept;

/// Builds a broadcast request "who has target_ip, tell my_ip" as a complete Ethernet frame.
/// Returns nullptr if the pool is empty.
rte_mbuf* build_arp_request(rte_mempool* mp, const rte_ether_addr& my_mac, std::uint32_t my_ip,
                            std::uint32_t target_ip) noexcept;

/// Builds a gratuitous ARP (an RFC 5227 announcement: a broadcast request with sender and target
/// IP both my_ip, target MAC zero) as a complete Ethernet frame, sent when an address comes up so
/// neighbours update their caches. Returns nullptr if the pool is empty.
rte_mbuf* build_gratuitous_arp(rte_mempool* mp, const rte_ether_addr& my_mac,
                               std::uint32_t my_ip) noexcept;

} // namespace tcpterm::net
