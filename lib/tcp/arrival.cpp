// Segment arrival, up to the connection's state machine: the entry points (input, and
// input_burst for a whole RX burst with its lookups overlapped), the demultiplexing to a TIME_WAIT
// record, a control block or a listener, and the two states handled outside the synchronized
// ones: CLOSED (RFC 9293 3.10.7.1, answered with RST) and SYN-SENT (3.10.7.3). LISTEN is in
// listener.cpp, the synchronized states in input.cpp.
#include "tcp/stack.hpp"

#include <rte_mbuf.h>

#include <algorithm>
#include <cerrno>

namespace tcpterm::tcp {
void TcpStack::input(rte_mbuf* m, Nanos now) noexcept {
    Entry guard(*this);
    now_ = now;
    net::TcpSegment seg;
    const net::NetDrop d = net::parse_ipv4_tcp(m, seg);
    if (d != net::NetDrop::none) {
        ++stats_.net_drops[static_cast<std::size_t>(d)];
        rte_pktmbuf_free(m);
        return;
    }
    ++stats_[Counter::segs_in];
    dispatch(table_.find(seg.tuple, hash_of(seg.tuple)), m, seg);
}

void TcpStack::input_burst(rte_mbuf* const* pkts, std::size_t n, Nanos now) noexcept {
    constexpr std::size_t kMax = 32;
    for (; n > kMax; pkts += kMax, n -= kMax) {
        input_burst(pkts, kMax, now);
    }
    now_ = now;
    net::TcpSegment segs[kMax];
    FourTuple keys[kMax];
    std::uint32_t hashes[kMax] = {}; // (GCC cannot see that only the first k are read)
    ConnEntry* found[kMax] = {};
    rte_mbuf* ms[kMax];
    for (std::size_t i = 0; i < n; ++i) {
        rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
    }
    std::size_t k = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const net::NetDrop d = net::parse_ipv4_tcp(pkts[i], segs[k]);
        if (d != net::NetDrop::none) {
            ++stats_.net_drops[static_cast<std::size_t>(d)];
            rte_pktmbuf_free(pkts[i]);
            continue;
        }
        keys[k] = segs[k].tuple;
        hashes[k] = hash_of(keys[k]);
        ms[k++] = pkts[i];
    }
    table_.find_burst(keys, hashes, k, found);
    for (std::size_t i = 0; i < k; ++i) {
        if (found[i] != nullptr) {
            // The control block's first lines: the entry head, the sequence variables, state.
            rte_prefetch0(found[i]);
            rte_prefetch0(reinterpret_cast<const char*>(found[i]) + RTE_CACHE_LINE_SIZE);
        }
    }
    // Each segment may create or end connections (its own or, through callbacks, others): a
    // lookup made before is trusted only while the table is unchanged; otherwise look again
    // (cheap now: the buckets and entries of this burst are in the cache).
    // One entry guard per segment, as input() has: control blocks released by one segment are
    // back in the pool for the next (a SYN later in the burst must find the room a close made).
    const std::uint64_t gen = table_.generation();
    for (std::size_t i = 0; i < k; ++i) {
        Entry guard(*this);
        ++stats_[Counter::segs_in];
        ConnEntry* e = table_.generation() == gen ? found[i] : table_.find(keys[i], hashes[i]);
        dispatch(e, ms[i], segs[i]);
    }
}

// The segment's connection (`e`, from the table; nullptr: none): TIME_WAIT record, control
// block, listener or nothing. Takes ownership of m.
void TcpStack::dispatch(ConnEntry* e, rte_mbuf* m, net::TcpSegment& seg) noexcept {
    if (e != nullptr) {
        if (e->tagged()) {
            tw_input(static_cast<TimeWaitRecord&>(*e), m, seg);
            return; // tw_input owns m
        }
        Tcb& c = static_cast<Tcb&>(*e);
        if (c.state == State::syn_sent) {
            syn_sent_input(c, m, seg);
            rte_pktmbuf_free(m);
        } else {
            established_input(c, m, seg); // owns m
        }
        return;
    }
    if (Listener* l = find_listener(seg.tuple.laddr, seg.tuple.lport)) {
        listen_input(*l, m, seg);
        if (m != nullptr) {
            rte_pktmbuf_free(m);
        }
        return;
    }
    closed_input(seg);
    rte_pktmbuf_free(m);
}

// RFC 9293 3.10.7.1: no connection. Anything but a RST is answered with a RST.
void TcpStack::closed_input(const net::TcpSegment& seg) noexcept {
    if (seg.flags & net::kRst) {
        ++stats_.drop(TcpDrop::no_listener_rst_in);
        return;
    }
    ++stats_.drop(TcpDrop::no_listener_rst);
    send_rst_for(seg, RstReason::no_connection);
}

// The payload per segment: the smaller MSS of the two, less the bytes of options every segment
// carries (RFC 9293 3.7.1; with timestamps, 12). Call once ts_ok is known.
void set_send_mss(Tcb& c, const net::TcpOptions& o, const TcpConfig& k) noexcept {
    c.peer_mss = o.has_mss && o.mss > 0 ? o.mss : 536; // RFC 9293 3.7.1 default
    // Never below 48 bytes of payload (Linux tcp_min_snd_mss, CVE-2019-11479): a peer must not be
    // able to make us cut data into tiny segments, nor an MSS below the options wrap around.
    constexpr std::uint16_t kMinSendMss = 48;
    const auto options = static_cast<std::uint16_t>(c.ts_ok ? 12 : 0);
    const std::uint16_t mss = std::min<std::uint16_t>(c.peer_mss, k.mss);
    c.mss = mss > kMinSendMss + options ? static_cast<std::uint16_t>(mss - options) : kMinSendMss;
}

// RFC 9293 3.10.7.3: SYN-SENT.
void TcpStack::syn_sent_input(Tcb& c, rte_mbuf* /*m*/, const net::TcpSegment& seg) noexcept {
    const bool has_ack = seg.flags & net::kAck;
    if (has_ack && (seq_leq(seg.ack, c.snd.iss) || seq_gt(seg.ack, c.snd.max))) {
        ++stats_.drop(TcpDrop::syn_sent_bad);
        if (!(seg.flags & net::kRst)) {
            send_rst_for(seg, RstReason::bad_ack);
        }
        return;
    }
    if (seg.flags & net::kRst) {
        if (has_ack) {
            ++stats_.rst_received[static_cast<std::size_t>(State::syn_sent)];
            ++stats_[Counter::conn_refused];
            destroy(c, ECONNREFUSED);
        } else {
            ++stats_.drop(TcpDrop::syn_sent_bad);
        }
        return;
    }
    if (!(seg.flags & net::kSyn)) {
        ++stats_.drop(TcpDrop::syn_sent_bad);
        return;
    }
    c.rcv.irs = seg.seq;
    c.rcv.nxt = seg.seq + 1;
    c.rcv.adv_edge = c.rcv.nxt;
    c.ws_ok = seg.opts.has_wscale && cfg_.tcp.window_scaling;
    c.snd.wscale = c.ws_ok ? std::min(seg.opts.wscale, net::kMaxWscale) : 0;
    if (!c.ws_ok) {
        c.rcv.wscale = 0;
    }
    c.ts_ok = seg.opts.has_ts && cfg_.tcp.timestamps;
    if (c.ts_ok) {
        c.ts_recent = seg.opts.ts_val;
        c.ts_recent_stamp = now_;
    }
    c.sack_ok = seg.opts.sack_permitted && cfg_.tcp.sack_permitted; // for a simultaneous open
    set_send_mss(c, seg.opts, cfg_.tcp);
    c.last_rx = now_;
    c.snd.wnd = seg.window; // not scaled in a SYN
    c.snd.max_wnd = c.snd.wnd;
    c.snd.wl1 = seg.seq;
    c.snd.wl2 = seg.ack;
    c.cwnd = cfg_.tcp.initial_cwnd * c.mss;
    if (has_ack) {
        c.snd.una = seg.ack;
        if (c.rtt_start != 0 && c.retries == 0) {
            update_rtt(c, now_ - c.rtt_start);
        }
        c.rtt_start = 0;
        c.retries = 0;
        wheel_.cancel(c.rtx_timer);
        set_state(c, State::established);
        send_ack(c);
        schedule_idle(c);
        if (c.handler != nullptr) {
            c.handler->on_connected(c);
        }
        if (!c.dead) {
            output(c);
        }
    } else {
        // Simultaneous open: SYN-RECEIVED, our SYN again with the ACK of theirs.
        set_state(c, State::syn_recv);
        send_syn(c);
        arm_rtx(c);
    }
}

} // namespace tcpterm::tcp
