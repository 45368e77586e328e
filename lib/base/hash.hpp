// Hashes of the connection key, from DPDK rather than hand-written: CRC32-C (rte_hash_crc, the
// SSE4.2 instruction) for software lookup, and Toeplitz (rte_softrss_be) to predict the queue a
// NIC's RSS will pick for a flow, which is how locally opened connections are steered back to
// their owning core.
#pragma once

#include "base/four_tuple.hpp"

#include <rte_byteorder.h>
#include <rte_hash_crc.h>
#include <rte_thash.h>

#include <cstdint>

namespace tcpterm {

/// Software hash of a connection key (CRC32-C over the 12 bytes).
inline std::uint32_t hash_crc(const FourTuple& t, std::uint32_t seed = 0x7C5C8A4Bu) noexcept {
    // Three 4-byte steps: the key is 4-byte aligned, and rte_hash_crc() would load it 8 bytes at
    // a time (a misaligned load, which UBSan rightly reports).
    std::uint32_t c = rte_hash_crc_4byte(t.laddr, seed);
    c = rte_hash_crc_4byte(t.raddr, c);
    return rte_hash_crc_4byte(
        static_cast<std::uint32_t>(t.lport) | (static_cast<std::uint32_t>(t.rport) << 16), c);
}

/// The Toeplitz hash a NIC computes for this flow as seen on receive (source = remote, destination
/// = local), given the RSS key already converted with rte_convert_rss_key().
inline std::uint32_t hash_toeplitz_rx(const FourTuple& t,
                                      const std::uint8_t* converted_key) noexcept {
    // rte_softrss_be takes the tuple in host order (src addr, dst addr, src port << 16 | dst port);
    // only the key is pre-converted, which saves the byte swaps of rte_softrss per bit.
    std::uint32_t tuple[3];
    tuple[0] = rte_be_to_cpu_32(t.raddr);
    tuple[1] = rte_be_to_cpu_32(t.laddr);
    tuple[2] =
        (static_cast<std::uint32_t>(rte_be_to_cpu_16(t.rport)) << 16) | rte_be_to_cpu_16(t.lport);
    return rte_softrss_be(tuple, 3, converted_key);
}

} // namespace tcpterm
