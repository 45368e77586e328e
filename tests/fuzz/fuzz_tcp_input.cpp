// fuzz_tcp_input: a live TcpStack (listener on 198.18.0.2:80) driven by a little program decoded
// from the input: the peer's segments, written relative to the connection's current RCV.NXT /
// SND.NXT so they reach every state, the application's operations, and the clock. The format is
// documented in tests/fuzz/README.md and produced by tests/fuzz/gen_corpus.py.
//
// Checked on every run:
//  - every packet the engine emits parses cleanly (parse_ipv4_tcp), goes to a four-tuple the peer
//    used, has sane flags, and its payload is exactly the bytes the application queued at that
//    stream offset (the application sends a known pattern) and fits the effective MSS;
//  - every byte the application reads is the byte the peer sent at that sequence number, and
//    bytes queued + bytes read account exactly for RCV.NXT;
//  - callbacks arrive only for connections the application holds (or a lingering close), with
//    the documented error codes; a connection the application holds stays in the table until
//    on_closed;
//  - per control block: SND.UNA <= SND.NXT <= SND.MAX, 0 < effective MSS <= the peer's MSS
//    (or 536, for a floor under tiny announcements), queues
//    within their buffers; listener queues within their backlogs; pools within their limits;
//  - at the end the application closes everything and the peer goes silent: within two hours of
//    timers every control block and TIME_WAIT record is gone; then the stack is destroyed and
//    every mbuf is back in the pool (rte_mempool_in_use_count == 0).
#include "common.hpp"

#include "net/packet.hpp"
#include "tcp/stack.hpp"

#include <rte_byteorder.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>
#include <optional>
#include <string>

using namespace tcpterm;
using namespace tcpterm::net;
using namespace tcpterm::tcp;

namespace {

rte_mempool* g_mp = nullptr;
constexpr unsigned kPoolSize = 4095;
// TCPTERM_FUZZ_TRACE=1 prints the program as it runs (for reading a crash input).
bool g_trace = false;
#define TRACE(...)                                                                                 \
    do {                                                                                           \
        if (g_trace) {                                                                             \
            std::fprintf(stderr, __VA_ARGS__);                                                     \
        }                                                                                          \
    } while (0)
constexpr std::size_t kMaxSteps = 512;

constexpr std::uint32_t kPeerIp = 0xC6120001u;   // 198.18.0.1
constexpr std::uint32_t kEngineIp = 0xC6120002u; // 198.18.0.2 (the listener's address)
constexpr std::uint32_t kOtherIp = 0xC6120003u;  // 198.18.0.3 (nobody listens there)

struct Pair {
    std::uint16_t peer_port;
    std::uint16_t engine_port;
    std::uint32_t engine_ip;
};
// Index = the step's port field (3 bits).
constexpr Pair kPairs[8] = {
    {40000, 80, kEngineIp},    {40001, 80, kEngineIp},    {40002, 80, kEngineIp},
    {40003, 80, kEngineIp},    {40004, 50000, kEngineIp}, // active opens (connect op)
    {40005, 50001, kEngineIp}, {40006, 81, kEngineIp},    // no listener on port 81
    {40007, 80, kOtherIp},                                // no listener on that address
};

FourTuple engine_tuple(const Pair& p) {
    FourTuple t;
    t.laddr = rte_cpu_to_be_32(p.engine_ip);
    t.raddr = rte_cpu_to_be_32(kPeerIp);
    t.lport = rte_cpu_to_be_16(p.engine_port);
    t.rport = rte_cpu_to_be_16(p.peer_port);
    return t;
}

/// The byte the peer sends at sequence number s; the byte the application sends at stream offset
/// k. Both sides can then check every byte they receive.
std::uint8_t peer_byte(std::uint32_t s) {
    s ^= s >> 11;
    s *= 0x9E3779B1u;
    return static_cast<std::uint8_t>(s >> 24);
}
std::uint8_t app_byte(std::uint64_t k) {
    k ^= k >> 7;
    k *= 0x2545F491u;
    return static_cast<std::uint8_t>(k >> 16);
}

/// Clock step codes: 0 none, 1..99 ms, 100..199 tenths of a second (to 10 s), 200..255 up to
/// 120 s.
Nanos clock_step(std::uint8_t v) {
    if (v == 0) {
        return 0;
    }
    if (v < 100) {
        return ms(v);
    }
    if (v < 200) {
        return ms(100ull * (v - 99u));
    }
    return ms(2143ull * (v - 199u));
}

constexpr std::uint16_t kMssValues[16] = {1460, 536,  0,    1,  12, 13, 65535, 100,
                                          88,   1200, 9000, 40, 48, 64, 1448,  0 /* u16 */};

const char* st(State s) {
    return state_name(s).data();
}

std::string flags_str(std::uint8_t f) {
    std::string s;
    const char* names = "FSRPAUEC";
    for (int i = 0; i < 8; ++i) {
        if (f & (1u << i)) {
            s += names[i];
        }
    }
    return s.empty() ? "-" : s;
}

struct Peer {              // what the scripted peer knows about one four-tuple
    std::uint32_t nxt = 0; // its next sequence number
    std::uint32_t isn = 0;
    std::uint32_t ts_base = 0;
    // What the engine last sent to it.
    std::uint32_t eng_nxt = 0;
    std::uint32_t eng_isn = 0;
    std::uint32_t eng_ack = 0;
    std::uint32_t eng_ts = 0;
    bool eng_seen = false;
};

struct Conn { // a connection the application holds
    Tcb* c = nullptr;
    std::uint32_t base = 0; // sequence number of the first byte of the peer's stream
    bool base_known = false;
    bool rd = false;        // shutdown(RD): reads stop, the bytes are discarded
    std::uint64_t read = 0; // bytes read (stream offset of the next byte)
    std::uint64_t sent = 0; // bytes queued with send (stream offset of the next one)
    std::uint64_t debt = 0; // bytes read but not echoed yet (send buffer was full)
};

class Run final : public SegmentSink, public ConnHandler, public ListenHandler {
public:
    Run(const std::uint8_t* data, std::size_t size) : in_{data, size} {}
    Run(const Run&) = delete;
    Run& operator=(const Run&) = delete;
    ~Run() override = default;

    void go();

private:
    // ---- set-up and program ----
    void configure();
    void step_segment(std::uint8_t op);
    void step_app();
    void step_stack();
    void flush(); // hands the segments held in burst mode to input_burst
    void advance(Nanos d);
    void finish();

    // ---- the peer ----
    rte_mbuf* build(const Pair& pr, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
                    std::uint16_t win, const std::vector<std::uint8_t>& opts, std::uint32_t paylen,
                    std::uint8_t chain_mode, bool corrupt);
    std::vector<std::uint8_t> options(Peer& p, std::uint8_t mask, std::uint32_t ack_base);

    // ---- the application ----
    Conn* find(const Tcb* c);
    Conn* conn_on(std::size_t pair);
    void untrack(const Tcb* c);
    void read_some(Conn& k, std::size_t limit, int how);
    void send_some(Conn& k, std::size_t n, bool as_mbuf);
    void echo(Conn& k, std::uint64_t n);

    // SegmentSink
    void emit(rte_mbuf* m) override;
    // ConnHandler / ListenHandler
    void on_acceptable(Listener& l) override;
    void on_connected(Tcb& c) override;
    void on_readable(Tcb& c) override;
    void on_peer_fin(Tcb& c) override;
    void on_writable(Tcb& c) override;
    void on_closed(Tcb& c, int err) override;

    // ---- invariants ----
    void check();

    fuzz::Reader in_;
    Nanos now_ = sec(1000);
    StackConfig cfg_;
    std::optional<TcpStack> stack_;
    Listener* listener_ = nullptr;
    std::vector<Conn> conns_;
    Peer peers_[8];
    std::vector<rte_mbuf*> held_;    // mbufs taken out of the pool to bring it near exhaustion
    std::vector<rte_mbuf*> pending_; // burst mode: peer segments not handed to the stack yet
    bool burst_ = false;             // stack op 7
    // Application behaviour (config byte 3, changed by an app op).
    bool manual_accept_ = false;
    int read_mode_ = 0; // 0 read all + echo, 1 read all, 2 leave unread, 3 read half + echo
    int fin_mode_ = 0;  // on_peer_fin: 0 nothing, 1 close, 2 shutdown(WR), 3 abort
    bool use_recv_mbuf_ = false;
    bool use_send_mbuf_ = false;
    bool finishing_ = false;
};

// ---- set-up ------------------------------------------------------------------------------------

void Run::configure() {
    const std::uint8_t c0 = in_.u8();
    const std::uint8_t c1 = in_.u8();
    const std::uint8_t c2 = in_.u8();
    const std::uint8_t c3 = in_.u8();
    TcpConfig& k = cfg_.tcp;
    k.timestamps = c0 & 0x01;
    k.window_scaling = c0 & 0x02;
    k.syncookies = std::array<std::uint8_t, 4>{0, 1, 2, 1}[(c0 >> 2) & 3];
    k.quickack = c0 & 0x10;
    k.nodelay = c0 & 0x20;
    k.tw_reuse = c0 & 0x40;
    if (c0 & 0x80) {
        cfg_.max_connections = 4;
        cfg_.max_time_wait = 2;
        k.max_tw_buckets = 2;
    } else {
        cfg_.max_connections = 64;
        cfg_.max_time_wait = 64;
    }
    k.rcv_buf = std::array<std::uint32_t, 4>{65535, 4096, 262144, 1000}[c1 & 3];
    k.snd_buf = std::array<std::uint32_t, 4>{65536, 4096, 262144, 1000}[(c1 >> 2) & 3];
    k.mss = std::array<std::uint16_t, 4>{1460, 536, 100, 1200}[(c1 >> 4) & 3];
    k.backlog = k.syn_backlog = std::array<std::uint32_t, 4>{4096, 1, 2, 8}[(c1 >> 6) & 3];
    k.close_wait_timeout = (c2 & 0x01) ? sec(5) : 0;
    k.idle_timeout = (c2 & 0x02) ? sec(30) : 0;
    k.reset_on_timeout = !(c2 & 0x04);
    k.challenge_ack_limit = (c2 & 0x08) ? 2 : 1000;
    k.fin_timeout = (c2 & 0x10) ? sec(5) : sec(60);
    k.time_wait = (c2 & 0x20) ? sec(2) : sec(60);
    if (c2 & 0x40) {
        k.keepalive_time = sec(10);
        k.keepalive_intvl = sec(2);
        k.keepalive_probes = 2;
    }
    k.user_timeout = (c2 & 0x80) ? sec(20) : 0;
    manual_accept_ = c3 & 0x01;
    read_mode_ = (c3 >> 1) & 3;
    fin_mode_ = (c3 >> 3) & 3;
    use_recv_mbuf_ = c3 & 0x20;
    use_send_mbuf_ = c3 & 0x40;

    for (std::size_t i = 0; i < 8; ++i) {
        peers_[i].nxt = peers_[i].isn = 1000u * static_cast<std::uint32_t>(i + 1);
        peers_[i].ts_base = 7 + 100u * static_cast<std::uint32_t>(i);
    }
    stack_.emplace(cfg_, g_mp, *this, now_);
    int err = 0;
    listener_ = stack_->listen(rte_cpu_to_be_32(kEngineIp), rte_cpu_to_be_16(80), this, 0, &err);
    FUZZ_CHECK(listener_ != nullptr, "listen failed: %d", err);
}

void Run::go() {
    configure();
    for (std::size_t steps = 0; !in_.done() && steps < kMaxSteps; ++steps) {
        const std::uint8_t op = in_.u8();
        if (op < 150) {
            step_segment(op);
        } else {
            flush(); // a burst ends where anything but a peer segment happens
            if (op < 210) {
                step_app();
            } else if (op < 235) {
                advance(clock_step(in_.u8()));
            } else {
                step_stack();
            }
        }
        check();
    }
    finish();
}

void Run::flush() {
    if (!pending_.empty()) {
        TRACE("%8.3f burst of %zu segments\n", static_cast<double>(now_) / 1e9, pending_.size());
        stack_->input_burst(pending_.data(), pending_.size(), now_);
        pending_.clear();
    }
}

void Run::advance(Nanos d) {
    if (d > 0) {
        flush(); // held segments arrive before time moves on
    }
    if (d > 0 && !finishing_) {
        TRACE("%8.3f clock +%.3f s\n", static_cast<double>(now_) / 1e9,
              static_cast<double>(d) / 1e9);
    }
    now_ += d;
    while (stack_->advance(now_) >= cfg_.max_expiries_per_advance) {
    }
}

// ---- the peer's segments -----------------------------------------------------------------------

std::vector<std::uint8_t> Run::options(Peer& p, std::uint8_t mask, std::uint32_t ack_base) {
    std::vector<std::uint8_t> o;
    if (mask & 0x01) {
        const std::uint8_t i = in_.u8() & 15;
        const std::uint16_t mss = i == 15 ? in_.u16() : kMssValues[i];
        o.insert(o.end(),
                 {kOptMss, 4, static_cast<std::uint8_t>(mss >> 8), static_cast<std::uint8_t>(mss)});
    }
    if (mask & 0x02) {
        o.insert(o.end(), {kOptNop, kOptWscale, 3, in_.u8()});
    }
    if (mask & 0x04) {
        const std::uint8_t m = in_.u8();
        const std::uint32_t clock = p.ts_base + static_cast<std::uint32_t>(now_ / kNsPerMs);
        std::uint32_t val = clock;
        switch (m & 3) {
        case 1:
            val = clock - 0x10000; // older than anything sent: PAWS
            break;
        case 2:
            val = in_.u32();
            break;
        case 3:
            val = clock + 0x7FFFFFFF;
            break;
        default:
            break;
        }
        std::uint32_t ecr = p.eng_ts;
        switch ((m >> 2) & 3) {
        case 1:
            ecr = 0;
            break;
        case 2:
            ecr = in_.u32();
            break;
        case 3:
            ecr = p.eng_ts - 1;
            break;
        default:
            break;
        }
        o.insert(o.end(), {kOptNop, kOptNop, kOptTimestamp, 10});
        for (const std::uint32_t v : {val, ecr}) {
            o.insert(o.end(),
                     {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                      static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)});
        }
    }
    if (mask & 0x08) {
        o.insert(o.end(), {kOptNop, kOptNop, kOptSackPerm, 2});
    }
    if (mask & 0x10) {
        const std::uint8_t n = static_cast<std::uint8_t>((in_.u8() & 3) + 1);
        o.insert(o.end(), {kOptNop, kOptNop, kOptSack, static_cast<std::uint8_t>(2 + 8 * n)});
        for (std::uint8_t b = 0; b < n; ++b) {
            const std::uint32_t left =
                ack_base + static_cast<std::uint32_t>(static_cast<std::int8_t>(in_.u8()) * 100);
            const std::uint32_t right = left + 1 + 16u * in_.u8();
            for (const std::uint32_t v : {left, right}) {
                o.insert(o.end(),
                         {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                          static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)});
            }
        }
    }
    if (mask & 0x20) {
        const std::size_t n = in_.u8() % 16;
        for (std::size_t i = 0; i < n; ++i) {
            o.push_back(in_.u8());
        }
    }
    if (mask & 0x40) {
        o.insert(o.end(), {kOptEol, in_.u8()}); // end of list, then garbage (padding)
    }
    if (mask & 0x80) {
        o.insert(o.end(), {kOptMss, 3, 0}); // a known option with the wrong length
    }
    if (o.size() > kMaxOptionBytes) {
        o.resize(kMaxOptionBytes);
    }
    while (o.size() % 4 != 0) {
        o.push_back(kOptEol);
    }
    return o;
}

rte_mbuf* Run::build(const Pair& pr, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
                     std::uint16_t win, const std::vector<std::uint8_t>& opts, std::uint32_t paylen,
                     std::uint8_t chain_mode, bool corrupt) {
    const std::size_t thl = 20 + opts.size();
    const std::size_t hl = 20 + thl;
    std::vector<std::uint8_t> b(hl + paylen);
    std::uint8_t* ip = b.data();
    ip[0] = 0x45;
    fuzz::store16(ip + 2, static_cast<std::uint16_t>(b.size()));
    fuzz::store16(ip + 6, 0x4000); // DF
    ip[8] = 64;
    ip[9] = IPPROTO_TCP;
    fuzz::store32(ip + 12, kPeerIp);
    fuzz::store32(ip + 16, pr.engine_ip);
    fuzz::store16(ip + 10, fuzz::cksum(ip, 20));
    std::uint8_t* t = ip + 20;
    fuzz::store16(t, pr.peer_port);
    fuzz::store16(t + 2, pr.engine_port);
    fuzz::store32(t + 4, seq);
    fuzz::store32(t + 8, ack);
    t[12] = static_cast<std::uint8_t>((thl / 4) << 4);
    t[13] = flags;
    fuzz::store16(t + 14, win);
    std::copy(opts.begin(), opts.end(), t + 20);
    const std::uint32_t first = seq + ((flags & kSyn) ? 1 : 0);
    for (std::uint32_t i = 0; i < paylen; ++i) {
        b[hl + i] = peer_byte(first + i);
    }
    const auto l4 = static_cast<std::uint16_t>(b.size() - 20);
    fuzz::store16(t + 16, fuzz::cksum(t, l4, fuzz::pseudo_sum(ip, IPPROTO_TCP, l4)));
    if (corrupt) {
        b[b.size() - 1 - (paylen > 0 ? paylen / 2 : 3)] ^= 0x20;
    }

    // Cut into segments: 0 one (if it fits), 1 headers | payload, 2 headers + half | rest,
    // 3 headers + 1 | middle | rest. No piece larger than an mbuf's room.
    std::vector<std::size_t> cuts;
    switch (chain_mode) {
    case 1:
        cuts = {hl};
        break;
    case 2:
        cuts = {hl + paylen / 2};
        break;
    case 3:
        cuts = {hl + 1, hl + 1 + (paylen > 0 ? (paylen - 1) * 2 / 3 : 0)};
        break;
    default:
        break;
    }
    std::vector<std::size_t> pieces;
    std::size_t start = 0;
    cuts.push_back(b.size());
    for (const std::size_t c : cuts) {
        if (c <= start || c > b.size()) {
            continue;
        }
        for (std::size_t at = start; at < c; at += std::min<std::size_t>(c - at, 2048)) {
            pieces.push_back(std::min<std::size_t>(c - at, 2048));
        }
        start = c;
    }
    rte_mbuf* head = nullptr;
    rte_mbuf* tail = nullptr;
    std::size_t off = 0;
    for (const std::size_t len : pieces) {
        rte_mbuf* s = rte_pktmbuf_alloc(g_mp);
        if (s == nullptr) {
            rte_pktmbuf_free(head);
            return nullptr; // pool exhausted (deliberately, by a stack op): no segment
        }
        char* p = rte_pktmbuf_append(s, static_cast<std::uint16_t>(len));
        FUZZ_CHECK(p != nullptr, "mbuf room");
        std::memcpy(p, b.data() + off, len);
        off += len;
        if (head == nullptr) {
            head = s;
        } else {
            tail->next = s;
            ++head->nb_segs;
            head->pkt_len += static_cast<std::uint32_t>(len);
        }
        tail = s;
    }
    return head;
}

void Run::step_segment(std::uint8_t /*op*/) {
    const std::uint8_t flags = in_.u8();
    const std::uint8_t b2 = in_.u8();
    const std::uint8_t b3 = in_.u8();
    const std::size_t idx = b2 & 7;
    const Pair& pr = kPairs[idx];
    Peer& peer = peers_[idx];

    // Advance the clock first, so timers fire before the segment arrives.
    const std::uint8_t mask = in_.u8();
    const std::uint8_t len_code = in_.u8();
    advance(clock_step(in_.u8()));

    ConnEntry* e = stack_->lookup(engine_tuple(pr));
    Tcb* c = e != nullptr && !e->tagged() ? static_cast<Tcb*>(e) : nullptr;
    TimeWaitRecord* tw = e != nullptr && e->tagged() ? static_cast<TimeWaitRecord*>(e) : nullptr;
    const bool have_rcv = c != nullptr && c->state != State::syn_sent;
    const std::uint32_t exp_seq = have_rcv                               ? c->rcv.nxt
                                  : tw                                   ? tw->rcv_nxt
                                  : peer.eng_seen && (peer.eng_ack != 0) ? peer.eng_ack
                                                                         : peer.nxt;
    const std::uint32_t wnd =
        have_rcv && seq_gt(c->rcv.adv_edge, c->rcv.nxt) ? c->rcv.adv_edge - c->rcv.nxt : 65535;
    std::uint32_t seq = exp_seq;
    switch (b3 & 7) {
    case 1:
        seq = peer.nxt;
        break;
    case 2:
        seq = exp_seq - 1;
        break;
    case 3:
        seq = exp_seq + wnd;
        break;
    case 4:
        seq = exp_seq + static_cast<std::uint32_t>(static_cast<std::int8_t>(in_.u8()));
        break;
    case 5:
        seq = exp_seq + static_cast<std::uint32_t>(static_cast<std::int16_t>(in_.u16()) * 8);
        break;
    case 6:
        seq = in_.u32();
        break;
    case 7:
        seq = have_rcv ? c->rcv.irs : peer.isn;
        break;
    default:
        break;
    }
    const std::uint32_t exp_ack = c != nullptr ? c->snd.nxt : tw ? tw->snd_nxt : peer.eng_nxt;
    std::uint32_t ack = exp_ack;
    switch ((b3 >> 3) & 7) {
    case 1:
        ack = c != nullptr ? c->snd.una : exp_ack - 1;
        break;
    case 2:
        ack = c != nullptr ? c->snd.max : exp_ack + 1;
        break;
    case 3:
        ack = exp_ack + static_cast<std::uint32_t>(static_cast<std::int8_t>(in_.u8()));
        break;
    case 4:
        ack = exp_ack + 1 + in_.u8();
        break;
    case 5: { // older than the window allows (RFC 5961 5.2)
        const std::uint8_t back = in_.u8();
        ack = c != nullptr ? c->snd.una - c->snd.max_wnd - 1 - back : exp_ack - 0x40000000u;
        break;
    }
    case 6:
        ack = in_.u32();
        break;
    case 7:
        ack = c != nullptr ? c->snd.iss : peer.eng_isn;
        break;
    default:
        break;
    }
    std::uint16_t win = 65535;
    switch (b2 >> 6) {
    case 1:
        win = 0;
        break;
    case 2:
        win = static_cast<std::uint16_t>(in_.u8() * 16u);
        break;
    case 3:
        win = in_.u16();
        break;
    default:
        break;
    }
    const std::vector<std::uint8_t> opts = options(peer, mask, c != nullptr ? c->snd.una : exp_ack);
    std::uint32_t paylen = 0;
    if (len_code < 128) {
        paylen = len_code;
    } else if (len_code < 192) {
        paylen = 32u * (len_code - 128u);
    } else {
        const std::uint32_t mss = c != nullptr ? c->mss : 1460;
        const std::uint32_t table[8] = {mss - 1, mss, mss + 1, 1448, 1460, 1461, 2920, 4000};
        paylen = std::min<std::uint32_t>(table[len_code & 7], 4000);
    }
    const bool corrupt = (b2 & 0x20) && (b3 & 0xC0) == 0xC0;
    rte_mbuf* m = build(pr, flags, seq, ack, win, opts, paylen, (b2 >> 3) & 3, corrupt);
    if (m == nullptr) {
        return;
    }
    TRACE("%8.3f peer[%zu] %s seq %u ack %u win %u len %u opts %zu chain %u%s -> %s\n",
          static_cast<double>(now_) / 1e9, idx, flags_str(flags).c_str(), seq, ack, win, paylen,
          opts.size(), (b2 >> 3) & 3, corrupt ? " corrupt" : "",
          c != nullptr    ? st(c->state)
          : tw != nullptr ? "time_wait"
                          : "no connection");
    if (!corrupt) {
        peer.nxt = seq + paylen + ((flags & kSyn) ? 1 : 0) + ((flags & kFin) ? 1 : 0);
        if (flags & kSyn) {
            peer.isn = seq;
        }
    }
    if (burst_) {
        pending_.push_back(m); // delivered by flush(), as one RX burst
        if (pending_.size() == 32) {
            flush();
        }
        return;
    }
    stack_->input(m, now_);
}

// ---- the application ---------------------------------------------------------------------------

Conn* Run::find(const Tcb* c) {
    for (Conn& k : conns_) {
        if (k.c == c) {
            return &k;
        }
    }
    return nullptr;
}

Conn* Run::conn_on(std::size_t pair) {
    const FourTuple t = engine_tuple(kPairs[pair]);
    for (Conn& k : conns_) {
        if (k.c->key == t) {
            return &k;
        }
    }
    return nullptr;
}

void Run::untrack(const Tcb* c) {
    std::erase_if(conns_, [c](const Conn& k) { return k.c == c; });
}

// how: 0 recv, 1 peek + consume, 2 recv_mbuf
void Run::read_some(Conn& k, std::size_t limit, int how) {
    if (k.rd) {
        return;
    }
    Tcb* c = k.c;
    if (!k.base_known) {
        FUZZ_CHECK(stack_->readable(*c) == 0,
                   "data readable before the connection was established");
        return;
    }
    std::uint8_t buf[4096];
    std::size_t total = 0;
    while (total < limit) {
        const std::size_t want = std::min(sizeof buf, limit - total);
        std::size_t n = 0;
        if (how == 2) {
            rte_mbuf* m = stack_->recv_mbuf(*c, want);
            if (m == nullptr) {
                break;
            }
            const std::vector<std::uint8_t> f = fuzz::flatten(m);
            rte_pktmbuf_free(m);
            FUZZ_CHECK(f.size() <= want && !f.empty(), "recv_mbuf returned %zu bytes for %zu",
                       f.size(), want);
            n = f.size();
            std::memcpy(buf, f.data(), n);
        } else if (how == 1) {
            n = stack_->peek(*c, buf, want);
            FUZZ_CHECK(n <= stack_->readable(*c), "peek beyond readable");
        } else {
            n = stack_->recv(*c, buf, want);
        }
        if (n == 0) {
            break;
        }
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint32_t s = k.base + static_cast<std::uint32_t>(k.read + i);
            FUZZ_CHECK(buf[i] == peer_byte(s),
                       "application read byte %02x at stream offset %llu (seq %u), peer sent %02x",
                       buf[i], static_cast<unsigned long long>(k.read + i), s, peer_byte(s));
        }
        if (how == 1) {
            stack_->consume(*c, n);
        }
        k.read += n;
        total += n;
        if (find(c) == nullptr) {
            return; // a callback inside dropped it
        }
    }
    if (total > 0 && (read_mode_ == 0 || read_mode_ == 3)) {
        echo(k, total);
    }
}

void Run::send_some(Conn& k, std::size_t n, bool as_mbuf) {
    if (as_mbuf) {
        n = std::min<std::size_t>(n, 2048);
        rte_mbuf* m = rte_pktmbuf_alloc(g_mp);
        if (m == nullptr) {
            return;
        }
        auto* p =
            reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, static_cast<std::uint16_t>(n)));
        FUZZ_CHECK(p != nullptr || n == 0, "mbuf room");
        for (std::size_t i = 0; i < n; ++i) {
            p[i] = app_byte(k.sent + i);
        }
        const long r = stack_->send_mbuf(*k.c, m);
        if (r < 0) {
            rte_pktmbuf_free(m);
            FUZZ_CHECK(r == -EPIPE || r == -ENOTCONN || r == -EMSGSIZE, "send_mbuf: %ld", r);
            return;
        }
        FUZZ_CHECK(static_cast<std::size_t>(r) == n, "send_mbuf took %ld of %zu", r, n);
        k.sent += n;
        return;
    }
    std::vector<std::uint8_t> buf(n);
    for (std::size_t i = 0; i < n; ++i) {
        buf[i] = app_byte(k.sent + i);
    }
    Tcb* c = k.c;
    const long r = stack_->send(*c, buf.data(), n);
    FUZZ_CHECK(r >= 0 || r == -EPIPE || r == -ENOTCONN || r == -ENOBUFS, "send: %ld", r);
    Conn* still = find(c); // a callback may have dropped it
    if (r > 0 && still != nullptr) {
        FUZZ_CHECK(static_cast<std::size_t>(r) <= n, "send took %ld of %zu", r, n);
        still->sent += static_cast<std::uint64_t>(r);
    }
}

void Run::echo(Conn& k, std::uint64_t n) {
    Tcb* c = k.c;
    k.debt += n;
    const std::uint64_t before = k.sent;
    send_some(k, static_cast<std::size_t>(std::min<std::uint64_t>(k.debt, 65536)), use_send_mbuf_);
    if (Conn* still = find(c)) {
        const std::uint64_t done = still->sent - before;
        still->debt -= std::min(still->debt, done);
    }
}

void Run::on_acceptable(Listener& l) {
    FUZZ_CHECK(&l == listener_, "on_acceptable for an unknown listener");
    if (manual_accept_) {
        return;
    }
    while (Tcb* c = stack_->accept(l, this)) {
        FUZZ_CHECK(find(c) == nullptr, "accept returned a connection already held");
        TRACE("           accepted (%s)\n", st(c->state));
        conns_.push_back(Conn{c, c->rcv.irs + 1, true});
    }
}

void Run::on_connected(Tcb& c) {
    Conn* k = find(&c);
    FUZZ_CHECK(k != nullptr, "on_connected for a connection nobody opened");
    FUZZ_CHECK(!k->base_known, "on_connected twice");
    k->base = c.rcv.irs + 1;
    k->base_known = true;
}

void Run::on_readable(Tcb& c) {
    Conn* k = find(&c);
    FUZZ_CHECK(k != nullptr, "on_readable for a connection the application does not hold (%s)",
               st(c.state));
    if (read_mode_ == 2 || finishing_) {
        return;
    }
    const std::size_t limit =
        read_mode_ == 3 ? std::max<std::size_t>(1, stack_->readable(c) / 2) : SIZE_MAX;
    read_some(*k, limit, use_recv_mbuf_ ? 2 : 0);
}

void Run::on_peer_fin(Tcb& c) {
    TRACE("           on_peer_fin (%s)\n", st(c.state));
    Conn* k = find(&c);
    FUZZ_CHECK(k != nullptr, "on_peer_fin for a connection the application does not hold (%s)",
               st(c.state));
    FUZZ_CHECK(stack_->peer_closed(c), "on_peer_fin but peer_closed() is false");
    if (finishing_) {
        return;
    }
    switch (fin_mode_) {
    case 1:
        untrack(&c);
        stack_->close(c);
        break;
    case 2:
        stack_->shutdown(c, Shutdown::wr);
        break;
    case 3:
        untrack(&c);
        stack_->abort(c);
        break;
    default:
        break;
    }
}

void Run::on_writable(Tcb& c) {
    Conn* k = find(&c);
    FUZZ_CHECK(k != nullptr, "on_writable for a connection the application does not hold (%s)",
               st(c.state));
    if (k->debt > 0 && !finishing_) {
        echo(*k, 0);
    }
}

void Run::on_closed(Tcb& c, int err) {
    TRACE("           on_closed %d (%s)\n", err, st(c.state));
    FUZZ_CHECK(err == 0 || err == ECONNRESET || err == ETIMEDOUT || err == ECONNREFUSED ||
                   err == ECONNABORTED,
               "on_closed error %d", err);
    if (find(&c) == nullptr) {
        FUZZ_CHECK(c.orphan && c.linger_notify,
                   "on_closed for a connection the application gave up (orphan %d, linger %d)",
                   c.orphan, c.linger_notify);
        return;
    }
    untrack(&c);
}

void Run::step_app() {
    const std::uint8_t b1 = in_.u8();
    const std::uint8_t arg = in_.u8();
    const std::size_t idx = b1 & 7;
    const std::uint8_t op = static_cast<std::uint8_t>((b1 >> 3) % 20);
    TRACE("%8.3f app op %u on [%zu] arg %u\n", static_cast<double>(now_) / 1e9, op, idx, arg);
    if (op == 16) { // connect
        int err = 0;
        Tcb* c = stack_->connect(engine_tuple(kPairs[idx]), this, &err);
        if (c == nullptr) {
            FUZZ_CHECK(err == EADDRINUSE || err == ENOBUFS, "connect: %d", err);
        } else {
            FUZZ_CHECK(find(c) == nullptr, "connect returned a connection already held");
            conns_.push_back(Conn{c, 0, false});
        }
        return;
    }
    if (op == 17) { // accept what waits
        if (listener_ != nullptr) {
            while (Tcb* c = stack_->accept(*listener_, this)) {
                conns_.push_back(Conn{c, c->rcv.irs + 1, true});
            }
        }
        return;
    }
    if (op == 18) { // change the application's behaviour
        manual_accept_ = arg & 0x01;
        read_mode_ = (arg >> 1) & 3;
        fin_mode_ = (arg >> 3) & 3;
        use_recv_mbuf_ = arg & 0x20;
        use_send_mbuf_ = arg & 0x40;
        return;
    }
    Conn* k = conn_on(idx);
    if (k == nullptr) {
        return;
    }
    Tcb& c = *k->c;
    switch (op) {
    case 0: // send
        send_some(*k, arg == 255 ? 300000 : 64u * arg + (arg & 7), false);
        break;
    case 1:
        read_some(*k, SIZE_MAX, 0);
        break;
    case 2:
        read_some(*k, arg + 1u, 0);
        break;
    case 3:
        read_some(*k, 16u * arg + 1u, 1);
        break;
    case 4:
        read_some(*k, 16u * arg + 1u, 2);
        break;
    case 5:
        send_some(*k, 8u * arg + 1u, true);
        break;
    case 6:
        untrack(&c);
        stack_->close(c);
        break;
    case 7:
        stack_->shutdown(c, Shutdown::wr);
        break;
    case 8:
        k->rd = true;
        stack_->shutdown(c, Shutdown::rd);
        break;
    case 9:
        k->rd = true;
        stack_->shutdown(c, Shutdown::rdwr);
        break;
    case 10:
        untrack(&c);
        stack_->abort(c);
        break;
    case 11:
        stack_->set_linger(c, arg != 0, arg <= 1 ? 0 : ms(100ull * arg));
        break;
    case 12:
        stack_->set_keepalive(c, arg & 1, sec(1 + (arg >> 1)), sec(1), 1 + (arg & 3));
        break;
    case 13:
        stack_->set_nodelay(c, arg & 1);
        break;
    case 14:
        stack_->set_idle_timeout(c, sec(arg));
        break;
    case 15:
        stack_->set_user_timeout(c, sec(arg));
        break;
    default: // 19: nothing
        break;
    }
}

void Run::step_stack() {
    const std::uint8_t b1 = in_.u8();
    TRACE("%8.3f stack op %u arg %u\n", static_cast<double>(now_) / 1e9, b1 & 7, b1 >> 3);
    switch (b1 & 7) {
    case 0:
        if (listener_ != nullptr) {
            stack_->close_listener(*listener_);
            listener_ = nullptr;
        }
        break;
    case 1:
        if (listener_ == nullptr) {
            int err = 0;
            listener_ =
                stack_->listen(rte_cpu_to_be_32(kEngineIp), rte_cpu_to_be_16(80), this, 0, &err);
            FUZZ_CHECK(listener_ != nullptr, "listen again failed: %d", err);
        }
        break;
    case 2:
        stack_->set_accepting(false);
        break;
    case 3:
        stack_->set_accepting(true);
        break;
    case 4:
        stack_->reset_all();
        break;
    case 5: { // leave only a few mbufs in the pool
        const unsigned keep = std::array<unsigned, 8>{0, 1, 2, 4, 8, 16, 64, 256}[(b1 >> 3) & 7];
        while (rte_mempool_avail_count(g_mp) > keep) {
            rte_mbuf* m = rte_pktmbuf_alloc(g_mp);
            if (m == nullptr) {
                break;
            }
            held_.push_back(m);
        }
        break;
    }
    case 6:
        for (rte_mbuf* m : held_) {
            rte_pktmbuf_free(m);
        }
        held_.clear();
        break;
    case 7: // burst mode: peer segments are held and go in together through input_burst
        burst_ = ((b1 >> 3) & 1) != 0;
        break;
    default:
        break;
    }
}

// ---- the engine's output -----------------------------------------------------------------------

void Run::emit(rte_mbuf* m) {
    TcpSegment seg;
    const NetDrop d = parse_ipv4_tcp(m, seg);
    FUZZ_CHECK(d == NetDrop::none, "the engine emitted a packet that does not parse: %s",
               name(d).data());
    const std::uint32_t src = rte_be_to_cpu_32(seg.tuple.raddr);
    const std::uint32_t dst = rte_be_to_cpu_32(seg.tuple.laddr);
    const std::uint16_t sport = rte_be_to_cpu_16(seg.tuple.rport);
    const std::uint16_t dport = rte_be_to_cpu_16(seg.tuple.lport);
    std::size_t idx = 8;
    for (std::size_t i = 0; i < 8; ++i) {
        if (kPairs[i].peer_port == dport && kPairs[i].engine_port == sport &&
            kPairs[i].engine_ip == src) {
            idx = i;
        }
    }
    FUZZ_CHECK(dst == kPeerIp && idx < 8,
               "segment to a four-tuple the peer never used: %08x:%u -> %08x:%u", src, sport, dst,
               dport);
    const std::uint8_t f = seg.flags;
    FUZZ_CHECK(!((f & kSyn) && (f & (kFin | kRst))), "flags %02x", f);
    FUZZ_CHECK((f & (kSyn | kRst)) || (f & kAck), "segment without ACK: flags %02x", f);
    if (seg.payload_len > 0) {
        FUZZ_CHECK((f & kAck) && !(f & (kSyn | kRst)), "data with flags %02x", f);
        FourTuple t;
        t.laddr = seg.tuple.raddr;
        t.raddr = seg.tuple.laddr;
        t.lport = seg.tuple.rport;
        t.rport = seg.tuple.lport;
        ConnEntry* e = stack_->lookup(t);
        FUZZ_CHECK(e != nullptr && !e->tagged(), "data from a connection not in the table");
        const Tcb& c = static_cast<const Tcb&>(*e);
        FUZZ_CHECK(seg.payload_len <= c.mss &&
                       seg.payload_len <= std::max<std::uint16_t>(c.peer_mss, 536),
                   "%u-byte segment, MSS %u, peer's MSS %u", seg.payload_len, c.mss, c.peer_mss);
        const std::uint32_t off = seg.seq - (c.snd.iss + 1);
        std::vector<std::uint8_t> p(seg.payload_len);
        const auto* q = static_cast<const std::uint8_t*>(
            rte_pktmbuf_read(m, seg.payload_off, seg.payload_len, p.data()));
        FUZZ_CHECK(q != nullptr, "payload unreadable");
        for (std::uint32_t i = 0; i < seg.payload_len; ++i) {
            FUZZ_CHECK(q[i] == app_byte(std::uint64_t{off} + i),
                       "engine sent byte %02x at stream offset %u (seq %u), application wrote %02x",
                       q[i], off + i, seg.seq + i, app_byte(std::uint64_t{off} + i));
        }
    }
    TRACE("%8.3f   engine -> peer[%zu] %s seq %u ack %u win %u len %u%s\n",
          static_cast<double>(now_) / 1e9, idx, flags_str(f).c_str(), seg.seq, seg.ack, seg.window,
          seg.payload_len, seg.opts.has_ts ? " ts" : "");
    Peer& p = peers_[idx];
    p.eng_seen = true;
    if (!(f & kRst)) {
        p.eng_nxt = seg.seq + seg.payload_len + ((f & kSyn) ? 1 : 0) + ((f & kFin) ? 1 : 0);
    }
    if (f & kAck) {
        p.eng_ack = seg.ack;
    }
    if (f & kSyn) {
        p.eng_isn = seg.seq;
    }
    if (seg.opts.has_ts) {
        p.eng_ts = seg.opts.ts_val;
    }
    rte_pktmbuf_free(m);
}

// ---- invariants --------------------------------------------------------------------------------

void Run::check() {
    for (const Conn& k : conns_) {
        const Tcb* c = k.c;
        FUZZ_CHECK(stack_->lookup(c->key) == c && !c->dead && !c->orphan,
                   "a connection the application holds left the table without on_closed");
        if (k.base_known && !k.rd && synchronized(c->state)) {
            const std::uint32_t got = c->rcv.nxt - k.base - (c->fin_received ? 1 : 0);
            FUZZ_CHECK(std::uint64_t{c->rcv_q.bytes()} + k.read == got,
                       "receive accounting: %u queued + %llu read != RCV.NXT - IRS - 1 - FIN = %u "
                       "(%s)",
                       c->rcv_q.bytes(), static_cast<unsigned long long>(k.read), got,
                       st(c->state));
        }
    }
    std::size_t tcbs = 0;
    std::size_t tws = 0;
    stack_->for_each_connection([&](const ConnEntry& e, State s) {
        if (e.tagged()) {
            ++tws;
            return;
        }
        ++tcbs;
        const Tcb& c = static_cast<const Tcb&>(e);
        FUZZ_CHECK(seq_leq(c.snd.una, c.snd.nxt) && seq_leq(c.snd.nxt, c.snd.max),
                   "SND.UNA %u SND.NXT %u SND.MAX %u (%s)", c.snd.una, c.snd.nxt, c.snd.max, st(s));
        if (s != State::syn_sent) {
            // At most the peer's MSS (RFC 9293 3.7.1); a floor for tiny announcements (Linux
            // uses 48 bytes) is allowed up to the 536 every host accepts.
            FUZZ_CHECK(c.mss > 0 && c.mss <= std::max<std::uint16_t>(c.peer_mss, 536),
                       "effective send MSS %u, peer's MSS %u, timestamps %d (%s)", c.mss,
                       c.peer_mss, c.ts_ok, st(s));
        }
        FUZZ_CHECK(c.rcv_q.bytes() <= c.rcv_buf, "receive queue %u > rcv_buf %u (%s)",
                   c.rcv_q.bytes(), c.rcv_buf, st(s));
        FUZZ_CHECK(c.snd_q.bytes() <= c.snd_buf, "send queue %u > snd_buf %u (%s)", c.snd_q.bytes(),
                   c.snd_buf, st(s));
    });
    FUZZ_CHECK(tcbs == stack_->tcb_count(), "table holds %zu control blocks, the pool %zu in use",
               tcbs, stack_->tcb_count());
    FUZZ_CHECK(tcbs <= cfg_.max_connections && tws == stack_->time_wait_count() &&
                   tws <= std::min<std::size_t>(cfg_.max_time_wait, cfg_.tcp.max_tw_buckets),
               "table: %zu control blocks, %zu TIME_WAIT records", tcbs, tws);
    if (listener_ != nullptr) {
        FUZZ_CHECK(listener_->syn_queue.size() <= listener_->syn_backlog &&
                       listener_->accept_queue.size() <= listener_->backlog,
                   "listener queues %zu/%zu beyond backlogs %u/%u", listener_->syn_queue.size(),
                   listener_->accept_queue.size(), listener_->syn_backlog, listener_->backlog);
    }
}

void Run::finish() {
    // The application closes everything, the listener goes, the peer is silent: every control
    // block and TIME_WAIT record must go within two hours of timers.
    flush();
    finishing_ = true;
    for (rte_mbuf* m : held_) {
        rte_pktmbuf_free(m);
    }
    held_.clear();
    while (!conns_.empty()) {
        Tcb* c = conns_.back().c;
        conns_.pop_back();
        stack_->close(*c);
    }
    if (listener_ != nullptr) {
        stack_->close_listener(*listener_);
        listener_ = nullptr;
    }
    check();
    for (int i = 0; i < 120; ++i) {
        advance(sec(60));
    }
    if (stack_->tcb_count() != 0 || stack_->time_wait_count() != 0) {
        stack_->for_each_connection([&](const ConnEntry& e, State s) {
            if (e.tagged()) {
                std::fprintf(stderr, "  left: TIME_WAIT record\n");
                return;
            }
            const Tcb& c = static_cast<const Tcb&>(e);
            std::fprintf(stderr,
                         "  left: %s orphan %d una %u nxt %u max %u wnd %u mss %u unsent %u "
                         "queued %u rtx armed %d kind %u\n",
                         st(s), c.orphan, c.snd.una, c.snd.nxt, c.snd.max, c.snd.wnd, c.mss,
                         c.unsent(), c.snd_q.bytes(), c.rtx_timer.armed(), c.rtx_timer.kind());
        });
    }
    FUZZ_CHECK(stack_->tcb_count() == 0 && stack_->time_wait_count() == 0,
               "2 hours after the application closed everything: %zu control blocks and %zu "
               "TIME_WAIT records left",
               stack_->tcb_count(), stack_->time_wait_count());
    stack_.reset();
    FUZZ_CHECK(rte_mempool_in_use_count(g_mp) == 0, "%u mbufs leaked",
               rte_mempool_in_use_count(g_mp));
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
    const char* t = std::getenv("TCPTERM_FUZZ_TRACE");
    g_trace = t != nullptr && *t != '\0' && *t != '0';
    g_mp = fuzz::init_eal_and_pool("fuzz_tcp_input", kPoolSize);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto run = std::make_unique<Run>(data, size);
    run->go();
    return 0;
}
