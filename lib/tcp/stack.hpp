// TcpStack: one worker's TCP. It owns the connection table, the timer wheel, the control block and
// TIME_WAIT pools, the listeners and the counters; it takes IPv4 packets in (input), emits IPv4
// packets through a SegmentSink, and runs its timers when told the time (advance). It never reads
// a clock, allocates from the general heap on the data path, locks or makes a system call: the
// engine's worker loop and the scenario tests drive it the same way.
//
// Files: input.cpp (segment arrival, RFC 9293 3.10.7), output.cpp (segments, retransmission,
// RTT), timers.cpp (every timer's expiry), listener.cpp (passive open, SYN/accept queues),
// time_wait.cpp (the compact TIME_WAIT record), stack.cpp (construction and the application
// operations).
#pragma once

#include "base/clock.hpp"
#include "base/conn_table.hpp"
#include "base/pool.hpp"
#include "base/timer_wheel.hpp"
#include "net/packet.hpp"
#include "tcp/api.hpp"
#include "tcp/config.hpp"
#include "tcp/listener.hpp"
#include "tcp/loss.hpp"
#include "tcp/stats.hpp"
#include "tcp/tcb.hpp"
#include "tcp/time_wait.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

struct rte_mbuf;
struct rte_mempool;

namespace tcpterm::tcp {

/// The smallest window shift that lets the 16-bit window field announce `buf` bytes (RFC 7323).
constexpr std::uint8_t window_shift_for(std::uint32_t buf) noexcept {
    std::uint8_t ws = 0;
    while (ws < net::kMaxWscale && (std::uint64_t{65535} << ws) < buf) {
        ++ws;
    }
    return ws;
}

/// Sets the send MSS from the peer's MSS option, ours, and the options every segment carries.
void set_send_mss(Tcb& c, const net::TcpOptions& peer, const TcpConfig& k) noexcept;

/// Where the stack's outgoing IPv4 packets go (the engine's TX batch, a test's wire).
class SegmentSink {
public:
    virtual ~SegmentSink() = default;
    /// Takes ownership of `m` (IPv4 header first, Ethernet headroom reserved).
    virtual void emit(rte_mbuf* m) = 0;
};

struct StackConfig {
    TcpConfig tcp;
    std::size_t max_connections = 65'536; // control blocks
    std::size_t max_time_wait = 262'144;  // TIME_WAIT record pool; the cap in use is the smaller of
                                          // this and tcp.max_tw_buckets
    std::size_t max_loss_states = 16'384; // LossState pool (loss.hpp): connections that met loss
                                          // or reordering at the same time; 0 = none
    Nanos timer_tick = ms(1);
    std::size_t max_expiries_per_advance = 4096;
    net::Checksum checksum = net::Checksum::software;
    /// SipHash key for ISNs, timestamp offsets and SYN cookies (RFC 6528). The engine fills it
    /// from libsodium's randombytes at start; tests keep this fixed value.
    std::array<std::uint8_t, 16> secret{0x74, 0x63, 0x70, 0x74, 0x65, 0x72, 0x6d, 0x2d,
                                        0x74, 0x65, 0x73, 0x74, 0x2d, 0x6b, 0x65, 0x79};
};

enum class Shutdown { rd, wr, rdwr };

/// Domain words of TcpStack::keyed_hash (ASCII tags).
inline constexpr std::uint32_t kIsnDomain = 0x49534e31;
inline constexpr std::uint32_t kTsDomain = 0x54534f46;
inline constexpr std::uint32_t kCookieDomain = 0x434f4b31;
/// RFC 7323 5.5: TS.Recent is not trusted after 24 days without a valid segment.
inline constexpr Nanos kPawsIdle = sec(24ull * 86400);

class TcpStack {
public:
    TcpStack(const StackConfig& cfg, rte_mempool* mp, SegmentSink& sink, Nanos now);
    TcpStack(const TcpStack&) = delete;
    TcpStack& operator=(const TcpStack&) = delete;
    /// Frees every connection and record without sending anything.
    ~TcpStack();

    // ---- data path -------------------------------------------------------------------------
    /// Processes one received IPv4 packet; takes ownership of `m`.
    void input(rte_mbuf* m, Nanos now) noexcept;
    /// Processes a burst of received IPv4 packets in order, as input() would one by one, but
    /// parses them all first and looks their connections up together (ConnTable::find_burst,
    /// then the control blocks prefetched), so the cache misses of a burst overlap instead of
    /// adding up. Takes ownership of every packet.
    void input_burst(rte_mbuf* const* pkts, std::size_t n, Nanos now) noexcept;
    /// Runs the timers due at `now`; returns how many fired.
    std::size_t advance(Nanos now) noexcept;

    // ---- passive open ----------------------------------------------------------------------
    /// Listens on laddr:lport (network order; laddr 0 = any). nullptr with errno-style `err` set
    /// (EADDRINUSE, ENOMEM) on failure. backlog 0 takes the config's.
    Listener* listen(std::uint32_t laddr, std::uint16_t lport, ListenHandler* h,
                     std::uint32_t backlog, int* err) noexcept;
    /// Takes the oldest connection off the accept queue and gives it `h`; nullptr if empty.
    Tcb* accept(Listener& l, ConnHandler* h) noexcept;
    /// Stops listening: resets every SYN_RECV and not-yet-accepted connection. Frees `l`.
    void close_listener(Listener& l) noexcept;

    // ---- active open -----------------------------------------------------------------------
    /// Opens a connection from t.laddr:t.lport to t.raddr:t.rport (network order). nullptr with
    /// err = EADDRINUSE (four-tuple busy and TIME_WAIT not reusable), ENOBUFS (table/pool full).
    Tcb* connect(const FourTuple& t, ConnHandler* h, int* err) noexcept;

    // ---- connection operations --------------------------------------------------------------
    /// Queues bytes (copied into mbufs); returns bytes queued (may be fewer than len when the
    /// send buffer fills: on_writable follows), or -EPIPE after shutdown(WR)/close, -ENOTCONN
    /// before the handshake, -ENOBUFS if the mbuf pool is empty.
    long send(Tcb& c, const void* data, std::size_t len) noexcept;
    /// Queues an mbuf chain without copying (ownership passes on success); -EPIPE/-ENOTCONN as
    /// send(), -EMSGSIZE if it exceeds the free send space.
    long send_mbuf(Tcb& c, rte_mbuf* m) noexcept;
    /// Copies up to len readable bytes out; 0 if none (then check peer_closed()).
    std::size_t recv(Tcb& c, void* buf, std::size_t len) noexcept;
    /// Copies up to len readable bytes without consuming them (MSG_PEEK).
    std::size_t peek(const Tcb& c, void* buf, std::size_t len) const noexcept {
        return c.rcv_q.copy_out(0, buf, len);
    }
    /// Consumes len readable bytes (after peek); they count as read.
    void consume(Tcb& c, std::size_t len) noexcept;
    /// Takes up to len readable bytes as an mbuf chain (zero copy); nullptr if none.
    rte_mbuf* recv_mbuf(Tcb& c, std::size_t len) noexcept;
    [[nodiscard]] std::size_t readable(const Tcb& c) const noexcept { return c.rcv_q.bytes(); }
    /// The peer's FIN has been received (end of stream once readable() is 0).
    [[nodiscard]] bool peer_closed(const Tcb& c) const noexcept { return c.fin_received; }
    /// shutdown(2): WR sends FIN after queued data; RD acknowledges and discards later data.
    int shutdown(Tcb& c, Shutdown how) noexcept;
    /// close(2): the application gives the connection up (it becomes an orphan). Unread data
    /// -> RST (RFC 2525 2.17); linger 0 -> RST; otherwise FIN after queued data.
    void close(Tcb& c) noexcept;
    /// Sends RST and drops the connection now; on_closed is not called.
    void abort(Tcb& c) noexcept;
    /// SO_LINGER: on with timeout 0 makes close() abortive; on with T > 0 makes close() report
    /// through on_closed: 0 when everything was acked, ETIMEDOUT after T (with RST).
    void set_linger(Tcb& c, bool on, Nanos timeout) noexcept;
    /// SO_KEEPALIVE with TCP_KEEPIDLE/INTVL/CNT; zero values keep the current setting.
    void set_keepalive(Tcb& c, bool on, Nanos idle = 0, Nanos intvl = 0,
                       std::uint32_t probes = 0) noexcept;
    void set_nodelay(Tcb& c, bool on) noexcept;
    void set_idle_timeout(Tcb& c, Nanos t) noexcept;
    void set_user_timeout(Tcb& c, Nanos t) noexcept;
    /// Whether this connection's idle and close-wait timeouts send RST (default: [tcp]).
    void set_reset_on_timeout(Tcb& c, bool on) noexcept { c.reset_on_timeout = on; }
    /// Per-connection buffer limits. The window scale was fixed at the handshake (from [tcp]
    /// rcv_buf), so a larger rcv_buf is announced only up to 65535 << that scale.
    void set_buffers(Tcb& c, std::uint32_t rcv_buf, std::uint32_t snd_buf) noexcept;
    /// Asks for on_writable when send space opens up (a relay that stopped at a full buffer).
    void want_writable(Tcb& c) noexcept { c.want_writable = true; }
    void set_handler(Tcb& c, ConnHandler* h) noexcept { c.handler = h; }

    // ---- introspection ----------------------------------------------------------------------
    [[nodiscard]] const TcpStats& stats() const noexcept { return stats_; }
    [[nodiscard]] const StackConfig& config() const noexcept { return cfg_; }
    [[nodiscard]] TcpConfig& tcp_config() noexcept { return cfg_.tcp; }
    [[nodiscard]] ConnTable& table() noexcept { return table_; }
    [[nodiscard]] TimerWheel& wheel() noexcept { return wheel_; }
    [[nodiscard]] Nanos now() const noexcept { return now_; }
    [[nodiscard]] std::size_t tcb_count() const noexcept { return tcbs_.in_use(); }
    [[nodiscard]] std::size_t time_wait_count() const noexcept { return tws_.in_use(); }
    /// The control block or TIME_WAIT record for a four-tuple (local view).
    [[nodiscard]] ConnEntry* lookup(const FourTuple& t) noexcept;
    /// Calls fn(const ConnEntry&, State) for every connection (control plane only).
    template <class Fn>
    void for_each_connection(Fn&& fn) {
        table_.for_each([&](ConnEntry& e) {
            fn(e, e.tagged() ? State::time_wait : static_cast<Tcb&>(e).state);
        });
    }
    /// Backpressure: while off, new SYNs are dropped (counted as syn_backpressure) so established
    /// connections keep the resources they need. The engine turns it off near mbuf or table
    /// exhaustion and on again when load drops.
    void set_accepting(bool on) noexcept { accepting_ = on; }
    [[nodiscard]] bool accepting() const noexcept { return accepting_; }
    /// Resets every connection (stopping); returns how many were reset.
    std::size_t reset_all() noexcept;

    // ---- internal (used by the tcp/*.cpp units) ---------------------------------------------
    void set_state(Tcb& c, State s) noexcept;
    void output(Tcb& c) noexcept;
    void send_ack(Tcb& c) noexcept;
    void send_rst_for(const net::TcpSegment& seg, RstReason why) noexcept;
    void send_rst(Tcb& c, RstReason why) noexcept;
    void send_syn(Tcb& c) noexcept;
    void send_probe(Tcb& c) noexcept;
    bool challenge_ack(Tcb& c) noexcept;
    /// The ACK for an unacceptable segment, at most one per invalid_ratelimit per connection
    /// (Linux tcp_invalid_ratelimit), so spoofed segments cannot turn us into an ACK reflector.
    void oow_ack(Tcb& c) noexcept;
    /// Resends the segment at SND.UNA; returns the sequence space it covers.
    std::uint32_t retransmit_first(Tcb& c) noexcept;
    void arm_rtx(Tcb& c) noexcept;
    void enter_time_wait(Tcb& c) noexcept;
    void destroy(Tcb& c, int err) noexcept;
    void on_timer(Timer& t) noexcept;
    void tw_input(TimeWaitRecord& tw, rte_mbuf* m, net::TcpSegment& seg) noexcept;
    /// Takes ownership of m when it sets m to nullptr (data on a SYN-cookie ACK).
    void listen_input(Listener& l, rte_mbuf*& m, net::TcpSegment& seg) noexcept;
    void send_syncookie(Listener& l, const net::TcpSegment& seg) noexcept;
    bool syncookie_ack(Listener& l, rte_mbuf*& m, net::TcpSegment& seg) noexcept;
    Listener* find_listener(std::uint32_t laddr, std::uint16_t lport) noexcept;
    Tcb* new_tcb(const FourTuple& t, std::uint32_t hash) noexcept;
    Seq make_isn(const FourTuple& t) const noexcept;
    /// SipHash-2-4 (libsodium crypto_shorthash) of the four-tuple and a domain word, keyed with
    /// the stack's secret.
    std::uint32_t keyed_hash(const FourTuple& t, std::uint32_t domain) const noexcept;
    std::uint32_t ts_now(const Tcb& c) const noexcept;
    std::uint16_t window_to_advertise(Tcb& c) noexcept;
    void schedule_idle(Tcb& c) noexcept;
    void update_rtt(Tcb& c, Nanos sample) noexcept;
    void drop_tw(TimeWaitRecord& tw) noexcept;
    [[nodiscard]] std::size_t loss_state_count() const noexcept { return losses_.in_use(); }
    [[nodiscard]] std::size_t loss_state_peak() const noexcept { return losses_.high_water(); }

    // Loss recovery (sack.cpp) and congestion control (cc.cpp).
    /// The connection's LossState, taken from the pool on first use; nullptr (counted) if empty.
    LossState* loss_state(Tcb& c) noexcept;
    /// Holds bytes [off, off + len) of packet m, sequence `seq` > RCV.NXT, in the out-of-order
    /// queue; `fin`: the peer's FIN follows them. True if m was taken (queued or a duplicate).
    bool ooo_insert(Tcb& c, rte_mbuf*& m, Seq seq, std::uint32_t off, std::uint32_t len,
                    bool fin) noexcept;
    /// Moves the blocks RCV.NXT has reached to the receive queue; returns the bytes moved and
    /// sets `fin` when the peer's FIN is now in order.
    std::uint32_t ooo_drain(Tcb& c, bool& fin) noexcept;
    /// Frees the out-of-order queue (the FIN arrived, or the read side is gone).
    void ooo_clear(Tcb& c) noexcept;
    /// Fills o.sack with the blocks to report, newest first (RFC 2018 section 4).
    void fill_sack_blocks(const Tcb& c, net::TcpOptions& o) const noexcept;
    /// Merges the SACK blocks of an ACK into the scoreboard (blocks at or below `floor` or
    /// beyond SND.MAX are ignored).
    void sack_update(Tcb& c, const net::TcpOptions& o, Seq floor) noexcept;
    /// Forgets scoreboard ranges SND.UNA has passed.
    void sack_prune(Tcb& c) noexcept;
    /// RFC 6675 IsLost(SND.UNA).
    [[nodiscard]] bool sack_head_lost(const Tcb& c) const noexcept;
    /// RFC 6675 SetPipe: bytes in the network by the scoreboard.
    [[nodiscard]] std::uint32_t sack_pipe(const Tcb& c) const noexcept;
    /// Enters fast recovery (three duplicate ACKs, or the head lost by the scoreboard);
    /// `delivered`: what the ACK that started it delivered (RFC 6937 DeliveredData).
    void enter_recovery(Tcb& c, std::uint32_t delivered) noexcept;
    /// Bytes the scoreboard holds as SACKed.
    [[nodiscard]] std::uint32_t sacked_bytes(const Tcb& c) const noexcept;
    /// RFC 6937 on an ACK in SACK recovery: cwnd = pipe + what PRR lets out for `delivered`.
    void prr_update(Tcb& c, std::uint32_t delivered) noexcept;
    /// RFC 6675's transmission loop: lost segments (NextSeg rule 1), new data (rule 2), other
    /// unSACKed segments below the highest SACKed one (rule 3), while cwnd - pipe >= SMSS.
    void sack_transmit(Tcb& c) noexcept;
    /// Resends up to `max_len` bytes (at most one MSS) from `seq`, with the FIN if they reach
    /// it; counts `ctr`; returns the sequence space covered.
    std::uint32_t retransmit_at(Tcb& c, Seq seq, std::uint32_t max_len, Counter ctr) noexcept;
    /// Congestion avoidance / slow start on `acked` newly acknowledged bytes (not in recovery).
    void cc_on_ack(Tcb& c, std::uint32_t acked) noexcept;
    /// A congestion event (fast retransmit, RTO): returns the new ssthresh and restarts CUBIC's
    /// epoch.
    std::uint32_t cc_on_congestion(Tcb& c) noexcept;
    TcpStats& mutable_stats() noexcept { return stats_; }
    rte_mempool* mempool() const noexcept { return mp_; }
    std::uint32_t hash_of(const FourTuple& t) const noexcept;

    /// Entry points (input, advance, API calls) nest; a control block released inside is freed
    /// only when the outermost returns, so no caller is left holding a dangling reference.
    struct Entry {
        explicit Entry(TcpStack& s) noexcept : s_(s) { ++s_.depth_; }
        ~Entry() {
            if (--s_.depth_ == 0) {
                s_.reap();
            }
        }
        Entry(const Entry&) = delete;
        Entry& operator=(const Entry&) = delete;
        TcpStack& s_;
    };

private:
    void dispatch(ConnEntry* e, rte_mbuf* m, net::TcpSegment& seg) noexcept;
    void established_input(Tcb& c, rte_mbuf* m, net::TcpSegment& seg) noexcept;
    void syn_sent_input(Tcb& c, rte_mbuf* m, const net::TcpSegment& seg) noexcept;
    void closed_input(const net::TcpSegment& seg) noexcept;
    void emit_segment(Tcb& c, std::uint8_t flags, Seq seq, std::uint32_t len,
                      bool syn_opts) noexcept;
    void notify_closed(Tcb& c, int err) noexcept;
    void finish_and_time_wait(Tcb& c, bool readable) noexcept;
    bool can_accept(const Listener& l) const noexcept;

public:
    /// Makes the next passive open use `isn` (a SYN accepted on a TIME_WAIT four-tuple).
    void force_next_isn(Seq isn) noexcept {
        forced_isn_ = true;
        isn_override_ = isn;
    }

private:
    void maybe_window_update(Tcb& c) noexcept;

    StackConfig cfg_;
    rte_mempool* mp_;
    SegmentSink& sink_;
    Nanos now_;
    Nanos origin_;
    TcpStats stats_;
    ConnTable table_;
    TimerWheel wheel_;
    ObjectPool<Tcb> tcbs_;
    ObjectPool<TimeWaitRecord> tws_;
    ObjectPool<Listener> listeners_pool_;
    ObjectPool<LossState> losses_;
    std::unique_ptr<Listener*[]> listeners_; // by port (host order), chained by address
    std::uint32_t challenge_budget_ = 0;
    std::uint64_t rng_ = 0x9E3779B97F4A7C15ull; // xorshift state (challenge ACK budget jitter)
    Nanos challenge_window_start_ = 0;
    std::uint16_t ip_id_ = 0;
    int depth_ = 0;
    bool accepting_ = true;
    Listener::Queue zombies_; // released control blocks awaiting reap()
    bool forced_isn_ = false; // next passive open uses isn_override_ (TIME_WAIT reuse)
    Seq isn_override_ = 0;

    void release(Tcb& c) noexcept;
    void reap() noexcept;
    friend void time_wait_reuse(TcpStack&, TimeWaitRecord&, Seq);
};

} // namespace tcpterm::tcp
