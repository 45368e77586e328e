// tcpterm-bench-lifecycle: the in-process loopback benchmark of the TCP core. A client stack and
// a server stack share one thread and an in-memory wire; each lifecycle is a full connection:
// 3-way handshake, a 64-byte request, a 128-byte response, close by the chosen side, TIME_WAIT
// kept by the closer. Prints lifecycles/s and TSC cycles spent in the server stack per
// lifecycle (rdtsc around every server entry point). Not a test: figures go to
// docs/benchmarks.md with the command, date and CPU.
//
//   tcpterm-bench-lifecycle [--conns N] [--batch N] [--closer server|client] [--runs N]
#include "../common/link.hpp"

#include "base/tsc_clock.hpp"

#include <fmt/core.h>
#include <rte_byteorder.h>
#include <rte_eal.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

using namespace tcpterm;

namespace {

constexpr std::uint32_t kServerIp = 0xC6120002u;   // 198.18.0.2
constexpr std::uint32_t kClientBase = 0xC6130000u; // 198.19.0.0/16
const char kRequest[64] = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
const char kResponse[128] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

struct Server : tcp::ConnHandler, tcp::ListenHandler {
    tcp::TcpStack* s = nullptr;
    bool closes_first = true;
    void on_acceptable(tcp::Listener& l) override {
        while (s->accept(l, this) != nullptr) {
        }
    }
    void on_readable(tcp::Tcb& c) override {
        char buf[256];
        while (s->recv(c, buf, sizeof buf) > 0) {
        }
        s->send(c, kResponse, sizeof kResponse);
        if (closes_first) {
            s->close(c);
        }
    }
    void on_peer_fin(tcp::Tcb& c) override { s->close(c); }
};

struct Client : tcp::ConnHandler {
    tcp::TcpStack* s = nullptr;
    bool closes_first = false;
    std::uint64_t done = 0;
    std::uint64_t failed = 0;
    void on_connected(tcp::Tcb& c) override { s->send(c, kRequest, sizeof kRequest); }
    void on_readable(tcp::Tcb& c) override {
        char buf[256];
        std::size_t got = 0;
        std::size_t n;
        while ((n = s->recv(c, buf, sizeof buf)) > 0) {
            got += n;
        }
        if (got > 0) {
            ++done;
            if (closes_first) {
                s->close(c);
            }
        }
    }
    void on_peer_fin(tcp::Tcb& c) override { s->close(c); }
    void on_closed(tcp::Tcb&, int err) override {
        if (err != 0) {
            ++failed;
        }
    }
};

struct Result {
    double lifecycles_per_sec;
    double server_cycles_per_lifecycle;
    std::uint64_t done;
    std::uint64_t failed;
    std::size_t server_tw;
    std::size_t client_tw;
};

Result run(rte_mempool* mp, std::uint64_t conns, std::uint32_t batch, bool server_closes) {
    tcp::StackConfig cfg;
    cfg.max_connections = 4 * batch + 1024;
    cfg.max_time_wait = conns + 1024;
    cfg.tcp.max_tw_buckets = static_cast<std::uint32_t>(conns + 1024);
    cfg.tcp.timestamps = true;
    cfg.tcp.window_scaling = true;
    test::Link link(cfg, cfg, mp, sec(1));
    Server srv;
    srv.s = &link.server;
    srv.closes_first = server_closes;
    Client cli;
    cli.s = &link.client;
    cli.closes_first = !server_closes;
    if (!link.server.listen(rte_cpu_to_be_32(kServerIp), rte_cpu_to_be_16(80), &srv, 0, nullptr)) {
        fmt::print(stderr, "listen failed\n");
        std::exit(1);
    }
    std::uint64_t server_cycles = 0;
    std::uint64_t t_begin = 0;
    link.server_probe = [&](bool begin) {
        if (begin) {
            t_begin = TscClock::cycles();
        } else {
            server_cycles += TscClock::cycles() - t_begin;
        }
    };
    const auto wall0 = std::chrono::steady_clock::now();
    std::uint64_t started = 0;
    while (started < conns) {
        const std::uint64_t n = std::min<std::uint64_t>(batch, conns - started);
        for (std::uint64_t i = 0; i < n; ++i, ++started) {
            FourTuple t;
            t.laddr = rte_cpu_to_be_32(kClientBase + static_cast<std::uint32_t>(started / 60000));
            t.raddr = rte_cpu_to_be_32(kServerIp);
            t.lport = rte_cpu_to_be_16(static_cast<std::uint16_t>(1024 + started % 60000));
            t.rport = rte_cpu_to_be_16(80);
            if (link.client.connect(t, &cli, nullptr) == nullptr) {
                ++cli.failed;
            }
        }
        link.pump();
        link.advance(us(100)); // delayed ACKs etc. stay off the path; time moves 100 us per batch
    }
    link.pump();
    const auto wall1 = std::chrono::steady_clock::now();
    const double secs = std::chrono::duration<double>(wall1 - wall0).count();
    Result r{};
    r.done = cli.done;
    r.failed = cli.failed;
    r.lifecycles_per_sec = static_cast<double>(cli.done) / secs;
    r.server_cycles_per_lifecycle = static_cast<double>(server_cycles) /
                                    static_cast<double>(std::max<std::uint64_t>(cli.done, 1));
    r.server_tw = link.server.time_wait_count();
    r.client_tw = link.client.time_wait_count();
    return r;
}

} // namespace

int main(int argc, char** argv) {
    std::uint64_t conns = 200'000;
    std::uint32_t batch = 64;
    int runs = 3;
    std::string closer = "both";
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) {
                fmt::print(stderr, "{} needs a value\n", a);
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--conns") {
            conns = std::stoull(val());
        } else if (a == "--batch") {
            batch = static_cast<std::uint32_t>(std::stoul(val()));
        } else if (a == "--runs") {
            runs = std::stoi(val());
        } else if (a == "--closer") {
            closer = val();
        } else {
            fmt::print(stderr, "usage: tcpterm-bench-lifecycle [--conns N] [--batch N] [--closer "
                               "server|client|both] [--runs N]\n");
            return 2;
        }
    }
    const std::string prefix = "--file-prefix=tcpterm-bench-" + std::to_string(getpid());
    std::vector<std::string> eal = {"tcpterm-bench",
                                    "--no-huge",
                                    "-m",
                                    "512",
                                    "--no-pci",
                                    "--no-telemetry",
                                    "--log-level=lib.eal:error",
                                    prefix,
                                    "-l",
                                    "0"};
    std::vector<char*> eal_argv;
    for (auto& s : eal) {
        eal_argv.push_back(s.data());
    }
    if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
        fmt::print(stderr, "rte_eal_init failed (root needed)\n");
        return 1;
    }
    rte_mempool* mp =
        rte_pktmbuf_pool_create("bench", 65535, 512, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (mp == nullptr) {
        fmt::print(stderr, "mbuf pool creation failed\n");
        return 1;
    }
    fmt::print("| closer | lifecycles | batch | lifecycles/s (median of {}) | server "
               "cycles/lifecycle (median) | failed | TIME_WAIT kept (server/client) |\n",
               runs);
    fmt::print("|---|---|---|---|---|---|---|\n");
    for (bool server_closes : {true, false}) {
        if ((closer == "server" && !server_closes) || (closer == "client" && server_closes)) {
            continue;
        }
        std::vector<Result> rs;
        for (int r = 0; r < runs; ++r) {
            rs.push_back(run(mp, conns, batch, server_closes));
        }
        auto med = [&](auto f) {
            std::vector<double> v;
            for (auto& x : rs) {
                v.push_back(f(x));
            }
            std::sort(v.begin(), v.end());
            return v[v.size() / 2];
        };
        const Result& last = rs.back();
        fmt::print("| {} | {} | {} | {:.0f} | {:.0f} | {} | {}/{} |\n",
                   server_closes ? "server" : "client", last.done, batch,
                   med([](const Result& x) { return x.lifecycles_per_sec; }),
                   med([](const Result& x) { return x.server_cycles_per_lifecycle; }), last.failed,
                   last.server_tw, last.client_tw);
    }
    rte_mempool_free(mp);
    rte_eal_cleanup();
    return 0;
}
