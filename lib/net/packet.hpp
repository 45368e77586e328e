// Parsing and building IPv4/TCP packets in mbufs.
//
// The TCP core speaks raw IPv4 (no Ethernet): input mbufs start at the IPv4 header, and output
// mbufs are built with the IPv4 header first and enough headroom left for the engine to prepend
// Ethernet. The same L3 form is what the packetdrill adapter exchanges.
//
// Checksums use DPDK's helpers (rte_ipv4_cksum, rte_ipv4_udptcp_cksum_mbuf, rte_ipv4_phdr_cksum)
// and the offload flags: on receive, RTE_MBUF_F_RX_IP_CKSUM_GOOD/BAD and RTE_MBUF_F_RX_L4_CKSUM_*
// are trusted when the NIC set them, otherwise the sums are checked in software; on transmit, the
// caller asks for offload (the port supports it) or a software checksum.
#pragma once

#include "base/four_tuple.hpp"
#include "net/drop.hpp"
#include "net/tcp_options.hpp"

#include <cstdint>

struct rte_mbuf;
struct rte_mempool;

namespace tcpterm::net {

// TCP header flags (RFC 9293 3.1), as in the header's flags byte.
inline constexpr std::uint8_t kFin = 0x01;
inline constexpr std::uint8_t kSyn = 0x02;
inline constexpr std::uint8_t kRst = 0x04;
inline constexpr std::uint8_t kPsh = 0x08;
inline constexpr std::uint8_t kAck = 0x10;
inline constexpr std::uint8_t kUrg = 0x20;
inline constexpr std::uint8_t kEce = 0x40;
inline constexpr std::uint8_t kCwr = 0x80;

inline constexpr std::uint16_t kIpv4HeaderLen = 20;
inline constexpr std::uint16_t kTcpHeaderLen = 20;
/// Headroom every output mbuf keeps for the Ethernet header (and a VLAN tag).
inline constexpr std::uint16_t kL2Headroom = 18;

/// One received TCP segment, parsed and validated. Numbers are in host order; the tuple is in
/// network order and seen from the receiver: laddr/lport = destination, raddr/rport = source.
struct TcpSegment {
    FourTuple tuple;
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint16_t window = 0; // as in the header (not yet scaled)
    std::uint8_t flags = 0;
    std::uint8_t ttl = 0;
    std::uint16_t payload_off = 0; // from the start of the mbuf's data (the IPv4 header)
    std::uint16_t payload_len = 0; // bytes of payload (IPv4 total length - headers)
    TcpOptions opts;
    std::uint8_t tos = 0; // IPv4 TOS byte (DSCP and the ECN field)
};

/// The IPv4 header of a received packet, validated by parse_ipv4(). Addresses in network order.
struct Ipv4Info {
    std::uint32_t src = 0;
    std::uint32_t dst = 0;
    std::uint16_t hdr_len = 0;   // IHL * 4 (20 to 60): where the L4 header starts
    std::uint16_t total_len = 0; // IPv4 total length; the mbuf is trimmed to it
    std::uint8_t proto = 0;
    std::uint8_t ttl = 0;
    std::uint8_t tos = 0;
};

/// Validates the IPv4 header at the start of `m`, whatever the protocol (the engine dispatches
/// TCP and ICMP on Ipv4Info::proto). On success fills `ip`, trims `m` to the total length and
/// returns NetDrop::none. Failures, in the order checked:
///  - too_short: fewer than 20 bytes;
///  - not_contiguous: the header (with its options) is not within the first segment;
///  - bad_ip_version, bad_ip_hlen (IHL < 5 or beyond the packet),
///    bad_ip_len (total length below IHL * 4 or beyond the packet);
///  - bad_ip_csum: RTE_MBUF_F_RX_IP_CKSUM_BAD, or a software check that fails when the NIC gave
///    no verdict (UNKNOWN); GOOD and NONE (integrity verified by the port) are trusted;
///  - ip_fragment: MF set or a non-zero fragment offset;
///  - bad_ip_addr: source zero, loopback, multicast or broadcast; destination zero, multicast
///    or broadcast.
NetDrop parse_ipv4(rte_mbuf* m, Ipv4Info& ip) noexcept;

/// Parses the IPv4 + TCP headers at the start of `m`. On success returns NetDrop::none and fills
/// `seg`; `m` is trimmed to the IPv4 total length (Ethernet padding removed). Validates versions,
/// header lengths, total length, fragments (refused), addresses, ports, data offset, options and
/// both checksums (offload flags honoured). Headers must be in the first segment; the payload may
/// span a chain. Failures: every one of parse_ipv4(), then
///  - not_tcp: the protocol is not TCP;
///  - too_short: less than a TCP header after the IPv4 header;
///  - not_contiguous: the TCP header (with options) is not within the first segment;
///  - bad_tcp_port: source or destination port 0;
///  - bad_tcp_doff: data offset below 5 or beyond the segment;
///  - bad_tcp_csum: RTE_MBUF_F_RX_L4_CKSUM_BAD, or a software check (over the whole chain) that
///    fails when the NIC gave no verdict; GOOD and NONE are trusted;
///  - bad_tcp_option: see parse_tcp_options().
/// Also sets m->l3_len and m->l4_len.
NetDrop parse_ipv4_tcp(rte_mbuf* m, TcpSegment& seg) noexcept;

/// Parses the TCP header at `ip.hdr_len` in `m`, already accepted by parse_ipv4() with proto TCP
/// (for a caller that dispatches on the protocol first). Same TCP failures as parse_ipv4_tcp().
NetDrop parse_tcp(rte_mbuf* m, const Ipv4Info& ip, TcpSegment& seg) noexcept;

/// What to put in an outgoing segment. Tuple from the sender's view: laddr/lport = source.
struct TcpFields {
    FourTuple tuple;
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint16_t window = 0; // already scaled down for the header
    std::uint8_t flags = 0;
    std::uint8_t ttl = 64;
    std::uint8_t tos = 0;
    std::uint16_t ip_id = 0;
    bool syn_options = false; // write_syn_options() layout instead of write_options()
    TcpOptions opts;
};

enum class Checksum : std::uint8_t {
    software, // compute IPv4 and TCP checksums now
    offload,  // set RTE_MBUF_F_TX_IPV4 | IP_CKSUM | TCP_CKSUM and the pseudo-header sum
};

/// Prepends IPv4 + TCP headers (with options) to `m`, whose data is the payload (possibly empty,
/// possibly a chain), sets l3/l4 lengths and packet type, and fills the checksums (l2_len is set
/// by prepend_ether()). The IPv4 header has DF set, as Linux sends TCP. Returns false (and leaves
/// m unchanged) if the headroom cannot hold the headers plus kL2Headroom, or if the IPv4 total
/// length would exceed 65535.
bool prepend_ipv4_tcp(rte_mbuf* m, const TcpFields& f, Checksum mode) noexcept;

/// Allocates an mbuf from `mp` and builds a segment with no payload; nullptr if the pool is empty.
rte_mbuf* build_ipv4_tcp(rte_mempool* mp, const TcpFields& f, Checksum mode) noexcept;

} // namespace tcpterm::net
