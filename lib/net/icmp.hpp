// ICMP echo (RFC 792), so the engine's addresses answer ping. The reply reuses the request's
// mbuf: addresses swapped, type changed, checksums recomputed, no allocation and no copy of the
// payload, which may span a chain. Every other ICMP message is refused (icmp_not_echo) for now.
#pragma once

#include "net/drop.hpp"

#include <cstdint>

struct rte_mbuf;

namespace tcpterm::net {

struct Ipv4Info;

/// Turns the echo request in `m` (data at the IPv4 header, accepted by parse_ipv4() with proto
/// ICMP, described by `ip`) into the echo reply, in place: source and destination swapped, TTL
/// set to `ttl`, type 0, IPv4 and ICMP checksums recomputed in software (TX checksum offload
/// flags cleared). Failures (m unchanged):
///  - bad_icmp: fewer than 8 ICMP bytes, or the ICMP checksum (over the whole message, chain
///    included) is wrong;
///  - not_contiguous: the IPv4 and ICMP headers are not within the first segment;
///  - icmp_not_echo: a valid ICMP message other than an echo request (code 0).
NetDrop icmp_echo_reply(rte_mbuf* m, const Ipv4Info& ip, std::uint8_t ttl = 64) noexcept;

} // namespace tcpterm::net
