// Loss and reordering: the receiver's out-of-order queue and the SACK blocks that report it
// (RFC 2018), and the sender's SACK scoreboard with RFC 6675's loss recovery. The state lives in
// a LossState (loss.hpp) taken from the stack's pool on first need.
//
// Receiver. A segment beyond RCV.NXT is trimmed to the window and to the blocks already held,
// then joined to its neighbours, so the blocks stay disjoint and never adjacent; when RCV.NXT
// reaches a block, the block's mbufs move to the receive queue without a copy. The queue holds
// at most kOooBlocks blocks and a bounded number of segments (a peer sending one-byte segments
// must not pin an mbuf per byte); what does not fit is dropped as before (out_of_order) and
// comes back by retransmission. Nothing held is ever discarded once SACKed (no reneging) except
// when the connection goes away.
//
// Sender. SACK blocks are merged into a sorted list of ranges above SND.UNA. Following RFC 6675,
// an unSACKed byte is lost once more than (DupThresh - 1) * SMSS bytes above it are SACKed;
// pipe counts the bytes in flight that are neither SACKed nor lost, plus those retransmitted.
// Recovery starts on the third duplicate ACK or when the head is lost by that rule, sets cwnd
// to the congestion controller's ssthresh, and sends while cwnd - pipe >= SMSS: lost segments
// first, then new data, then unSACKed segments below the highest SACK, with cwnd set on each
// ACK by proportional rate reduction (RFC 6937) rather than fixed at ssthresh. A partial ACK also
// resends the new head if it was not resent yet (as NewReno does), so a receiver that stops
// sending SACK blocks cannot stall recovery until the RTO. An RTO clears the scoreboard (RFC 2018
// section 8) and the next recovery waits until SND.UNA passes the RTO's recovery point.
#include "tcp/stack.hpp"

#include <rte_mbuf.h>

#include <algorithm>

namespace tcpterm::tcp {

LossState* TcpStack::loss_state(Tcb& c) noexcept {
    if (c.loss == nullptr && cfg_.max_loss_states > 0) {
        c.loss = losses_.create();
        if (c.loss == nullptr) {
            ++stats_[Counter::loss_state_exhausted];
        }
    }
    return c.loss;
}

// ---- receiver ---------------------------------------------------------------------------------

namespace {

bool block_empty(const OooBlock& b) noexcept {
    return b.start == b.end && !b.fin;
}

void block_free(LossState& L, OooBlock& b) noexcept {
    L.ooo_segs -= std::min<std::uint32_t>(L.ooo_segs, b.segs);
    b.data.clear();
    b.start = b.end = 0;
    b.segs = 0;
    b.fin = false;
}

// Squeezes the emptied blocks out, keeping the order of the others.
void compact(LossState& L) noexcept {
    std::uint8_t w = 0;
    for (std::uint8_t k = 0; k < L.ooo_count; ++k) {
        OooBlock& b = L.ooo[k];
        if (block_empty(b)) {
            continue;
        }
        if (w != k) {
            OooBlock& d = L.ooo[w];
            d.start = b.start;
            d.end = b.end;
            d.stamp = b.stamp;
            d.segs = b.segs;
            d.fin = b.fin;
            d.data.splice_back(b.data);
            b.start = b.end = 0;
            b.segs = 0;
            b.fin = false;
        }
        ++w;
    }
    L.ooo_count = w;
}

} // namespace

bool TcpStack::ooo_insert(Tcb& c, rte_mbuf*& m, Seq seq, std::uint32_t off, std::uint32_t len,
                          bool fin) noexcept {
    LossState* lp = loss_state(c);
    if (lp == nullptr || len == 0) {
        return false;
    }
    LossState& L = *lp;
    // Segments held per connection: twice a full window of our MSS, at least 64.
    const std::uint32_t max_segs =
        std::max<std::uint32_t>(64, 2 * c.rcv_buf / std::max<std::uint32_t>(cfg_.tcp.mss, 1));
    if (L.ooo_segs >= max_segs) {
        return false;
    }
    Seq s = seq;
    Seq e = seq + len;
    const Seq seg_end = e;
    int left = -1;  // block that starts at or before s and reaches s
    int right = -1; // block that starts in (s, e] and ends after e
    for (std::uint8_t k = 0; k < L.ooo_count; ++k) {
        const OooBlock& b = L.ooo[k];
        if (seq_leq(b.start, s) && seq_geq(b.end, s)) {
            left = k;
        }
    }
    if (left >= 0) {
        OooBlock& a = L.ooo[left];
        if (seq_geq(a.end, e)) {
            // Nothing new: a duplicate. It still is the newest data for the first SACK block.
            a.stamp = ++L.ooo_clock;
            if (fin && a.end == e) {
                a.fin = true;
            }
            rte_pktmbuf_free(m);
            m = nullptr;
            return true;
        }
        off += a.end - s;
        s = a.end;
    }
    for (std::uint8_t k = 0; k < L.ooo_count; ++k) {
        const OooBlock& b = L.ooo[k];
        if (static_cast<int>(k) != left && seq_gt(b.start, s) && seq_leq(b.start, e) &&
            seq_gt(b.end, e)) {
            right = k;
        }
    }
    if (right >= 0) {
        e = L.ooo[right].start;
    }
    // Blocks wholly inside [s, e) are replaced by this segment's bytes.
    bool freed = false;
    for (std::uint8_t k = 0; k < L.ooo_count; ++k) {
        OooBlock& b = L.ooo[k];
        if (static_cast<int>(k) != left && static_cast<int>(k) != right && seq_geq(b.start, s) &&
            seq_leq(b.end, e) && !block_empty(b)) {
            block_free(L, b);
            freed = true;
        }
    }
    if (left < 0 && right < 0 && !freed && L.ooo_count == kOooBlocks) {
        return false; // a new hole and no block left for it
    }
    const std::uint32_t piece = e - s;
    const bool fin_here = fin && seg_end == e; // a FIN with a block after it is inconsistent
    if (left >= 0) {
        OooBlock& a = L.ooo[left];
        if (piece > 0) {
            a.data.append_range(m, off, piece);
            ++a.segs;
            ++L.ooo_segs;
        } else {
            rte_pktmbuf_free(m);
        }
        a.end = e;
        a.fin = fin_here;
        if (right >= 0) {
            OooBlock& b = L.ooo[right];
            a.data.splice_back(b.data);
            a.end = b.end;
            a.fin = b.fin;
            a.segs = static_cast<std::uint16_t>(a.segs + b.segs);
            b.segs = 0;
            b.start = b.end = 0;
            b.fin = false;
        }
        a.stamp = ++L.ooo_clock;
    } else if (right >= 0) {
        OooBlock& b = L.ooo[right];
        MbufQueue front;
        front.append_range(m, off, piece);
        front.splice_back(b.data);
        b.data.splice_back(front);
        b.start = s;
        ++b.segs;
        ++L.ooo_segs;
        b.stamp = ++L.ooo_clock;
    } else {
        compact(L);
        OooBlock& b = L.ooo[L.ooo_count++];
        b.data.append_range(m, off, piece);
        b.start = s;
        b.end = e;
        b.fin = fin_here;
        b.segs = 1;
        ++L.ooo_segs;
        b.stamp = ++L.ooo_clock;
    }
    m = nullptr;
    compact(L);
    ++stats_[Counter::ooo_queued];
    return true;
}

std::uint32_t TcpStack::ooo_drain(Tcb& c, bool& fin) noexcept {
    LossState* lp = c.loss;
    if (lp == nullptr || lp->ooo_count == 0) {
        return 0;
    }
    LossState& L = *lp;
    std::uint32_t moved = 0;
    for (bool progress = true; progress;) {
        progress = false;
        for (std::uint8_t k = 0; k < L.ooo_count; ++k) {
            OooBlock& b = L.ooo[k];
            if (block_empty(b) || seq_gt(b.start, c.rcv.nxt)) {
                continue;
            }
            if (seq_gt(b.end, c.rcv.nxt)) {
                const std::uint32_t skip = c.rcv.nxt - b.start;
                b.data.drop_front(skip);
                const std::uint32_t n = b.end - c.rcv.nxt;
                if (c.rd_shutdown) {
                    stats_[Counter::rd_discarded_bytes] += n;
                    b.data.clear();
                } else {
                    c.rcv_q.splice_back(b.data);
                }
                c.rcv.nxt = b.end;
                moved += n;
            }
            if (b.fin && b.end == c.rcv.nxt) {
                fin = true;
            }
            block_free(L, b);
            progress = true;
        }
    }
    compact(L);
    stats_[Counter::bytes_in] += moved;
    stats_[Counter::ooo_bytes] += moved;
    return moved;
}

void TcpStack::ooo_clear(Tcb& c) noexcept {
    if (c.loss == nullptr) {
        return;
    }
    LossState& L = *c.loss;
    for (std::uint8_t k = 0; k < L.ooo_count; ++k) {
        block_free(L, L.ooo[k]);
    }
    L.ooo_count = 0;
    L.ooo_segs = 0;
}

void TcpStack::fill_sack_blocks(const Tcb& c, net::TcpOptions& o) const noexcept {
    const LossState& L = *c.loss;
    // Newest first (the block with the segment that triggered this ACK leads, RFC 2018 4): a
    // selection of the n newest of at most kOooBlocks.
    const auto n = static_cast<std::uint8_t>(std::min<std::size_t>(L.ooo_count, std::size(o.sack)));
    std::uint32_t below = 0xFFFFFFFFu; // stamps are unique and increasing
    for (std::uint8_t k = 0; k < n; ++k) {
        std::uint8_t best = 0;
        std::uint32_t best_stamp = 0;
        for (std::uint8_t j = 0; j < L.ooo_count; ++j) {
            if (L.ooo[j].stamp < below && L.ooo[j].stamp >= best_stamp) {
                best = j;
                best_stamp = L.ooo[j].stamp;
            }
        }
        below = best_stamp;
        const OooBlock& b = L.ooo[best];
        o.sack[k].left = b.start;
        o.sack[k].right = b.end + (b.fin ? 1 : 0);
    }
    o.sack_count = n;
}

// ---- sender ------------------------------------------------------------------------------------

namespace {

// Sacked bytes in [from, to) (from <= to).
std::uint32_t sacked_in(const LossState& L, Seq from, Seq to) noexcept {
    std::uint32_t n = 0;
    for (std::uint8_t k = 0; k < L.sacked_count; ++k) {
        const Seq a = seq_max(L.sacked[k].start, from);
        const Seq b = seq_min(L.sacked[k].end, to);
        if (seq_lt(a, b)) {
            n += b - a;
        }
    }
    return n;
}

// Unsacked bytes below the returned sequence are lost (RFC 6675 IsLost): the start of the range
// at which, counting from the top, more than (DupThresh - 1) * SMSS bytes or DupThresh ranges are
// SACKed. SND.UNA if nothing is lost.
Seq lost_edge(const Tcb& c, const LossState& L) noexcept {
    std::uint32_t acc = 0;
    for (int k = L.sacked_count - 1; k >= 0; --k) {
        acc += L.sacked[k].end - L.sacked[k].start;
        const auto ranges = static_cast<std::uint32_t>(L.sacked_count - k);
        if (acc > (kDupThresh - 1) * c.mss || ranges >= kDupThresh) {
            return L.sacked[k].start;
        }
    }
    return c.snd.una;
}

// The first unsacked sequence at or after `from`, and how far the hole runs (to the next SACKed
// range or SND.MAX).
Seq next_unsacked(const Tcb& c, const LossState& L, Seq from, std::uint32_t& hole) noexcept {
    Seq s = from;
    for (std::uint8_t k = 0; k < L.sacked_count; ++k) {
        if (seq_leq(L.sacked[k].start, s) && seq_lt(s, L.sacked[k].end)) {
            s = L.sacked[k].end;
        }
    }
    Seq limit = c.snd.max;
    for (std::uint8_t k = 0; k < L.sacked_count; ++k) {
        if (seq_gt(L.sacked[k].start, s)) {
            limit = seq_min(limit, L.sacked[k].start);
        }
    }
    hole = seq_lt(s, limit) ? limit - s : 0;
    return s;
}

} // namespace

void TcpStack::sack_update(Tcb& c, const net::TcpOptions& o, Seq floor) noexcept {
    LossState* lp = nullptr;
    for (std::uint8_t b = 0; b < o.sack_count; ++b) {
        Seq l = o.sack[b].left;
        const Seq r = o.sack[b].right;
        // D-SACKs (at or below the cumulative ACK, RFC 2883) and blocks beyond what was sent
        // carry nothing for the scoreboard.
        if (!seq_lt(l, r) || seq_gt(r, c.snd.max) || seq_leq(r, floor)) {
            continue;
        }
        if (seq_lt(l, floor)) {
            l = floor;
        }
        if (lp == nullptr && (lp = loss_state(c)) == nullptr) {
            return;
        }
        LossState& L = *lp;
        SackRange out[kScoreboardRanges + 1];
        std::uint8_t n = 0;
        SackRange nr{l, r};
        bool placed = false;
        for (std::uint8_t k = 0; k < L.sacked_count; ++k) {
            const SackRange x = L.sacked[k];
            if (seq_lt(x.end, nr.start)) {
                out[n++] = x;
            } else if (seq_lt(nr.end, x.start)) {
                if (!placed) {
                    out[n++] = nr;
                    placed = true;
                }
                out[n++] = x;
            } else {
                nr.start = seq_min(nr.start, x.start);
                nr.end = seq_max(nr.end, x.end);
            }
        }
        if (!placed) {
            out[n++] = nr;
        }
        n = std::min<std::uint8_t>(n, kScoreboardRanges); // forget the highest range
        std::copy(out, out + n, L.sacked);
        L.sacked_count = n;
        ++stats_[Counter::sack_blocks_in];
    }
}

void TcpStack::sack_prune(Tcb& c) noexcept {
    if (c.loss == nullptr) {
        return;
    }
    LossState& L = *c.loss;
    std::uint8_t w = 0;
    for (std::uint8_t k = 0; k < L.sacked_count; ++k) {
        SackRange x = L.sacked[k];
        if (seq_leq(x.end, c.snd.una)) {
            continue;
        }
        x.start = seq_max(x.start, c.snd.una);
        L.sacked[w++] = x;
    }
    L.sacked_count = w;
}

bool TcpStack::sack_head_lost(const Tcb& c) const noexcept {
    return c.loss != nullptr && c.loss->sacked_count > 0 &&
           seq_gt(lost_edge(c, *c.loss), c.snd.una);
}

std::uint32_t TcpStack::sack_pipe(const Tcb& c) const noexcept {
    const LossState& L = *c.loss;
    const Seq una = c.snd.una;
    const std::uint32_t unsacked = (c.snd.max - una) - sacked_in(L, una, c.snd.max);
    const Seq edge = lost_edge(c, L);
    const std::uint32_t lost = (edge - una) - sacked_in(L, una, edge);
    const Seq hr = seq_min(seq_max(L.high_rxt, una), c.snd.max);
    const std::uint32_t resent = (hr - una) - sacked_in(L, una, hr);
    return unsacked - lost + resent;
}

std::uint32_t TcpStack::retransmit_at(Tcb& c, Seq seq, std::uint32_t max_len,
                                      Counter ctr) noexcept {
    const Seq data_end = c.snd.una + c.snd_q.bytes();
    if (seq_lt(seq, data_end)) {
        const std::uint32_t len = std::min<std::uint32_t>({max_len, c.mss, data_end - seq});
        // The FIN rides on the last byte, as it did the first time.
        const bool at_end = seq + len == data_end;
        const bool with_fin = at_end && c.fin_sent && c.snd.max == data_end + 1;
        ++stats_[ctr];
        emit_segment(c, net::kAck | (at_end ? net::kPsh : 0) | (with_fin ? net::kFin : 0), seq, len,
                     false);
        return len + (with_fin ? 1 : 0);
    }
    if (seq == data_end && c.fin_sent && c.snd.max == data_end + 1) {
        ++stats_[Counter::rtx_fin];
        emit_segment(c, net::kFin | net::kAck, seq, 0, false);
        return 1;
    }
    return 0;
}

std::uint32_t TcpStack::sacked_bytes(const Tcb& c) const noexcept {
    return c.loss == nullptr ? 0 : sacked_in(*c.loss, c.snd.una, c.snd.max);
}

// RFC 6937 section 3: while the flight (pipe) is above ssthresh, send in proportion to what
// the receiver gets (ssthresh / RecoverFS of it), so the window comes down to ssthresh smoothly
// over one round trip instead of halting and then bursting; below it, grow back towards ssthresh
// no faster than slow start (PRR-SSRB). Integer arithmetic: RecoverFS and the byte counts stay
// far below 2^32, their product is taken in 64 bits.
void TcpStack::prr_update(Tcb& c, std::uint32_t delivered) noexcept {
    LossState& L = *c.loss;
    L.prr_delivered += delivered;
    const std::uint32_t pipe = sack_pipe(c);
    std::int64_t sndcnt;
    if (pipe > c.ssthresh) {
        const std::uint64_t fs = std::max<std::uint32_t>(L.recover_fs, 1);
        const std::uint64_t due =
            (static_cast<std::uint64_t>(L.prr_delivered) * c.ssthresh + fs - 1) / fs;
        sndcnt = static_cast<std::int64_t>(due) - L.prr_out;
    } else {
        const std::int64_t limit =
            std::max<std::int64_t>(static_cast<std::int64_t>(L.prr_delivered) - L.prr_out,
                                   delivered) +
            c.mss;
        sndcnt = std::min<std::int64_t>(static_cast<std::int64_t>(c.ssthresh) - pipe, limit);
    }
    c.cwnd = pipe + static_cast<std::uint32_t>(std::max<std::int64_t>(sndcnt, 0));
}

void TcpStack::enter_recovery(Tcb& c, std::uint32_t delivered) noexcept {
    ++stats_[Counter::fast_retransmits];
    c.ssthresh = cc_on_congestion(c);
    c.recover = c.snd.max;
    c.in_recovery = true;
    c.rtt_start = 0;
    if (c.sack_ok && c.loss != nullptr) {
        // RFC 6675 section 5 (4.1-4.3) with RFC 6937: resend the head at once (it counts as
        // sent: prr_out), then the window PRR allows for this ACK, then the loop.
        ++stats_[Counter::sack_recoveries];
        LossState& L = *c.loss;
        c.sack_recovery = true;
        L.recover_fs = c.snd.max - c.snd.una;
        L.prr_delivered = 0;
        L.prr_out = 0;
        L.high_rxt = c.snd.una;
        L.high_rxt = c.snd.una + retransmit_at(c, c.snd.una, c.mss, Counter::sack_rtx);
        prr_update(c, delivered);
        sack_transmit(c);
        return;
    }
    c.sack_recovery = false;
    c.cwnd = c.ssthresh + 3u * c.mss; // NewReno (RFC 6582 3.2 step 2)
    retransmit_first(c);
}

void TcpStack::sack_transmit(Tcb& c) noexcept {
    LossState& L = *c.loss;
    // Each pass resends one segment and moves HighRxt past it, so the loops end; the bound is a
    // guard against a window so large it would take the whole burst budget at once.
    for (int rule = 1; rule <= 3 && !c.dead; rule += 2) {
        for (int n = 0; n < 64; ++n) {
            if (c.cwnd < sack_pipe(c) + c.mss) {
                return;
            }
            const Seq limit =
                rule == 1 ? lost_edge(c, L)
                          : (L.sacked_count > 0 ? L.sacked[L.sacked_count - 1].start : c.snd.una);
            std::uint32_t hole = 0;
            const Seq s = next_unsacked(c, L, seq_max(L.high_rxt, c.snd.una), hole);
            if (hole == 0 || !seq_lt(s, limit)) {
                break;
            }
            const std::uint32_t used = retransmit_at(c, s, hole, Counter::sack_rtx);
            if (used == 0) {
                break;
            }
            L.high_rxt = s + used;
        }
        if (rule == 1) {
            output(c); // rule 2: new data, within cwnd - pipe (output.cpp)
        }
    }
}

} // namespace tcpterm::tcp
