// The eleven TCP states (RFC 9293 3.3.2), defined once. The list gives the enum, the names
// operators know (Linux's ss spelling), and BSD's netstat spelling used by the packetdrill state
// file.
#pragma once

#include <cstdint>
#include <string_view>

namespace tcpterm::tcp {

//  name          ss name         BSD netstat name
#define TCPTERM_TCP_STATES(X)                                                                      \
    X(closed, "CLOSED", "CLOSED")                                                                  \
    X(listen, "LISTEN", "LISTEN")                                                                  \
    X(syn_sent, "SYN-SENT", "SYN_SENT")                                                            \
    X(syn_recv, "SYN-RECV", "SYN_RCVD")                                                            \
    X(established, "ESTAB", "ESTABLISHED")                                                         \
    X(fin_wait1, "FIN-WAIT-1", "FIN_WAIT_1")                                                       \
    X(fin_wait2, "FIN-WAIT-2", "FIN_WAIT_2")                                                       \
    X(close_wait, "CLOSE-WAIT", "CLOSE_WAIT")                                                      \
    X(closing, "CLOSING", "CLOSING")                                                               \
    X(last_ack, "LAST-ACK", "LAST_ACK")                                                            \
    X(time_wait, "TIME-WAIT", "TIME_WAIT")

enum class State : std::uint8_t {
#define TCPTERM_X(n, ss, bsd) n,
    TCPTERM_TCP_STATES(TCPTERM_X)
#undef TCPTERM_X
};

inline constexpr std::size_t kStateCount = 11;

constexpr std::string_view state_name(State s) noexcept {
    switch (s) {
#define TCPTERM_X(n, ss, bsd)                                                                      \
    case State::n:                                                                                 \
        return #n;
        TCPTERM_TCP_STATES(TCPTERM_X)
#undef TCPTERM_X
    }
    return "?";
}

constexpr std::string_view state_ss_name(State s) noexcept {
    switch (s) {
#define TCPTERM_X(n, ss, bsd)                                                                      \
    case State::n:                                                                                 \
        return ss;
        TCPTERM_TCP_STATES(TCPTERM_X)
#undef TCPTERM_X
    }
    return "?";
}

constexpr std::string_view state_bsd_name(State s) noexcept {
    switch (s) {
#define TCPTERM_X(n, ss, bsd)                                                                      \
    case State::n:                                                                                 \
        return bsd;
        TCPTERM_TCP_STATES(TCPTERM_X)
#undef TCPTERM_X
    }
    return "?";
}

/// States in which both SYNs have been exchanged (RFC 9293 "synchronized" states).
constexpr bool synchronized(State s) noexcept {
    return s != State::closed && s != State::listen && s != State::syn_sent && s != State::syn_recv;
}

} // namespace tcpterm::tcp
