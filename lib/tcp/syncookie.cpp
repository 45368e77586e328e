// SYN cookies (RFC 4987 3.6), in Linux's shape (net/ipv4/syncookies.c): when a listener must not
// keep state for a SYN, its SYN-ACK carries an ISN that encodes what the connection needs and
// proves, when the ACK comes back, that we sent it:
//
//   ISN = H1(tuple) + SEG.SEQ + (minute << 24) + ((H2(tuple, minute) + mss_index) mod 2^24)
//
// H1, H2 are SipHash-2-4 keyed with the stack's secret; `minute` counts 64 s periods, and a
// cookie older than two of them is refused. The MSS is one of four common values. Window scale
// and SACK need a place too: when the peer offered timestamps, the low 4 bits of our TSval carry
// the peer's shift (15 = none) and bit 4 whether SACK was agreed, and come back in its TSecr, as
// in Linux (cookie_init_timestamp). Without timestamps a cookie connection has no window scaling,
// no timestamps and no SACK, exactly as in Linux.
#include "tcp/stack.hpp"

#include <rte_mbuf.h>

#include <algorithm>
#include <array>

namespace tcpterm::tcp {

namespace {

constexpr std::array<std::uint16_t, 4> kMssTable = {536, 1300, 1440, 1460};
constexpr std::uint32_t kMask = 0x00FFFFFFu;
constexpr std::uint32_t kNoWscale = 0xF;
constexpr std::uint32_t kSackBit = 0x10; // TSval bit 4: SACK permitted
constexpr std::uint32_t kTsBits = 0x1F;

} // namespace

void TcpStack::send_syncookie(Listener& l, const net::TcpSegment& seg) noexcept {
    const std::uint16_t peer_mss = seg.opts.has_mss && seg.opts.mss > 0 ? seg.opts.mss : 536;
    const std::uint16_t mss = std::min<std::uint16_t>(peer_mss, cfg_.tcp.mss);
    std::uint32_t idx = 0;
    for (std::uint32_t i = 0; i < kMssTable.size(); ++i) {
        if (kMssTable[i] <= mss) {
            idx = i;
        }
    }
    const auto minute = static_cast<std::uint32_t>((now_ - origin_) / sec(64));
    const Seq cookie = keyed_hash(seg.tuple, kCookieDomain) + seg.seq + (minute << 24) +
                       ((keyed_hash(seg.tuple, kCookieDomain ^ minute) + idx) & kMask);

    rte_mbuf* m = rte_pktmbuf_alloc(mp_);
    if (m == nullptr) {
        ++stats_[Counter::mbuf_exhausted];
        return;
    }
    net::TcpFields f;
    f.tuple = seg.tuple;
    f.seq = cookie;
    f.ack = seg.seq + 1;
    f.flags = net::kSyn | net::kAck;
    f.ttl = cfg_.tcp.ttl;
    f.ip_id = ip_id_++;
    f.window = static_cast<std::uint16_t>(std::min<std::uint32_t>(cfg_.tcp.rcv_buf, 0xFFFF));
    f.syn_options = true;
    f.opts.has_mss = true;
    f.opts.mss = cfg_.tcp.mss;
    if (seg.opts.has_ts && cfg_.tcp.timestamps) {
        const bool ws = seg.opts.has_wscale && cfg_.tcp.window_scaling;
        const std::uint32_t code = ws ? std::min(seg.opts.wscale, net::kMaxWscale) : kNoWscale;
        const std::uint32_t now_ts = static_cast<std::uint32_t>((now_ - origin_) / kNsPerMs) +
                                     keyed_hash(seg.tuple, kTsDomain);
        const bool sack = seg.opts.sack_permitted && cfg_.tcp.sack_permitted;
        std::uint32_t tsval = (now_ts & ~kTsBits) | code | (sack ? kSackBit : 0);
        if (seq_gt(tsval, now_ts)) {
            tsval -= kTsBits + 1; // never ahead of the clock the connection will use
        }
        f.opts.sack_permitted = sack;
        f.opts.has_ts = true;
        f.opts.ts_val = tsval;
        f.opts.ts_ecr = seg.opts.ts_val;
        if (ws) {
            f.opts.has_wscale = true;
            f.opts.wscale = window_shift_for(cfg_.tcp.rcv_buf);
        }
    }
    if (!net::prepend_ipv4_tcp(m, f, cfg_.checksum)) {
        rte_pktmbuf_free(m);
        return;
    }
    l.last_cookie = now_;
    ++stats_[Counter::syncookies_sent];
    ++stats_[Counter::segs_out];
    sink_.emit(m);
}

bool TcpStack::syncookie_ack(Listener& l, rte_mbuf*& m, net::TcpSegment& seg) noexcept {
    const Seq cookie = seg.ack - 1;
    const Seq sseq = seg.seq - 1;
    const auto minute = static_cast<std::uint32_t>((now_ - origin_) / sec(64));
    const std::uint32_t v = cookie - keyed_hash(seg.tuple, kCookieDomain) - sseq;
    const std::uint32_t age = (minute - (v >> 24)) & 0xFF;
    if (age >= 2) {
        return false;
    }
    const std::uint32_t sent_minute = minute - age;
    const std::uint32_t idx = (v - keyed_hash(seg.tuple, kCookieDomain ^ sent_minute)) & kMask;
    if (idx >= kMssTable.size()) {
        return false;
    }
    if (!accepting_ || l.accept_queue.size() >= l.backlog) {
        ++stats_[Counter::accept_overflow];
        return true; // valid, but no room: dropped; the client's retransmission may find room
    }
    Tcb* c = new_tcb(seg.tuple, hash_of(seg.tuple));
    if (c == nullptr) {
        return true; // counted by new_tcb
    }
    ++stats_[Counter::syncookies_validated];
    c->passive = true;
    c->listener = &l;
    c->rcv.irs = sseq;
    c->rcv.nxt = seg.seq;
    c->rcv.adv_edge = seg.seq + std::min<std::uint32_t>(cfg_.tcp.rcv_buf, 0xFFFF);
    c->snd.iss = cookie;
    c->snd.una = seg.ack;
    c->snd.nxt = seg.ack;
    c->snd.max = seg.ack;
    c->ts_ok = seg.opts.has_ts && cfg_.tcp.timestamps;
    const std::uint32_t code = c->ts_ok ? (seg.opts.ts_ecr & 0xF) : kNoWscale;
    c->ws_ok = code != kNoWscale && cfg_.tcp.window_scaling;
    c->sack_ok = c->ts_ok && (seg.opts.ts_ecr & kSackBit) != 0 && cfg_.tcp.sack_permitted;
    c->snd.wscale = c->ws_ok ? static_cast<std::uint8_t>(code) : 0;
    if (!c->ws_ok) {
        c->rcv.wscale = 0;
    }
    if (c->ts_ok) {
        c->ts_recent = seg.opts.ts_val;
        c->ts_recent_stamp = now_;
    }
    net::TcpOptions mss_opt;
    mss_opt.has_mss = true;
    mss_opt.mss = kMssTable[idx];
    set_send_mss(*c, mss_opt, cfg_.tcp);
    c->snd.wnd = static_cast<std::uint32_t>(seg.window) << c->snd.wscale;
    c->snd.max_wnd = c->snd.wnd;
    c->snd.wl1 = seg.seq;
    c->snd.wl2 = seg.ack;
    c->cwnd = cfg_.tcp.initial_cwnd * c->mss;
    set_state(*c, State::established);
    l.accept_queue.push_back(*c);
    c->in_accept_queue = true;
    ++stats_[Counter::passive_opens];
    schedule_idle(*c);
    Tcb& conn = *c;
    if (l.handler != nullptr) {
        l.handler->on_acceptable(l);
    }
    // Data riding on the handshake's ACK is processed as on any established connection.
    if (!conn.dead && (seg.payload_len > 0 || (seg.flags & net::kFin))) {
        rte_mbuf* owned = m;
        m = nullptr;
        established_input(conn, owned, seg);
    }
    return true;
}

} // namespace tcpterm::tcp
