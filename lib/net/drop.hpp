// Why lib/net refuses a packet. One list (X-macro) gives the enum, the printable names (used as
// counter and telemetry keys) and the descriptions in the docs. Every malformed packet is dropped
// with one of these reasons and counted by the caller; nothing malformed is ever trusted.
#pragma once

#include <cstdint>
#include <string_view>

namespace tcpterm::net {

#define TCPTERM_NET_DROPS(X)                                                                       \
    X(too_short, "shorter than the headers it claims")                                             \
    X(not_contiguous, "headers not in the first mbuf segment")                                     \
    X(bad_ether_type, "EtherType neither IPv4 nor ARP")                                            \
    X(bad_ip_version, "IP version is not 4")                                                       \
    X(bad_ip_hlen, "IPv4 header length below 20 or beyond the packet")                             \
    X(bad_ip_len, "IPv4 total length below the header or beyond the packet")                       \
    X(bad_ip_csum, "IPv4 header checksum wrong")                                                   \
    X(ip_fragment, "IPv4 fragment (reassembly is not supported)")                                  \
    X(bad_ip_addr,                                                                                 \
      "source zero/loopback/multicast/broadcast, or destination zero/multicast/broadcast")         \
    X(not_tcp, "IPv4 protocol is not TCP or ICMP")                                                 \
    X(bad_tcp_doff, "TCP data offset below 5 or beyond the segment")                               \
    X(bad_tcp_csum, "TCP checksum wrong")                                                          \
    X(bad_tcp_option, "TCP option with a bad length or truncated")                                 \
    X(bad_tcp_port, "TCP source or destination port is 0")                                         \
    X(bad_arp, "ARP not Ethernet/IPv4 or truncated")                                               \
    X(bad_icmp, "ICMP truncated or checksum wrong")                                                \
    X(icmp_not_echo, "ICMP message other than an echo request (not handled)")

enum class NetDrop : std::uint8_t {
    none = 0,
#define TCPTERM_X(name, desc) name,
    TCPTERM_NET_DROPS(TCPTERM_X)
#undef TCPTERM_X
        count
};

inline constexpr std::size_t kNetDropCount = static_cast<std::size_t>(NetDrop::count);

/// Counter/telemetry name of a reason ("none" for NetDrop::none).
constexpr std::string_view name(NetDrop d) noexcept {
    switch (d) {
    case NetDrop::none:
        return "none";
#define TCPTERM_X(n, desc)                                                                         \
    case NetDrop::n:                                                                               \
        return #n;
        TCPTERM_NET_DROPS(TCPTERM_X)
#undef TCPTERM_X
    case NetDrop::count:
        break;
    }
    return "?";
}

constexpr std::string_view description(NetDrop d) noexcept {
    switch (d) {
    case NetDrop::none:
        return "not dropped";
#define TCPTERM_X(n, desc)                                                                         \
    case NetDrop::n:                                                                               \
        return desc;
        TCPTERM_NET_DROPS(TCPTERM_X)
#undef TCPTERM_X
    case NetDrop::count:
        break;
    }
    return "?";
}

} // namespace tcpterm::net
