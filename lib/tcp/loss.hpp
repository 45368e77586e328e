// LossState: what a connection needs only once it has met loss or reordering, kept out of the
// control block and taken from a per-stack pool on first use (the first out-of-order segment,
// the first SACK block, the first congestion event):
//  - receiver: the out-of-order queue (RFC 9293 3.10.7.4: segments beyond RCV.NXT are held) and
//    the SACK blocks that report it (RFC 2018);
//  - sender: the SACK scoreboard and the state of SACK-based loss recovery (RFC 6675);
//  - CUBIC's state (RFC 9438).
// Most connections of a load balancer never lose a segment, so the control block stays within
// its 512 bytes and a connection that has lost none pays nothing. When the pool is empty the
// connection degrades to what tcpterm did without it (out-of-order segments dropped, SACK
// blocks ignored, NewReno), counted as loss_state_exhausted; nothing is lost, only speed.
//
// Both lists are small sorted arrays rather than trees: an ACK carries at most four SACK blocks,
// a receiver seldom holds more than a few holes, and a bounded array needs no allocation.
#pragma once

#include "base/clock.hpp"
#include "tcp/mbuf_queue.hpp"
#include "tcp/seq.hpp"

#include <cstdint>

namespace tcpterm::tcp {

/// Out-of-order blocks held per connection; a segment that would need a ninth is dropped.
inline constexpr std::uint8_t kOooBlocks = 8;
/// SACKed ranges remembered per connection; past this the highest is forgotten (safe: SACK is
/// advisory, forgetting one only costs a retransmission).
inline constexpr std::uint8_t kScoreboardRanges = 8;
/// RFC 6675 DupThresh.
inline constexpr std::uint32_t kDupThresh = 3;

/// Contiguous received bytes [start, end) beyond RCV.NXT; `fin`: the peer's FIN follows `end`.
struct OooBlock {
    Seq start = 0;
    Seq end = 0;
    std::uint32_t stamp = 0; // when data was last added (the first SACK block is the newest)
    std::uint16_t segs = 0;  // segments (mbuf chains) appended: bounds the mbufs held
    bool fin = false;
    MbufQueue data;
};

struct SackRange {
    Seq start = 0;
    Seq end = 0;
};

struct LossState {
    // Receiver (RFC 2018): blocks sorted by start, disjoint and not adjacent.
    OooBlock ooo[kOooBlocks];
    std::uint8_t ooo_count = 0;
    std::uint32_t ooo_clock = 0;
    std::uint32_t ooo_segs = 0; // segments held over all blocks

    // Sender (RFC 6675): SACKed ranges above SND.UNA, sorted, disjoint and not adjacent.
    std::uint8_t sacked_count = 0;
    SackRange sacked[kScoreboardRanges];
    Seq high_rxt = 0; // HighRxt: highest sequence retransmitted in this recovery
    // Proportional rate reduction (RFC 6937) during that recovery.
    std::uint32_t recover_fs = 0;    // RecoverFS: the flight when recovery began
    std::uint32_t prr_delivered = 0; // bytes the receiver got since (cumulatively or SACKed)
    std::uint32_t prr_out = 0;       // bytes sent since (retransmitted or new)

    // CUBIC (RFC 9438 section 4), windows in bytes.
    Nanos epoch_start = 0;        // 0: no congestion-avoidance epoch yet
    std::uint32_t w_max = 0;      // W_max: window before the last reduction
    std::uint32_t cwnd_prior = 0; // cwnd before the last reduction (alpha_cubic's switch)
    double k = 0;                 // K, seconds
    double origin = 0;            // the plateau W_cubic approaches (bytes)
    double w_est = 0;             // W_est, the Reno-friendly estimate (bytes)
    double cwnd_frac = 0;         // fractional growth not yet added to cwnd (bytes)
};

} // namespace tcpterm::tcp
