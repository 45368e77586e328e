// TCP behaviour knobs, named after the Linux sysctls and load-balancer profile settings operators
// know (tcp_fin_timeout, tcp_keepalive_*, tcp_max_tw_buckets, ...). Defaults are Linux's unless
// noted. The engine fills this from the TOML config; tests set fields directly.
#pragma once

#include "base/clock.hpp"

#include <cstdint>

namespace tcpterm::tcp {

/// When a data segment carries PSH.
enum class PushPolicy : std::uint8_t {
    /// tcpterm's own: on the segment that empties the send queue.
    queue_empty,
    /// Linux's: on the last segment of each send() or send_mbuf() call (tcp_push), on the full
    /// skb that takes the data past pushed_seq + max_window / 2 (forced_push), and on the last
    /// segment of each TSO packet of two or more segments (__tcp_transmit_skb); details in
    /// output.cpp. (Not named `linux`: GCC predefines that macro in its GNU modes.)
    linux_like,
};

/// The congestion controller of new connections.
enum class CongestionControl : std::uint8_t {
    newreno, // RFC 5681 / 6582
    cubic,   // RFC 9438 (Linux's default), in loss state taken at the first congestion event
};

struct TcpConfig {
    // Close and teardown (shared/TEARDOWN.md).
    Nanos fin_timeout = sec(60); // FIN_WAIT2 of an orphan (tcp_fin_timeout)
    Nanos time_wait = sec(60);   // 2MSL; fixed at 60 s in Linux, configurable here
    std::uint32_t max_tw_buckets = 262'144;
    std::uint32_t orphan_retries = 0; // FIN retransmissions of an orphan; 0 means 8 (as Linux)
    Nanos close_wait_timeout = 0;     // 0 = off (Linux has none; F5 resets after 5 s)
    Nanos idle_timeout = 0;           // 0 = off; no traffic either way for this long
    bool reset_on_timeout = true;     // idle/close-wait timeouts send RST (true) or drop silently
    bool tw_reuse = false; // outgoing connections may reuse a TIME_WAIT four-tuple (RFC 6191)

    // Keepalive (per connection it is off until the application enables it, as SO_KEEPALIVE).
    Nanos keepalive_time = sec(7200);
    Nanos keepalive_intvl = sec(75);
    std::uint32_t keepalive_probes = 9;

    // Retransmission (RFC 6298).
    std::uint32_t syn_retries = 6;
    std::uint32_t synack_retries = 5;
    std::uint32_t retries2 = 15;
    Nanos rto_initial = sec(1);
    Nanos rto_min = ms(200);
    Nanos rto_max = sec(120);
    Nanos user_timeout = 0;        // 0 = off (TCP_USER_TIMEOUT)
    Nanos zero_window_timeout = 0; // 0 = off: probe while the peer answers (retries2 unanswered
                                   // probes, or the user timeout, still end it)

    // Acknowledgement and sending.
    Nanos delayed_ack = ms(40);
    bool quickack = false;           // ACK every segment at once
    bool nodelay = false;            // Nagle off
    std::uint32_t initial_cwnd = 10; // segments (RFC 6928)
    CongestionControl congestion_control = CongestionControl::cubic;

    // Listener.
    std::uint32_t backlog = 4096;     // accept queue (somaxconn)
    std::uint32_t syn_backlog = 4096; // SYN queue (tcp_max_syn_backlog)
    std::uint8_t syncookies = 1;      // 0 off, 1 when the SYN queue overflows, 2 always (as Linux)

    // Buffers and options.
    std::uint16_t mss = 1460; // advertised MSS
    std::uint32_t rcv_buf = 256 * 1024;
    std::uint32_t snd_buf = 256 * 1024;
    bool timestamps = true; // RFC 7323
    bool window_scaling = true;
    std::uint32_t challenge_ack_limit = 1000; // per second per core (RFC 5961 10)
    Nanos invalid_ratelimit = ms(500); // one ACK per connection per this for unacceptable segments
    std::uint8_t ttl = 64;

    // Linux compatibility, for tests that compare segments with Linux's byte for byte (the
    // packetdrill adapter's profile turns both on). The defaults keep tcpterm's behaviour.
    /// SACK (RFC 2018): offer SACK-permitted in our SYN, and in a SYN-ACK when the peer's SYN
    /// offered it (Linux's tcp_sack). With it negotiated, segments held out of order are reported
    /// in SACK blocks and the sender recovers from loss with the scoreboard (RFC 6675). Cookie
    /// SYN-ACKs keep the bit in the cookie's TSval when timestamps are on (as Linux does).
    bool sack_permitted = true;
    PushPolicy push_policy = PushPolicy::queue_empty;
    /// Linux's quick-ACK mode at the start of a connection (icsk_ack.quick): from the first data
    /// segment, the next min(window / (2 * segment size), 16) ACKs owed go out at once instead
    /// of after delayed_ack.
    bool quickack_start = false;
};

} // namespace tcpterm::tcp
