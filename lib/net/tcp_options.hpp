// TCP options (RFC 9293 3.1, RFC 7323, RFC 2018): parsing into a plain struct and writing in the
// same byte layout as Linux, so segments compare equal to what packetdrill scripts written against
// Linux expect:
//   SYN / SYN-ACK:  <mss N, sackOK, TS val X ecr Y, nop, wscale W>  (20 bytes)
//                   without TS: <mss N, nop, nop, sackOK, nop, wscale W>  (12 bytes)
//                   options the peer did not offer are left out (and their padding with them)
//   other segments: <nop, nop, TS val X ecr Y>  (12 bytes) then, if any,
//                   <nop, nop, sack L:R ...>
#pragma once

#include "net/drop.hpp"

#include <cstddef>
#include <cstdint>

namespace tcpterm::net {

inline constexpr std::uint8_t kOptEol = 0;
inline constexpr std::uint8_t kOptNop = 1;
inline constexpr std::uint8_t kOptMss = 2;
inline constexpr std::uint8_t kOptWscale = 3;
inline constexpr std::uint8_t kOptSackPerm = 4;
inline constexpr std::uint8_t kOptSack = 5;
inline constexpr std::uint8_t kOptTimestamp = 8;

inline constexpr std::size_t kMaxOptionBytes = 40;
inline constexpr std::uint8_t kMaxWscale = 14; // RFC 7323 2.3

struct SackBlock {
    std::uint32_t left;  // host order
    std::uint32_t right; // host order
};

struct TcpOptions {
    bool has_mss = false;
    bool has_wscale = false;
    bool sack_permitted = false;
    bool has_ts = false;
    std::uint8_t wscale = 0; // as received (the receiver clamps values above 14, RFC 7323 2.3)
    std::uint16_t mss = 0;
    std::uint32_t ts_val = 0;
    std::uint32_t ts_ecr = 0;
    std::uint8_t sack_count = 0; // number of valid entries in sack[]
    SackBlock sack[4]{};
};

/// Parses `len` bytes of options. Unknown options with a valid length are skipped. A length byte
/// below 2 or running past the end, or a known option with the wrong length, returns
/// NetDrop::bad_tcp_option. MSS, window scale and SACK-permitted are only recorded when `syn` is
/// true (RFC 9293 3.1: they are meaningful only on SYN segments).
NetDrop parse_tcp_options(const std::uint8_t* p, std::size_t len, bool syn,
                          TcpOptions& out) noexcept;

/// Writes the options for a SYN or SYN-ACK (Linux layout, see above) and returns the byte count
/// (a multiple of 4, at most 40). Emits MSS if has_mss, SACK-permitted if sack_permitted, TS if
/// has_ts, window scale if has_wscale.
std::size_t write_syn_options(std::uint8_t* out, const TcpOptions& o) noexcept;

/// Writes the options of a non-SYN segment: timestamps if has_ts, then up to the SACK blocks that
/// fit in 40 bytes (3 with timestamps, 4 without). Returns the byte count (a multiple of 4).
std::size_t write_options(std::uint8_t* out, const TcpOptions& o) noexcept;

} // namespace tcpterm::net
