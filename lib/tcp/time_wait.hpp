// TimeWaitRecord: what is left of a connection in TIME_WAIT (RFC 9293 3.3.2), 64 bytes instead of
// a full control block, so a server that closes first can hold millions of them. It keeps just
// enough to re-acknowledge a retransmitted FIN (SND.NXT, RCV.NXT, window, timestamps), to judge a
// new SYN on the same four-tuple (RFC 1122 4.2.2.13, RFC 6191), and its 2MSL timer. It lives in the
// same ConnTable as control blocks, marked by the entry's tag bit.
#pragma once

#include "base/conn_table.hpp"
#include "base/timer_wheel.hpp"
#include "tcp/seq.hpp"

#include <cstdint>

namespace tcpterm::tcp {

struct TimeWaitRecord : ConnEntry {
    TimeWaitRecord() noexcept { set_tag(true); }

    Timer timer;     // 2MSL
    Seq snd_nxt = 0; // our sequence after our FIN
    Seq rcv_nxt = 0; // after the peer's FIN
    std::uint32_t ts_recent = 0;
    std::uint16_t window = 0; // as sent in the header (already scaled)
    std::uint8_t flags = 0;   // kTsOk
    std::uint8_t spare = 0;

    static constexpr std::uint8_t kTsOk = 1;
};
static_assert(sizeof(TimeWaitRecord) <= 64, "TIME_WAIT record must stay within 64 bytes");

} // namespace tcpterm::tcp
