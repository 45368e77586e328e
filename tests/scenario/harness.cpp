#include "harness.hpp"

#include <catch2/catch.hpp>
#include <fmt/core.h>

#include <rte_byteorder.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <atomic>

namespace tcpterm::test {

std::string flags_str(std::uint8_t f) {
    std::string s;
    if (f & kSyn)
        s += 'S';
    if (f & kFin)
        s += 'F';
    if (f & kRst)
        s += 'R';
    if (f & kPsh)
        s += 'P';
    if (f & kUrg)
        s += 'U';
    if (f & kAck)
        s += '.';
    return s.empty() ? "-" : s;
}

std::string Out::str() const {
    std::string sack;
    for (std::uint8_t i = 0; i < opts.sack_count; ++i) {
        sack += fmt::format(" {}:{}", opts.sack[i].left, opts.sack[i].right);
    }
    return fmt::format(
        "{} seq {} ack {} win {} len {}{}{}", flags_str(flags), seq, ack, window, payload.size(),
        opts.has_ts ? fmt::format(" TS val {} ecr {}", opts.ts_val, opts.ts_ecr) : "",
        sack.empty() ? "" : " sack" + sack);
}

void App::on_acceptable(tcp::Listener& l) {
    if (!auto_accept) {
        return;
    }
    while (tcp::Tcb* c = stack->accept(l, this)) {
        conns.push_back(c);
    }
}

void App::on_connected(tcp::Tcb& c) {
    ++connected;
    conns.push_back(&c);
}

void App::on_readable(tcp::Tcb& c) {
    ++readable;
    if (!auto_read) {
        return;
    }
    char buf[4096];
    std::size_t n;
    while ((n = stack->recv(c, buf, sizeof buf)) > 0) {
        received.append(buf, n);
    }
}

void App::on_peer_fin(tcp::Tcb& c) {
    ++peer_fins;
    if (on_fin_hook) {
        on_fin_hook(c);
    }
}

void App::on_closed(tcp::Tcb& c, int err) {
    ++closed;
    last_error = err;
    last_closed = &c;
    std::erase(conns, &c);
}

tcp::StackConfig Scenario::defaults() {
    tcp::StackConfig cfg;
    cfg.max_connections = 1024;
    cfg.max_time_wait = 1024;
    cfg.tcp.timestamps = false; // most scenarios read easier without; TS has its own tests
    cfg.tcp.window_scaling = false;
    cfg.tcp.rcv_buf = 65535;
    return cfg;
}

namespace {
rte_mempool* make_pool() {
    static std::atomic<int> n{0};
    const std::string name = fmt::format("sc{}", n++);
    rte_mempool* mp =
        rte_pktmbuf_pool_create(name.c_str(), 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (mp == nullptr) {
        throw std::runtime_error("scenario: mbuf pool creation failed");
    }
    return mp;
}
} // namespace

Scenario::Scenario(tcp::StackConfig cfg, bool listen)
    : clock_(sec(1000)), holder_{make_pool()}, mp_(holder_.mp),
      stack(cfg, mp_, *this, clock_.now()) {
    app.stack = &stack;
    if (listen) {
        int err = 0;
        listener =
            stack.listen(rte_cpu_to_be_32(kEngineIp), rte_cpu_to_be_16(kEnginePort), &app, 0, &err);
        REQUIRE(listener != nullptr);
    }
}

Scenario::~Scenario() = default;

PoolHolder::~PoolHolder() {
    // The stack (destroyed just before) freed every connection: no mbuf may be left over.
    CHECK(rte_mempool_in_use_count(mp) == 0);
    rte_mempool_free(mp);
}

FourTuple Scenario::tuple(std::uint16_t peer_port, std::uint16_t eng_port) const {
    FourTuple t;
    t.laddr = rte_cpu_to_be_32(kEngineIp);
    t.raddr = rte_cpu_to_be_32(kPeerIp);
    t.lport = rte_cpu_to_be_16(eng_port);
    t.rport = rte_cpu_to_be_16(peer_port);
    return t;
}

void Scenario::peer(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack, PeerOpts o,
                    std::uint16_t port) {
    rte_mbuf* m = rte_pktmbuf_alloc(mp_);
    REQUIRE(m != nullptr);
    if (!o.data.empty()) {
        char* p = rte_pktmbuf_append(m, static_cast<std::uint16_t>(o.data.size()));
        REQUIRE(p != nullptr);
        std::memcpy(p, o.data.data(), o.data.size());
    }
    TcpFields f;
    // The peer's view: its address is the source.
    f.tuple.laddr = rte_cpu_to_be_32(kPeerIp);
    f.tuple.raddr = rte_cpu_to_be_32(kEngineIp);
    f.tuple.lport = rte_cpu_to_be_16(port);
    f.tuple.rport = rte_cpu_to_be_16(kEnginePort);
    f.seq = seq;
    f.ack = ack;
    f.flags = flags;
    f.window = o.win;
    f.syn_options = flags & kSyn;
    if (o.mss) {
        f.opts.has_mss = true;
        f.opts.mss = o.mss;
    }
    if (o.wscale >= 0) {
        f.opts.has_wscale = true;
        f.opts.wscale = static_cast<std::uint8_t>(o.wscale);
    }
    if (o.ts) {
        f.opts.has_ts = true;
        f.opts.ts_val = o.ts_val;
        f.opts.ts_ecr = o.ts_ecr;
    }
    f.opts.sack_permitted = o.sack_perm;
    REQUIRE(o.sack.size() <= std::size(f.opts.sack));
    for (const SackBlock& b : o.sack) {
        f.opts.sack[f.opts.sack_count++] = b;
    }
    REQUIRE(prepend_ipv4_tcp(m, f, Checksum::software));
    inject(m);
}

void Scenario::inject(rte_mbuf* m) {
    stack.input(m, clock_.now());
}

void Scenario::emit(rte_mbuf* m) {
    TcpSegment seg;
    const NetDrop d = parse_ipv4_tcp(m, seg);
    INFO("engine emitted a packet it cannot parse: " << name(d));
    REQUIRE(d == NetDrop::none);
    Out o;
    o.flags = seg.flags;
    o.seq = seg.seq;
    o.ack = seg.ack;
    o.window = seg.window;
    o.opts = seg.opts;
    o.tuple = seg.tuple;
    o.payload.resize(seg.payload_len);
    if (seg.payload_len > 0) {
        const void* p = rte_pktmbuf_read(m, seg.payload_off, seg.payload_len, o.payload.data());
        if (p != o.payload.data()) {
            std::memcpy(o.payload.data(), p, seg.payload_len);
        }
    }
    rte_pktmbuf_free(m);
    if ((o.flags & kSyn) && !iss_known_) {
        iss_ = o.seq;
        iss_known_ = true;
    }
    if (tamper && !tamper(o)) {
        return;
    }
    out_.push_back(std::move(o));
}

Out Scenario::next() {
    INFO("expected a segment from the engine, got none");
    REQUIRE_FALSE(out_.empty());
    Out o = std::move(out_.front());
    out_.pop_front();
    return o;
}

Out Scenario::expect(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack) {
    Out o = next();
    INFO("engine sent: " << o.str());
    INFO("expected:    " << flags_str(flags) << " seq " << seq << " ack " << ack);
    CHECK(flags_str(o.flags) == flags_str(flags));
    CHECK(o.seq == seq);
    if (flags & kAck) {
        CHECK(o.ack == ack);
    }
    return o;
}

void Scenario::expect_none() {
    if (!out_.empty()) {
        FAIL("unexpected segment from the engine: " << out_.front().str());
    }
}

void Scenario::advance(Nanos d) {
    clock_.advance(d);
    stack.advance(clock_.now());
}

tcp::Tcb* Scenario::handshake(std::uint32_t peer_isn, PeerOpts syn) {
    peer(kSyn, peer_isn, 0, syn);
    Out sa = expect(kSyn | kAck, e(0), peer_isn + 1);
    REQUIRE(sa.seq == e(0));
    peer(kAck, peer_isn + 1, e(1), {.win = syn.win});
    REQUIRE_FALSE(app.conns.empty());
    return app.conns.back();
}

tcp::Tcb* Scenario::engine_connect(std::uint16_t lport) {
    int err = 0;
    FourTuple t = tuple(kPeerPort, lport);
    tcp::Tcb* c = stack.connect(t, &app, &err);
    REQUIRE(c != nullptr);
    return c;
}

State Scenario::state(std::uint16_t peer_port) {
    ConnEntry* e = stack.lookup(tuple(peer_port));
    if (e == nullptr) {
        return State::closed;
    }
    return e->tagged() ? State::time_wait : static_cast<tcp::Tcb*>(e)->state;
}

unsigned Scenario::mbufs_in_use() const {
    return rte_mempool_in_use_count(mp_);
}

} // namespace tcpterm::test
