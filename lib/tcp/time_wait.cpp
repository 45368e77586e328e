// TIME_WAIT: entering it (the control block is replaced by a 64-byte record, or, past
// max_tw_buckets, the connection simply closes and the overflow is counted), segment handling in
// it, and its end.
//
//   - a retransmitted FIN is re-acked and the 2MSL timer restarts;
//   - a RST is ignored (RFC 1337: TIME_WAIT assassination), counted;
//   - a SYN opens a new incarnation when its sequence number is above the old RCV.NXT or its
//     timestamp is newer than the last one seen (RFC 1122 4.2.2.13, RFC 6191); otherwise it gets
//     the old ACK;
//   - anything else out of window gets an ACK; an in-window segment is dropped.
#include "tcp/stack.hpp"

#include "base/hash.hpp"

#include <rte_mbuf.h>

namespace tcpterm::tcp {

void TcpStack::enter_time_wait(Tcb& c) noexcept {
    const State from = c.state;
    // The application (if still attached, e.g. after shutdown(WR)) sees an orderly end.
    notify_closed(c, 0);
    if (c.dead) {
        return;
    }
    const bool overflow = tws_.in_use() >= cfg_.tcp.max_tw_buckets;
    TimeWaitRecord* tw = overflow ? nullptr : tws_.create();
    if (tw == nullptr) {
        ++stats_[Counter::tw_overflow];
        destroy(c, 0);
        return;
    }
    tw->key = c.key;
    tw->set_hash(c.hash());
    tw->snd_nxt = c.snd.nxt;
    tw->rcv_nxt = c.rcv.nxt;
    tw->ts_recent = c.ts_recent;
    tw->window = window_to_advertise(c);
    tw->flags = c.ts_ok ? TimeWaitRecord::kTsOk : 0;
    tw->timer.set_kind(static_cast<std::uint8_t>(TimerKind::time_wait));

    c.dead = true;
    release(c); // out of the table: the record takes its place
    ++stats_
          .transitions[static_cast<std::size_t>(from)][static_cast<std::size_t>(State::time_wait)];
    --stats_.states[static_cast<std::size_t>(from)];
    c.state = State::time_wait;
    zombies_.push_back(c);

    table_.insert(*tw); // cannot be full or duplicate: the control block's slot was just freed
    ++stats_.states[static_cast<std::size_t>(State::time_wait)];
    ++stats_[Counter::tw_created];
    wheel_.start(tw->timer, now_ + cfg_.tcp.time_wait);
}

void TcpStack::drop_tw(TimeWaitRecord& tw) noexcept {
    wheel_.cancel(tw.timer);
    table_.erase(tw);
    --stats_.states[static_cast<std::size_t>(State::time_wait)];
    ++stats_.transitions[static_cast<std::size_t>(State::time_wait)]
                        [static_cast<std::size_t>(State::closed)];
    tws_.destroy(&tw);
}

namespace {

void tw_ack(TcpStack& s, const TimeWaitRecord& tw, const StackConfig& cfg, std::uint16_t& ip_id,
            SegmentSink& sink, Nanos now, Nanos origin) {
    rte_mbuf* m = rte_pktmbuf_alloc(s.mempool());
    if (m == nullptr) {
        ++s.mutable_stats()[Counter::mbuf_exhausted];
        return;
    }
    net::TcpFields f;
    f.tuple = tw.key;
    f.seq = tw.snd_nxt;
    f.ack = tw.rcv_nxt;
    f.flags = net::kAck;
    f.window = tw.window;
    f.ttl = cfg.tcp.ttl;
    f.ip_id = ip_id++;
    if (tw.flags & TimeWaitRecord::kTsOk) {
        f.opts.has_ts = true;
        f.opts.ts_val =
            static_cast<std::uint32_t>((now - origin) / kNsPerMs) + s.keyed_hash(tw.key, kTsDomain);
        f.opts.ts_ecr = tw.ts_recent;
    }
    if (!net::prepend_ipv4_tcp(m, f, cfg.checksum)) {
        rte_pktmbuf_free(m);
        return;
    }
    ++s.mutable_stats()[Counter::segs_out];
    sink.emit(m);
}

} // namespace

void TcpStack::tw_input(TimeWaitRecord& tw, rte_mbuf* m, net::TcpSegment& seg) noexcept {
    ++stats_.drop(TcpDrop::tw_segment);
    if (seg.flags & net::kRst) {
        ++stats_[Counter::tw_rst_ignored];
        ++stats_.rst_received[static_cast<std::size_t>(State::time_wait)];
        rte_pktmbuf_free(m);
        return;
    }
    if ((seg.flags & net::kSyn) && !(seg.flags & net::kAck)) {
        const bool newer_seq = seq_gt(seg.seq, tw.rcv_nxt);
        const bool newer_ts = (tw.flags & TimeWaitRecord::kTsOk) && seg.opts.has_ts &&
                              seq_gt(seg.opts.ts_val, tw.ts_recent);
        Listener* l = find_listener(seg.tuple.laddr, seg.tuple.lport);
        // Only when the listener will take it: otherwise the record (and its protection of
        // the old incarnation) stays, and the SYN gets the old ACK.
        if ((newer_seq || newer_ts) && l != nullptr && can_accept(*l)) {
            const Seq isn = tw.snd_nxt + 65535 + 2;
            ++stats_[Counter::tw_reused];
            drop_tw(tw);
            force_next_isn(isn);
            listen_input(*l, m, seg);
            forced_isn_ = false;
            if (m != nullptr) {
                rte_pktmbuf_free(m);
            }
            return;
        }
        ++stats_[Counter::tw_old_ack];
        tw_ack(*this, tw, cfg_, ip_id_, sink_, now_, origin_);
        rte_pktmbuf_free(m);
        return;
    }
    if ((tw.flags & TimeWaitRecord::kTsOk) && seg.opts.has_ts &&
        seq_lt(seg.opts.ts_val, tw.ts_recent)) {
        ++stats_.drop(TcpDrop::paws); // an old duplicate (RFC 7323 PAWS): ACK it, change nothing
        tw_ack(*this, tw, cfg_, ip_id_, sink_, now_, origin_);
        rte_pktmbuf_free(m);
        return;
    }
    if (tw.flags & TimeWaitRecord::kTsOk && seg.opts.has_ts && seq_leq(seg.seq, tw.rcv_nxt)) {
        tw.ts_recent = seg.opts.ts_val;
    }
    if ((seg.flags & net::kFin) && seg.seq + seg.payload_len + 1 == tw.rcv_nxt) {
        // The peer did not get our ACK of its FIN: ACK again, and wait 2MSL from now.
        ++stats_[Counter::tw_reacked];
        tw_ack(*this, tw, cfg_, ip_id_, sink_, now_, origin_);
        wheel_.start(tw.timer, now_ + cfg_.tcp.time_wait);
        rte_pktmbuf_free(m);
        return;
    }
    if (seg.payload_len > 0 || seg.seq != tw.rcv_nxt || (seg.flags & net::kFin)) {
        tw_ack(*this, tw, cfg_, ip_id_, sink_, now_, origin_);
    }
    rte_pktmbuf_free(m);
}

} // namespace tcpterm::tcp
