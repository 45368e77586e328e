// tcpterm-bench-loss: one bulk transfer between two TcpStacks under random loss, on a simulated
// path with a fixed round-trip time, for each loss-recovery configuration side by side:
// NewReno without SACK (what tcpterm had before the out-of-order queue), NewReno with SACK, and
// CUBIC with SACK (the default). Time is simulated (a fake clock moved in fixed steps), so the
// figures are exact and repeatable: the machine's load does not enter them. Each run checks that
// every byte arrived in order.
//
//   tcpterm-bench-loss [MIB [RTT_MS [SEEDS]]]      (defaults 16 MiB, 20 ms, 5 seeds)
//
// One line per (loss rate, configuration), the median over SEEDS loss patterns (seeds 1..SEEDS)
// of: simulated seconds and goodput; and the totals over all seeds of packets lost towards the
// receiver, segments retransmitted, RTO expiries, segments held out of order by the receiver.
// Loss is independent per packet in
// both directions (data and ACKs); there is no bottleneck queue, so the windows, not a link
// rate, bound the goodput (buffers 4 MiB each).
#include "net/packet.hpp"
#include "tcp/stack.hpp"

#include <fmt/core.h>
#include <rte_eal.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <random>
#include <string>
#include <vector>

using namespace tcpterm;

namespace {

constexpr std::uint32_t kClientIp = 0xC6120001u;
constexpr std::uint32_t kServerIp = 0xC6120002u;
constexpr Nanos kStep = us(100);

struct Packet {
    Nanos at;
    rte_mbuf* m;
};

// A one-way path: a fixed delay, then delivery; a packet is lost with probability `loss`.
struct Path final : tcp::SegmentSink {
    std::deque<Packet> q;
    Nanos* now = nullptr;
    Nanos delay = 0;
    double loss = 0;
    std::mt19937_64* rng = nullptr;
    std::uint64_t lost = 0;
    void emit(rte_mbuf* m) override {
        if (std::uniform_real_distribution<double>(0, 1)(*rng) < loss) {
            ++lost;
            rte_pktmbuf_free(m);
            return;
        }
        q.push_back({*now + delay, m});
    }
    void deliver(tcp::TcpStack& to, Nanos t) {
        while (!q.empty() && q.front().at <= t) {
            rte_mbuf* m = q.front().m;
            q.pop_front();
            to.input(m, t);
        }
    }
    ~Path() override {
        for (const Packet& p : q) {
            rte_pktmbuf_free(p.m);
        }
    }
};

struct Receiver final : tcp::ConnHandler, tcp::ListenHandler {
    tcp::TcpStack* stack = nullptr;
    std::uint64_t got = 0;
    bool ok = true;
    bool done = false;
    std::vector<char> buf = std::vector<char>(1 << 16);
    void on_acceptable(tcp::Listener& l) override {
        while (stack->accept(l, this) != nullptr) {
        }
    }
    void on_readable(tcp::Tcb& c) override {
        for (;;) {
            const std::size_t n = stack->recv(c, buf.data(), buf.size());
            if (n == 0) {
                break;
            }
            for (std::size_t i = 0; i < n; ++i) {
                ok = ok && buf[i] == static_cast<char>((got + i) * 7);
            }
            got += n;
        }
    }
    void on_peer_fin(tcp::Tcb& c) override {
        done = true;
        stack->close(c);
    }
    void on_closed(tcp::Tcb&, int) override {}
};

struct Sender final : tcp::ConnHandler {
    tcp::TcpStack* stack = nullptr;
    std::uint64_t total = 0;
    std::uint64_t queued = 0;
    std::vector<char> chunk = std::vector<char>(1 << 16);
    void fill(tcp::Tcb& c) {
        while (queued < total) {
            const std::size_t n = std::min<std::uint64_t>(chunk.size(), total - queued);
            for (std::size_t i = 0; i < n; ++i) {
                chunk[i] = static_cast<char>((queued + i) * 7);
            }
            const long w = stack->send(c, chunk.data(), n);
            if (w <= 0) {
                stack->want_writable(c);
                return;
            }
            queued += static_cast<std::uint64_t>(w);
            if (static_cast<std::size_t>(w) < n) {
                stack->want_writable(c);
                return;
            }
        }
        stack->shutdown(c, tcp::Shutdown::wr);
    }
    void on_connected(tcp::Tcb& c) override { fill(c); }
    void on_writable(tcp::Tcb& c) override { fill(c); }
    void on_readable(tcp::Tcb&) override {}
    void on_peer_fin(tcp::Tcb& c) override { stack->close(c); }
    void on_closed(tcp::Tcb&, int) override {}
};

struct Config {
    const char* name;
    bool sack;
    tcp::CongestionControl cc;
    bool loss_state = true; // false: no out-of-order queue either (tcpterm before it had one)
};

struct Result {
    double seconds = 0;
    std::uint64_t rtx = 0;
    std::uint64_t rto = 0;
    std::uint64_t ooo = 0;
    std::uint64_t lost = 0; // packets the path dropped towards the receiver
    bool ok = false;
};

Result run(rte_mempool* mp, const Config& k, double loss, std::uint64_t bytes, Nanos rtt,
           std::uint64_t seed) {
    tcp::StackConfig cfg;
    cfg.max_connections = 16;
    cfg.max_time_wait = 16;
    cfg.tcp.sack_permitted = k.sack;
    cfg.tcp.congestion_control = k.cc;
    cfg.tcp.rcv_buf = 4u << 20;
    cfg.tcp.snd_buf = 4u << 20;
    cfg.tcp.time_wait = sec(1);
    if (!k.loss_state) {
        cfg.max_loss_states = 0;
    }
    std::mt19937_64 rng(seed);
    Nanos now = sec(1);
    Path to_server;
    Path to_client;
    for (Path* p : {&to_server, &to_client}) {
        p->now = &now;
        p->delay = rtt / 2;
        p->loss = loss;
        p->rng = &rng;
    }
    tcp::TcpStack client(cfg, mp, to_server, now);
    tcp::TcpStack server(cfg, mp, to_client, now);
    Receiver rx;
    rx.stack = &server;
    Sender tx;
    tx.stack = &client;
    tx.total = bytes;
    int err = 0;
    server.listen(rte_cpu_to_be_32(kServerIp), rte_cpu_to_be_16(80), &rx, 0, &err);
    FourTuple t;
    t.laddr = rte_cpu_to_be_32(kClientIp);
    t.raddr = rte_cpu_to_be_32(kServerIp);
    t.lport = rte_cpu_to_be_16(40000);
    t.rport = rte_cpu_to_be_16(80);
    const Nanos start = now;
    if (client.connect(t, &tx, &err) == nullptr) {
        return {};
    }
    const Nanos limit = start + sec(3600);
    while (!(rx.done && rx.got == bytes) && now < limit) {
        now += kStep;
        to_server.deliver(server, now);
        to_client.deliver(client, now);
        client.advance(now);
        server.advance(now);
    }
    Result r;
    r.seconds = static_cast<double>(now - start) / 1e9;
    const tcp::TcpStats& cs = client.stats();
    r.rtx = cs[tcp::Counter::rtx_data] + cs[tcp::Counter::sack_rtx];
    r.rto = cs.expiry(tcp::TimerKind::rtx);
    r.ooo = server.stats()[tcp::Counter::ooo_queued];
    r.ok = rx.ok && rx.got == bytes;
    r.lost = to_server.lost;
    // Let both ends finish (TIME_WAIT included) so every mbuf comes back.
    for (int i = 0; i < 40'000 && (client.tcb_count() + server.tcb_count() +
                                   client.time_wait_count() + server.time_wait_count()) > 0;
         ++i) {
        now += kStep;
        to_server.deliver(server, now);
        to_client.deliver(client, now);
        client.advance(now);
        server.advance(now);
    }
    return r;
}

} // namespace

int main(int argc, char** argv) {
    const std::uint64_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 16;
    const Nanos rtt = ms(argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 20);
    const std::uint64_t seeds = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 5;
    if (mib == 0 || rtt == 0 || seeds == 0) {
        fmt::print(stderr, "usage: tcpterm-bench-loss [MIB [RTT_MS [SEEDS]]] (all > 0)\n");
        return 2;
    }
    const char* eal[] = {"tcpterm-bench-loss", "--no-huge",     "-m",         "512",
                         "--no-pci",           "--file-prefix", "bench-loss", "--log-level",
                         "lib.eal:error"};
    if (rte_eal_init(static_cast<int>(std::size(eal)), const_cast<char**>(eal)) < 0) {
        fmt::print(stderr, "EAL initialisation failed\n");
        return 1;
    }
    rte_mempool* mp =
        rte_pktmbuf_pool_create("loss", 65535, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (mp == nullptr) {
        fmt::print(stderr, "mbuf pool: out of memory\n");
        return 1;
    }
    const Config configs[] = {
        {"no out-of-order queue, newreno", false, tcp::CongestionControl::newreno, false},
        {"newreno, no SACK", false, tcp::CongestionControl::newreno},
        {"newreno + SACK", true, tcp::CongestionControl::newreno},
        {"cubic + SACK", true, tcp::CongestionControl::cubic},
    };
    fmt::print("# {} MiB one way, RTT {} ms, independent loss each way; simulated time; median "
               "of seeds 1..{} (seconds, goodput), totals over the seeds (counts)\n",
               mib, rtt / kNsPerMs, seeds);
    fmt::print("| loss | configuration | seconds | goodput MB/s | packets lost to receiver | "
               "segments resent | RTOs | held out of order |\n|---|---|---|---|---|---|---|---|\n");
    bool all_ok = true;
    const auto w0 = std::chrono::steady_clock::now();
    for (const double loss : {0.0, 0.001, 0.01, 0.03}) {
        for (const Config& k : configs) {
            std::vector<double> secs;
            Result sum;
            sum.ok = true;
            for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
                const Result r = run(mp, k, loss, mib << 20, rtt, seed);
                secs.push_back(r.seconds);
                sum.lost += r.lost;
                sum.rtx += r.rtx;
                sum.rto += r.rto;
                sum.ooo += r.ooo;
                sum.ok = sum.ok && r.ok;
            }
            std::sort(secs.begin(), secs.end());
            const double med = secs[secs.size() / 2];
            all_ok = all_ok && sum.ok;
            fmt::print("| {:.1f}% | {} | {:.2f} | {:.2f} | {} | {} | {} | {} |{}\n", loss * 100,
                       k.name, med, static_cast<double>(mib << 20) / med / 1e6, sum.lost, sum.rtx,
                       sum.rto, sum.ooo, sum.ok ? "" : " BYTES WRONG");
        }
    }
    fmt::print(stderr, "wall time {:.1f} s\n",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count());
    const unsigned left = rte_mempool_in_use_count(mp);
    if (left != 0) {
        fmt::print(stderr, "{} mbufs not returned\n", left);
        all_ok = false;
    }
    return all_ok ? 0 : 1;
}
