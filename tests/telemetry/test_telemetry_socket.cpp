// The /tcpterm/... commands through a live DPDK telemetry socket: the EAL starts with telemetry
// on (no hugepages, no PCI, a per-process --file-prefix), the commands are registered for a
// FakeSource, and the test talks to /var/run/dpdk/<prefix>/dpdk_telemetry.v2 as dpdk-telemetry.py
// does (SOCK_SEQPACKET, one JSON reply a message). It checks what only the real library can show:
// the JSON as sent, replies within the 16 KiB output buffer (a longer one is cut mid-JSON), error
// replies, and tcpterm-ctl against the socket.
#define CATCH_CONFIG_RUNNER
#include "engine/telemetry.cpp"

#include "fake_source.hpp"

#include <catch2/catch.hpp>

#include <rte_eal.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace tcpterm;
using namespace tcpterm::engine;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using tcp::State;
using tcpterm::test::FakeSource;
using tcpterm::test::ip;

namespace {

std::string g_prefix;
FakeSource g_src(2);

std::string socket_path() {
    return "/var/run/dpdk/" + g_prefix + "/dpdk_telemetry.v2";
}

class Client {
public:
    Client() {
        fd_ = ::socket(AF_UNIX, SOCK_SEQPACKET, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        const std::string path = socket_path();
        REQUIRE(path.size() < sizeof sa.sun_path);
        path.copy(sa.sun_path, path.size());
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
        greeting = read();
    }
    ~Client() { ::close(fd_); }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    std::string query(const std::string& cmd) {
        REQUIRE(::send(fd_, cmd.data(), cmd.size(), 0) == static_cast<ssize_t>(cmd.size()));
        return read();
    }

    std::string greeting;

private:
    std::string read() {
        std::string buf(64 * 1024, '\0');
        const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
        REQUIRE(n > 0);
        buf.resize(static_cast<std::size_t>(n));
        return buf;
    }
    int fd_ = -1;
};

/// True if `s` is one complete JSON value as far as brackets and strings go (a reply cut at the
/// output buffer is not).
bool complete_json(const std::string& s) {
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            if (--depth < 0) {
                return false;
            }
            if (depth == 0 && i + 1 != s.size()) {
                return false;
            }
        }
    }
    return depth == 0 && !in_string && !s.empty();
}

std::size_t count(const std::string& s, const std::string& what) {
    std::size_t n = 0;
    for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) {
        ++n;
    }
    return n;
}

void set_state(tcp::TcpStats& s, State st, std::int64_t n) {
    s.states[static_cast<std::size_t>(st)] = n;
}

void reset_source() {
    g_src.answer_late();
    for (auto& w : g_src.workers) {
        w = FakeSource::Worker{};
    }
    g_src.workers[0].load.lcore = 1;
    g_src.workers[1].load.lcore = 2;
    set_state(g_src.workers[0].stats, State::established, 5);
    set_state(g_src.workers[1].stats, State::established, 2);
    set_state(g_src.workers[0].stats, State::listen, 1);
    set_state(g_src.workers[0].stats, State::time_wait, 40);
    set_state(g_src.workers[1].stats, State::time_wait, 2);
    set_state(g_src.workers[1].stats, State::close_wait, 3);
    g_src.workers[0].conns = {
        {ip(10, 0, 0, 1), ip(10, 0, 0, 2), 80, 40000, State::established, 100, 0, 0},
        {ip(10, 0, 0, 1), ip(10, 0, 0, 3), 80, 40001, State::time_wait, 0, 0, 0}};
    g_src.workers[1].conns = {
        {ip(10, 0, 0, 1), ip(10, 0, 0, 4), 80, 40002, State::time_wait, 0, 0, 1},
        {ip(10, 0, 0, 1), ip(10, 0, 0, 5), 80, 40003, State::close_wait, 0, 12, 1}};
}

struct Run {
    int status;
    std::string out;
};

/// Runs tcpterm-ctl against this process's socket; stdout and stderr together.
Run ctl(const std::string& args, const std::string& prefix = g_prefix) {
    const std::string cmd = "python3 " TCPTERM_CTL " --prefix " + prefix + " " + args + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) {
        out.append(buf, n);
    }
    const int st = ::pclose(p);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

} // namespace

TEST_CASE("socket: the reply buffer is the size the budgets assume", "[telemetry]") {
    Client c;
    CHECK_THAT(c.greeting, Contains("\"max_output_len\":" + std::to_string(kMaxOutput)));
}

TEST_CASE("socket: /tcpterm/states", "[telemetry]") {
    reset_source();
    Client c;
    CHECK(c.query("/tcpterm/states") ==
          R"({"/tcpterm/states":{"closed":0,"listen":1,"syn_sent":0,"syn_recv":0,)"
          R"("established":7,"fin_wait1":0,"fin_wait2":0,"close_wait":3,"closing":0,)"
          R"("last_ack":0,"time_wait":42}})");
    CHECK_THAT(c.query("/tcpterm/states,1"), Contains(R"("established":2,)"));
    CHECK(c.query("/tcpterm/states,2") == R"({"/tcpterm/states":null})");
}

TEST_CASE("socket: /tcpterm/stats at its largest is complete", "[telemetry]") {
    reset_source();
    constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
    for (auto& w : g_src.workers) {
        w.stats.counters.fill(kMax / 2);
        w.stats.timer_expiries.fill(kMax / 2);
        w.stats.rst_sent.fill(kMax / 2);
        w.stats.rst_received.fill(kMax / 2);
        w.stats.drops.fill(kMax / 2);
        w.stats.net_drops.fill(kMax / 2);
        for (auto& row : w.stats.transitions) {
            row.fill(kMax / 2);
        }
    }
    Client c;
    const std::string r = c.query("/tcpterm/stats");
    CHECK(r.size() < kMaxOutput);
    CHECK(complete_json(r));
    CHECK(r.starts_with(R"({"/tcpterm/stats":{"counters":{"segs_in":)"));
    CHECK(count(r, "\"trans_") == 121);
    CHECK_THAT(r, Contains("\"worker\":{\"worker_loops\":0,"));
    CHECK(r.ends_with(R"("worker_impair_delayed":0}}})")); // the last WorkerLoad field
}

TEST_CASE("socket: /tcpterm/workers", "[telemetry]") {
    reset_source();
    g_src.workers[1].load.busy_cycles = 300;
    g_src.workers[1].load.idle_cycles = 100;
    g_src.workers[1].load.rx_packets = 3;
    Client c;
    const std::string r = c.query("/tcpterm/workers");
    CHECK(complete_json(r));
    CHECK_THAT(r, Contains(R"("1":{"lcore":2,"loops":0,"busy_cycles":300,"idle_cycles":100,)"
                           R"("busy_percent":75,"rx_packets":3,"tx_packets":0,"tx_dropped":0,)"
                           R"("cycles_per_packet":100})"));
}

TEST_CASE("socket: /tcpterm/conns by state, all, and refused parameters", "[telemetry]") {
    reset_source();
    Client c;
    CHECK(c.query("/tcpterm/conns,time_wait") ==
          R"({"/tcpterm/conns":{"state":"time_wait","total":2,"errors":[],"conns":[)"
          R"("10.0.0.1:80 10.0.0.3:40001 time_wait 0 0 0",)"
          R"("10.0.0.1:80 10.0.0.4:40002 time_wait 0 0 1"],"returned":2}})");
    const std::string all = c.query("/tcpterm/conns");
    CHECK_THAT(all, Contains(R"("state":"all","total":4,)"));
    CHECK(count(all, "10.0.0.1:80 ") == 4);
    CHECK(c.query("/tcpterm/conns,bogus") == R"({"/tcpterm/conns":null})");
    CHECK_THAT(c.query("/help,/tcpterm/conns"), Contains("time_wait"));
}

TEST_CASE("socket: /tcpterm/conns with thousands of connections stays within the buffer",
          "[telemetry]") {
    reset_source();
    for (std::uint16_t w = 0; w < 2; ++w) {
        auto& v = g_src.workers[w].conns;
        v.clear();
        for (std::uint32_t i = 0; i < 3000; ++i) {
            v.push_back({0xffffff00 + w, 0xfffffff0 - i, 65535, 65535, State::established,
                         0xffffffff, 0xffffffff, 65535});
        }
    }
    g_src.workers[1].answers = false;
    Client c;
    const std::string r = c.query("/tcpterm/conns,established");
    CHECK(r.size() < kMaxOutput);
    CHECK(complete_json(r));
    CHECK_THAT(r, Contains(R"("total":3000,"errors":["worker 1: no answer"])"));
    const std::size_t listed = count(r, " established ");
    CHECK(listed > 100);
    CHECK(listed <= kMaxConnsListed);
    CHECK_THAT(r, Contains("\"returned\":" + std::to_string(listed) + "}}"));
    g_src.answer_late();
}

TEST_CASE("tcpterm-ctl against the socket", "[telemetry][ctl]") {
    reset_source();
    Run r = ctl("ss -s");
    CHECK(r.status == 0);
    CHECK_THAT(r.out, Contains("TCP:   53 (estab 7, closed 0, timewait 42)"));
    CHECK_THAT(r.out, Contains("\nCLOSE-WAIT     3\n"));

    r = ctl("ss state time-wait");
    CHECK(r.status == 0);
    CHECK_THAT(r.out, StartsWith("State     Recv-Q Send-Q Local Address:Port Peer Address:Port\n"));
    CHECK_THAT(r.out, Contains("TIME-WAIT 0      0      10.0.0.1:80        10.0.0.4:40002"));

    r = ctl("--json ss state close_wait");
    CHECK(r.status == 0);
    CHECK_THAT(r.out, Contains("\"recv_q\": 12"));

    r = ctl("workers");
    CHECK(r.status == 0);
    CHECK_THAT(r.out, Contains("Cycles/pkt"));

    r = ctl("raw /tcpterm/conns,nonsense");
    CHECK(r.status == 0); // raw prints whatever came back
    CHECK_THAT(r.out, Contains("null"));

    r = ctl("ss state nonsense");
    CHECK(r.status == 1);
    CHECK_THAT(r.out, Contains("unknown state 'nonsense'"));

    r = ctl("stats --worker 7");
    CHECK(r.status == 1);
    CHECK_THAT(r.out, Contains("telemetry error reply to /tcpterm/stats,7"));

    r = ctl("ss -s", g_prefix + "-absent");
    CHECK(r.status == 1);
    CHECK_THAT(r.out,
               Contains("is tcpterm running? no socket at /var/run/dpdk/" + g_prefix + "-absent/"));
}

int main(int argc, char** argv) {
    g_prefix = "tcpterm-tel-" + std::to_string(getpid());
    std::vector<std::string> eal_args = {"tcpterm-telemetry-test",
                                         "--no-huge",
                                         "-m",
                                         "128",
                                         "--no-pci",
                                         "--log-level=lib.eal:error",
                                         "--log-level=lib.telemetry:error",
                                         "--file-prefix=" + g_prefix,
                                         "-l",
                                         "0"};
    std::vector<char*> eal_argv;
    for (auto& a : eal_args) {
        eal_argv.push_back(a.data());
    }
    if (!register_telemetry(g_src)) {
        std::fprintf(stderr, "register_telemetry failed\n");
        return 2;
    }
    if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
        std::fprintf(stderr, "rte_eal_init failed (are we root?)\n");
        return 2;
    }
    const int rc = Catch::Session().run(argc, argv);
    g_src.answer_late();
    rte_eal_cleanup();
    std::error_code ec;
    std::filesystem::remove_all("/var/run/dpdk/" + g_prefix, ec);
    return rc;
}
