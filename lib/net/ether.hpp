// Ethernet framing. The engine strips the Ethernet header on receive, so the layers above see
// the L3 packet that the TCP core and the packetdrill adapter exchange, and prepends it again on
// transmit into the kL2Headroom every output mbuf keeps. Only untagged IPv4 and ARP frames are
// accepted: a VLAN, if used, is stripped and inserted by the NIC (VLAN_STRIP / VLAN_INSERT).
#pragma once

#include "net/drop.hpp"

#include <rte_ether.h>

#include <cstdint>

struct rte_mbuf;

namespace tcpterm::net {

/// A received Ethernet header. ether_type is in host order (RTE_ETHER_TYPE_IPV4 or _ARP).
struct EtherInfo {
    rte_ether_addr dst{};
    rte_ether_addr src{};
    std::uint16_t ether_type = 0;
};

/// Reads the Ethernet header at the start of `m` and strips it (rte_pktmbuf_adj), so that `m`
/// starts at the L3 header. Failures (m unchanged):
///  - too_short: fewer than 14 bytes;
///  - not_contiguous: the header is not within the first segment;
///  - bad_ether_type: EtherType neither IPv4 nor ARP (VLAN tags included).
NetDrop parse_ether(rte_mbuf* m, EtherInfo& out) noexcept;

/// Prepends an Ethernet header (ether_type in host order) and sets m->l2_len. Returns false (m
/// unchanged) if the headroom is smaller than 14 bytes.
bool prepend_ether(rte_mbuf* m, const rte_ether_addr& src, const rte_ether_addr& dst,
                   std::uint16_t ether_type) noexcept;

} // namespace tcpterm::net
