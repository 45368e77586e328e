// Checksums over mbuf chains (internal to lib/net). DPDK 22.11's rte_raw_cksum_mbuf, which
// rte_ipv4_udptcp_cksum_mbuf and its _verify variant are built on, is wrong for a segment that
// starts at an odd offset of the summed range: it truncates that segment's unreduced 32-bit sum
// to 16 bits before byte-swapping it, losing the carries (later DPDK swaps with rte_bswap32 into a
// 64-bit sum). So a chain with an odd-length segment gets a wrong checksum; the net tests show
// it. These wrappers call DPDK's helpers unchanged whenever that case cannot arise (one segment,
// or every boundary at an even offset, the usual case) and otherwise sum each piece with
// rte_raw_cksum, which reduces before the swap. Remove them when DPDK is upgraded.
#pragma once

#include <cstdint>

struct rte_mbuf;
struct rte_ipv4_hdr;

namespace tcpterm::net {

/// True if rte_raw_cksum_mbuf is exact over [off, off + len) of `m`: every segment piece but the
/// last has an even length.
bool dpdk_chain_sum_exact(const rte_mbuf* m, std::uint32_t off, std::uint32_t len) noexcept;

/// rte_raw_cksum_mbuf's contract (non-complemented sum of len bytes from off; 0, or -1 if the
/// range is beyond the packet), exact for every chain.
int raw_cksum_mbuf(const rte_mbuf* m, std::uint32_t off, std::uint32_t len,
                   std::uint16_t* cksum) noexcept;

/// rte_ipv4_udptcp_cksum_mbuf for TCP: the complemented checksum to put in the TCP header (whose
/// checksum field must be 0), over the IPv4 pseudo-header and the L4 bytes from l4_off.
std::uint16_t ipv4_tcp_cksum_mbuf(const rte_mbuf* m, const rte_ipv4_hdr* ip,
                                  std::uint16_t l4_off) noexcept;

/// rte_ipv4_udptcp_cksum_mbuf_verify: true if the L4 checksum in the packet is right.
bool ipv4_tcp_cksum_mbuf_ok(const rte_mbuf* m, const rte_ipv4_hdr* ip,
                            std::uint16_t l4_off) noexcept;

} // namespace tcpterm::net
