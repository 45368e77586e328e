// The connection key. Addresses and ports are kept in network byte order, exactly as they sit in
// the packet, so a lookup never byte-swaps. IPv4 only for now: an IPv6 key would be a second type
// with the same interface (the table is keyed through ConnEntry, not through this struct).
#pragma once

#include <cstdint>

namespace tcpterm {

struct FourTuple {
    std::uint32_t laddr = 0; // local (engine side) address, network order
    std::uint32_t raddr = 0; // remote address, network order
    std::uint16_t lport = 0; // network order
    std::uint16_t rport = 0; // network order

    bool operator==(const FourTuple&) const noexcept = default;
};
static_assert(sizeof(FourTuple) == 12);

} // namespace tcpterm
