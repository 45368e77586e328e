// tcpterm-bench-scale: in-process benchmarks of issue #5's scenarios 2 to 5 on the TCP core, one
// thread, a fake clock, and one subcommand each. Each prints a summary line and, with --json, a
// JSON result that scripts/bench.sh turns into the tables of docs/benchmarks.md.
//
//   memory    hold N connections ESTABLISHED, or N TIME_WAIT records, in one TcpStack: sizes of
//             the control block and the record, RSS before and after, RSS delta per connection
//   teardown  N connections established, then a prebuilt burst of the segments that close them
//             (RST; or client FIN and the ACK of the server's FIN; or the FIN answering the
//             server's) fed through TcpStack::input: segments/s and teardowns/s of the core
//   timers    N TIME_WAIT records expiring on the wheel while data segments arrive on 64k
//             established connections: expiries/s, and packet rate with and without expiries
//   synflood  spoofed SYNs through TcpStack::input (syncookies) while a legitimate client (a
//             second TcpStack over the in-memory link) runs full lifecycles: SYN-ACK rate, share
//             of legitimate lifecycles completed, pools and RSS before, during and after
//
// The server side is a real TcpStack; the "peer" that opens and closes connections in memory,
// teardown and timers is a raw segment builder with no state of its own (it reads what it needs
// from the server's control blocks, untimed), so RSS and cycles belong to the server only.
// Cycles are TSC cycles around TcpStack::input / advance calls only; building the segments is
// outside the measured time.
//
//   tcpterm-bench-scale memory   --conns N [--state established|time_wait] [--json F]
//   tcpterm-bench-scale teardown --conns N [--mode rst|client-fin|server-fin] [--burst B]
//                                [--checksum offload|software] [--runs R] [--json F]
//                                [--perf-ctl FIFO --perf-ack FIFO]
//   tcpterm-bench-scale timers   --tw N [--spread-ms MS] [--conns M] [--per-tick B] [--json F]
//   tcpterm-bench-scale synflood --legit N [--ratio K] [--syncookies 1|2] [--json F]
#include "../common/link.hpp"

#include "base/tsc_clock.hpp"
#include "net/packet.hpp"
#include "tcp/stack.hpp"

#include <fmt/core.h>
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

using namespace tcpterm;

namespace {

constexpr std::uint32_t kServerIp = 0xC6120002u;   // 198.18.0.2
constexpr std::uint32_t kClientBase = 0xC6130000u; // 198.19.0.0/16: the peer's addresses
constexpr std::uint32_t kPortsPerAddr = 60000;
constexpr std::uint16_t kServerPort = 80;
constexpr std::uint32_t kSpoofNet = 0x0A000000u; // 10.0.0.0/8: the flood's sources
constexpr std::uint32_t kSpoofMask = 0xFF000000u;

rte_mempool* g_mp = nullptr;
double g_hz = 0;
std::string g_runtime_dir; // the EAL's (empty with --no-shconf): removed at the end

/// rte_eal_cleanup, and the runtime directory the EAL leaves behind.
void eal_done() {
    rte_eal_cleanup();
    if (!g_runtime_dir.empty()) {
        ::rmdir(g_runtime_dir.c_str());
    }
}

[[noreturn]] void die(const std::string& why) {
    fmt::print(stderr, "tcpterm-bench-scale: {}\n", why);
    if (g_mp != nullptr) {
        eal_done();
    }
    std::_Exit(1);
}

std::uint64_t rss_bytes() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    unsigned long size = 0;
    unsigned long resident = 0;
    if (f == nullptr || std::fscanf(f, "%lu %lu", &size, &resident) != 2) {
        die("cannot read /proc/self/statm");
    }
    std::fclose(f);
    return static_cast<std::uint64_t>(resident) * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

std::uint64_t mem_available() {
    std::FILE* f = std::fopen("/proc/meminfo", "r");
    char line[256];
    std::uint64_t kb = 0;
    while (f != nullptr && std::fgets(line, sizeof line, f) != nullptr) {
        if (std::sscanf(line, "MemAvailable: %lu kB", &kb) == 1) {
            break;
        }
    }
    if (f != nullptr) {
        std::fclose(f);
    }
    return kb * 1024;
}

/// This thread's CPU time (ns): on a shared machine the TSC also counts the time other processes
/// held the core, so per-core rates are taken from this, and the TSC figure is kept alongside.
std::uint64_t thread_cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

/// What one start()/stop() pair of a Meter itself costs (two clock_gettime calls, two rdtsc),
/// measured at start-up and taken off every measured section.
double g_meter_cpu_ns = 0;
double g_meter_cycles = 0;

/// Accumulates TSC cycles (wall) and thread CPU time over the measured sections, less the cost of
/// measuring them.
struct Meter {
    std::uint64_t cycles = 0;
    std::uint64_t cpu_ns = 0;
    std::uint64_t pairs = 0;
    std::uint64_t t0_ = 0;
    std::uint64_t c0_ = 0;
    void start() {
        c0_ = thread_cpu_ns();
        t0_ = TscClock::cycles();
    }
    void stop() {
        cycles += TscClock::cycles() - t0_;
        cpu_ns += thread_cpu_ns() - c0_;
        ++pairs;
    }
    [[nodiscard]] double wall_s() const {
        return std::max(0.0,
                        static_cast<double>(cycles) - static_cast<double>(pairs) * g_meter_cycles) /
               g_hz;
    }
    [[nodiscard]] double cpu_s() const {
        return std::max(0.0,
                        static_cast<double>(cpu_ns) - static_cast<double>(pairs) * g_meter_cpu_ns) /
               1e9;
    }
    /// The share of the measured wall time this thread was on its CPU.
    [[nodiscard]] double on_cpu() const { return wall_s() > 0 ? cpu_s() / wall_s() : 0; }
};

void calibrate_meter() {
    constexpr int kPairs = 20000;
    Meter m;
    for (int i = 0; i < kPairs; ++i) {
        m.start();
        m.stop();
    }
    // The lowest of a few rounds: preemption only ever adds.
    g_meter_cpu_ns = static_cast<double>(m.cpu_ns) / kPairs;
    g_meter_cycles = static_cast<double>(m.cycles) / kPairs;
    for (int round = 0; round < 4; ++round) {
        Meter r;
        for (int i = 0; i < kPairs; ++i) {
            r.start();
            r.stop();
        }
        g_meter_cpu_ns = std::min(g_meter_cpu_ns, static_cast<double>(r.cpu_ns) / kPairs);
        g_meter_cycles = std::min(g_meter_cycles, static_cast<double>(r.cycles) / kPairs);
    }
}

double mib(std::uint64_t b) {
    return static_cast<double>(b) / (1024.0 * 1024.0);
}

/// Frees what the server stack sends (the peer never reads it) and counts it.
struct FreeSink final : tcp::SegmentSink {
    std::uint64_t n = 0;
    void emit(rte_mbuf* m) override {
        ++n;
        rte_pktmbuf_free(m);
    }
};

// ---- the raw peer -------------------------------------------------------------------------------

/// Connection i of the peer: source 198.19.x.y (60 000 ports each), destination 198.18.0.2:80.
FourTuple client_tuple(std::uint64_t i) {
    FourTuple t;
    t.laddr = rte_cpu_to_be_32(kClientBase + 1 + static_cast<std::uint32_t>(i / kPortsPerAddr));
    t.lport = rte_cpu_to_be_16(static_cast<std::uint16_t>(1024 + i % kPortsPerAddr));
    t.raddr = rte_cpu_to_be_32(kServerIp);
    t.rport = rte_cpu_to_be_16(kServerPort);
    return t;
}

FourTuple server_tuple(std::uint64_t i) {
    const FourTuple c = client_tuple(i);
    FourTuple s;
    s.laddr = c.raddr;
    s.lport = c.rport;
    s.raddr = c.laddr;
    s.rport = c.lport;
    return s;
}

std::uint32_t peer_iss(std::uint64_t i) {
    return static_cast<std::uint32_t>(i * 2654435761u);
}

/// Builds one segment from the peer. With `offload` the mbuf carries the receive flags a NIC
/// with checksum offload sets (IP and L4 checksums good), so the stack trusts them.
rte_mbuf* build(const FourTuple& t, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
                std::uint32_t tsval, std::uint32_t tsecr, std::uint16_t payload, bool offload) {
    rte_mbuf* m = rte_pktmbuf_alloc(g_mp);
    if (m == nullptr) {
        die("mbuf pool empty while building segments");
    }
    if (payload > 0) {
        char* p = rte_pktmbuf_append(m, payload);
        if (p == nullptr) {
            die("payload does not fit an mbuf");
        }
        std::memset(p, 'x', payload);
    }
    net::TcpFields f;
    f.tuple = t;
    f.seq = seq;
    f.ack = ack;
    f.flags = flags;
    f.window = 65535;
    f.syn_options = (flags & net::kSyn) != 0;
    f.opts.has_ts = true;
    f.opts.ts_val = tsval;
    f.opts.ts_ecr = tsecr;
    if (f.syn_options) {
        f.opts.has_mss = true;
        f.opts.mss = 1460;
        f.opts.has_wscale = true;
        f.opts.wscale = 7;
    }
    if (!net::prepend_ipv4_tcp(m, f, net::Checksum::software)) {
        die("prepend_ipv4_tcp failed");
    }
    m->ol_flags = offload ? (RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD) : 0;
    return m;
}

// ---- the server ---------------------------------------------------------------------------------

struct ServerApp final : tcp::ConnHandler, tcp::ListenHandler {
    tcp::TcpStack* s = nullptr;
    bool close_on_accept = false; // active close right after the handshake (-> TIME_WAIT)
    std::uint64_t accepted = 0;
    std::uint64_t bytes = 0;
    void on_acceptable(tcp::Listener& l) override {
        while (tcp::Tcb* c = s->accept(l, this)) {
            ++accepted;
            if (close_on_accept) {
                s->close(*c);
            }
        }
    }
    void on_readable(tcp::Tcb& c) override {
        char buf[2048];
        std::size_t n;
        while ((n = s->recv(c, buf, sizeof buf)) > 0) {
            bytes += n;
        }
    }
    void on_peer_fin(tcp::Tcb& c) override { s->close(c); }
};

/// A server TcpStack fed by the raw peer, on a fake clock.
struct Server {
    static constexpr Nanos kOrigin = sec(1);
    FreeSink sink;
    ServerApp app;
    std::unique_ptr<tcp::TcpStack> stack;
    Nanos now = kOrigin;
    bool offload = false;

    Server(const tcp::StackConfig& cfg, bool offload_in) : offload(offload_in) {
        stack = std::make_unique<tcp::TcpStack>(cfg, g_mp, sink, now);
        app.s = stack.get();
        if (stack->listen(rte_cpu_to_be_32(kServerIp), rte_cpu_to_be_16(kServerPort), &app, 0,
                          nullptr) == nullptr) {
            die("listen failed");
        }
    }
    /// The peer's timestamp clock (ms, never going back).
    [[nodiscard]] std::uint32_t peer_ts() const {
        return static_cast<std::uint32_t>((now - kOrigin) / kNsPerMs) + 1000;
    }
    void tick(Nanos d) {
        now += d;
        stack->advance(now);
    }
    tcp::Tcb& tcb(std::uint64_t i) {
        ConnEntry* e = stack->lookup(server_tuple(i));
        if (e == nullptr || e->tagged()) {
            die(fmt::format("connection {} not found as a control block", i));
        }
        return static_cast<tcp::Tcb&>(*e);
    }
    /// The segment from peer connection i that carries ACK of everything the server sent so far
    /// (plus `extra`), at the server's RCV.NXT (plus `seq_extra`).
    rte_mbuf* reply(std::uint64_t i, std::uint8_t flags, std::uint32_t seq_extra = 0,
                    std::uint32_t ack_extra = 0, std::uint16_t payload = 0) {
        tcp::Tcb& c = tcb(i);
        return build(client_tuple(i), c.rcv.nxt + seq_extra, c.snd.nxt + ack_extra, flags,
                     peer_ts(), stack->ts_now(c), payload, offload);
    }
    /// Opens peer connections [first, first + n): all SYNs, then all handshake ACKs.
    void open(std::uint64_t first, std::uint64_t n) {
        for (std::uint64_t i = first; i < first + n; ++i) {
            stack->input(
                build(client_tuple(i), peer_iss(i), 0, net::kSyn, peer_ts(), 0, 0, offload), now);
        }
        for (std::uint64_t i = first; i < first + n; ++i) {
            stack->input(reply(i, net::kAck), now);
        }
    }
    /// For connections the server closed (FIN_WAIT1): the peer's FIN+ACK -> TIME_WAIT.
    void finish_time_wait(std::uint64_t first, std::uint64_t n) {
        for (std::uint64_t i = first; i < first + n; ++i) {
            stack->input(reply(i, net::kFin | net::kAck), now);
        }
    }
};

tcp::StackConfig base_config() {
    tcp::StackConfig cfg;
    cfg.tcp.timestamps = true;
    cfg.tcp.window_scaling = true;
    cfg.tcp.syncookies = 0; // the peer opens in batches within the SYN queue
    cfg.tcp.syn_backlog = 1 << 16;
    cfg.tcp.backlog = 1 << 16;
    cfg.max_time_wait = 1024;
    cfg.tcp.max_tw_buckets = 1024;
    return cfg;
}

constexpr std::uint64_t kBatch = 4096;

// ---- JSON ---------------------------------------------------------------------------------------

/// A flat JSON object written in insertion order.
class Json {
public:
    void num(const std::string& k, double v) { add(k, fmt::format("{}", v)); }
    void integer(const std::string& k, std::uint64_t v) { add(k, fmt::format("{}", v)); }
    void str(const std::string& k, const std::string& v) { add(k, fmt::format("\"{}\"", v)); }
    void raw(const std::string& k, const std::string& v) { add(k, v); }
    [[nodiscard]] std::string text() const { return "{" + body_ + "}"; }

private:
    void add(const std::string& k, const std::string& v) {
        if (!body_.empty()) {
            body_ += ", ";
        }
        body_ += fmt::format("\"{}\": {}", k, v);
    }
    std::string body_;
};

void write_json(const std::string& path, Json j) {
    if (path.empty()) {
        return;
    }
    j.num("meter_pair_cpu_ns", g_meter_cpu_ns); // taken off every measured section
    j.num("meter_pair_cycles", g_meter_cycles);
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) {
        die("cannot write " + path);
    }
    std::fputs(j.text().c_str(), f);
    std::fputs("\n", f);
    std::fclose(f);
}

std::string counters_json(const tcp::TcpStats& st) {
    Json j;
    for (std::size_t i = 0; i < tcp::count_of<tcp::Counter>(); ++i) {
        if (st.counters[i] != 0) {
            j.integer(std::string(tcp::kCounterNames[i]), st.counters[i]);
        }
    }
    for (std::size_t i = 0; i < tcp::count_of<tcp::TcpDrop>(); ++i) {
        if (st.drops[i] != 0) {
            j.integer("drop_" + std::string(tcp::kDropNames[i]), st.drops[i]);
        }
    }
    for (std::size_t i = 0; i < net::kNetDropCount; ++i) {
        if (st.net_drops[i] != 0) {
            j.integer(fmt::format("net_drop_{}", i), st.net_drops[i]);
        }
    }
    for (std::size_t i = 0; i < tcp::count_of<tcp::TimerKind>(); ++i) {
        if (st.timer_expiries[i] != 0) {
            j.integer("timer_" + std::string(tcp::kTimerNames[i]), st.timer_expiries[i]);
        }
    }
    return j.text();
}

double median(std::vector<double> v) {
    if (v.empty()) {
        return 0;
    }
    std::sort(v.begin(), v.end());
    return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::string list_json(const std::vector<double>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) {
        s += fmt::format("{}{}", i ? ", " : "", v[i]);
    }
    return s + "]";
}

// ---- perf control (perf record --control fifo:CTL,ACK -D -1) ------------------------------------

class PerfCtl {
public:
    PerfCtl(const std::string& ctl, const std::string& ack) {
        if (ctl.empty()) {
            return;
        }
        ctl_ = ::open(ctl.c_str(), O_WRONLY);
        ack_ = ack.empty() ? -1 : ::open(ack.c_str(), O_RDONLY);
        if (ctl_ < 0) {
            die("cannot open the perf control fifo " + ctl);
        }
    }
    ~PerfCtl() {
        if (ctl_ >= 0) {
            ::close(ctl_);
        }
        if (ack_ >= 0) {
            ::close(ack_);
        }
    }
    PerfCtl(const PerfCtl&) = delete;
    PerfCtl& operator=(const PerfCtl&) = delete;
    void enable() { send("enable\n"); }
    void disable() { send("disable\n"); }
    [[nodiscard]] bool on() const { return ctl_ >= 0; }

private:
    void send(const char* cmd) {
        if (ctl_ < 0) {
            return;
        }
        if (::write(ctl_, cmd, std::strlen(cmd)) < 0) {
            die("perf control fifo write failed");
        }
        if (ack_ >= 0) {
            char buf[16];
            if (::read(ack_, buf, sizeof buf) <= 0) {
                die("perf control fifo: no ack");
            }
        }
    }
    int ctl_ = -1;
    int ack_ = -1;
};

// ---- options ------------------------------------------------------------------------------------

struct Options {
    std::map<std::string, std::string> kv;
    [[nodiscard]] std::string get(const std::string& k, const std::string& def) const {
        auto it = kv.find(k);
        return it == kv.end() ? def : it->second;
    }
    [[nodiscard]] std::uint64_t num(const std::string& k, std::uint64_t def) const {
        auto it = kv.find(k);
        return it == kv.end() ? def : std::stoull(it->second);
    }
};

// ---- memory ------------------------------------------------------------------------------------

int cmd_memory(const Options& o) {
    const std::uint64_t n = o.num("conns", 1'000'000);
    const std::string state = o.get("state", "established");
    const bool tw = state == "time_wait";
    if (!tw && state != "established") {
        die("--state is established or time_wait");
    }
    tcp::StackConfig cfg = base_config();
    if (tw) {
        cfg.max_connections = 2 * kBatch + 1024;
        cfg.max_time_wait = n + 1024;
        cfg.tcp.max_tw_buckets = static_cast<std::uint32_t>(n + 1024);
    } else {
        cfg.max_connections = n + 1024;
    }
    const std::uint64_t avail = mem_available();
    const std::uint64_t rss0 = rss_bytes();
    const auto wall0 = std::chrono::steady_clock::now();
    auto srv = std::make_unique<Server>(cfg, true);
    srv->app.close_on_accept = tw;
    const std::uint64_t rss1 = rss_bytes();
    for (std::uint64_t first = 0; first < n; first += kBatch) {
        const std::uint64_t b = std::min(kBatch, n - first);
        srv->open(first, b);
        if (tw) {
            srv->finish_time_wait(first, b);
        }
        srv->tick(us(10));
    }
    const double setup_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    const std::uint64_t rss2 = rss_bytes();
    const std::uint64_t held = tw ? srv->stack->time_wait_count() : srv->stack->tcb_count();
    if (held != n) {
        die(fmt::format("holding {} of {} connections", held, n));
    }
    const std::uint64_t buckets = srv->stack->table().bucket_count();
    const std::uint64_t object = tw ? sizeof(tcp::TimeWaitRecord) : sizeof(tcp::Tcb);
    // Marginal: what holding the connections added to an empty stack (whose bucket array is
    // already zeroed, so resident); total: everything the stack added, bucket array included.
    const double per_conn = static_cast<double>(rss2 - rss1) / static_cast<double>(n);
    const double per_conn_total = static_cast<double>(rss2 - rss0) / static_cast<double>(n);
    Json j;
    j.str("scenario", "memory");
    j.str("state", state);
    j.integer("connections", n);
    j.integer("sizeof_tcb", sizeof(tcp::Tcb));
    j.integer("sizeof_time_wait_record", sizeof(tcp::TimeWaitRecord));
    j.integer("sizeof_conn_entry", sizeof(ConnEntry));
    j.integer("object_bytes", object);
    j.integer("table_buckets", buckets);
    j.integer("table_bucket_bytes", buckets * sizeof(void*));
    j.integer("rss_before_stack", rss0);
    j.integer("rss_empty_stack", rss1);
    j.integer("rss_holding", rss2);
    j.num("rss_delta_per_connection", per_conn);
    j.num("rss_delta_per_connection_with_table", per_conn_total);
    j.num("setup_s", setup_s);
    j.num("setup_conns_per_s", static_cast<double>(n) / setup_s);
    j.integer("mem_available_before", avail);
    j.raw("server_counters", counters_json(srv->stack->stats()));
    fmt::print("memory: {} {} connections held; sizeof(Tcb) {} B, sizeof(TimeWaitRecord) {} B; "
               "RSS {:.0f} (empty stack {:.0f}) -> {:.0f} MiB, {:.1f} B per connection ({:.1f} "
               "with the table's {:.0f} MiB of buckets); set up in {:.1f} s\n",
               n, state, sizeof(tcp::Tcb), sizeof(tcp::TimeWaitRecord), mib(rss0), mib(rss1),
               mib(rss2), per_conn, per_conn_total, mib(buckets * sizeof(void*)), setup_s);
    write_json(o.get("json", ""), j);
    // Freeing 10M connections one by one takes longer than holding them: the process ends here.
    std::fflush(stdout);
    eal_done();
    std::_Exit(0);
}

// ---- teardown -----------------------------------------------------------------------------------

struct TeardownRun {
    Meter meter;
    std::uint64_t segs_in = 0;
    std::uint64_t segs_out = 0;
    std::uint64_t torn_down = 0;
    double setup_s = 0;
    std::string counters;
};

TeardownRun teardown_run(std::uint64_t n, const std::string& mode, bool offload, std::size_t burst,
                         PerfCtl& perf, std::uint64_t seed) {
    tcp::StackConfig cfg = base_config();
    cfg.max_connections = n + 1024;
    cfg.checksum = offload ? net::Checksum::offload : net::Checksum::software;
    const bool server_fin = mode == "server-fin";
    if (server_fin) {
        cfg.max_time_wait = n + 1024;
        cfg.tcp.max_tw_buckets = static_cast<std::uint32_t>(n + 1024);
    }
    Server srv(cfg, offload);
    const auto wall0 = std::chrono::steady_clock::now();
    for (std::uint64_t first = 0; first < n; first += kBatch) {
        srv.open(first, std::min(kBatch, n - first));
        srv.tick(us(10));
    }
    if (srv.stack->tcb_count() != n) {
        die(fmt::format("teardown: {} of {} connections established", srv.stack->tcb_count(), n));
    }
    if (server_fin) {
        for (std::uint64_t i = 0; i < n; ++i) {
            srv.stack->close(srv.tcb(i)); // the server's FIN (FIN_WAIT1), before the clock runs
        }
    }
    srv.tick(us(10));
    TeardownRun r;
    r.setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    // Connections close in random order: their control blocks and buckets are cold and scattered,
    // as on a server whose connections opened and closed at different times.
    std::vector<std::uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0u);
    std::mt19937_64 rng(seed);
    std::shuffle(order.begin(), order.end(), rng);
    constexpr std::size_t kChunk = 16384;
    std::vector<rte_mbuf*> first(kChunk);
    std::vector<rte_mbuf*> second(kChunk);
    const bool two = mode == "client-fin";
    const tcp::TcpStats before = srv.stack->stats();
    const std::uint64_t out0 = srv.sink.n;
    for (std::size_t at = 0; at < n; at += kChunk) {
        const std::size_t k = std::min<std::size_t>(kChunk, n - at);
        for (std::size_t x = 0; x < k; ++x) {
            const std::uint64_t i = order[at + x];
            if (mode == "rst") {
                first[x] = srv.reply(i, net::kRst | net::kAck);
            } else if (two) {
                first[x] = srv.reply(i, net::kFin | net::kAck);
                second[x] = srv.reply(i, net::kAck, 1, 1); // ACK of the server's FIN
            } else {
                first[x] = srv.reply(i, net::kFin | net::kAck); // answers the server's FIN
            }
        }
        perf.enable();
        r.meter.start();
        // As a worker hands the stack an RX burst (TcpStack::input_burst), or one by one.
        const auto feed = [&](std::vector<rte_mbuf*>& v) {
            if (burst <= 1) {
                for (std::size_t x = 0; x < k; ++x) {
                    srv.stack->input(v[x], srv.now);
                }
                return;
            }
            for (std::size_t x = 0; x < k; x += burst) {
                srv.stack->input_burst(&v[x], std::min(burst, k - x), srv.now);
            }
        };
        feed(first);
        if (two) {
            feed(second);
        }
        r.meter.stop();
        perf.disable();
    }
    const tcp::TcpStats& after = srv.stack->stats();
    r.segs_in = after[tcp::Counter::segs_in] - before[tcp::Counter::segs_in];
    r.segs_out = srv.sink.n - out0;
    r.torn_down = n - srv.stack->tcb_count();
    if (server_fin && srv.stack->time_wait_count() != n) {
        die(fmt::format("server-fin: {} TIME_WAIT records, expected {}",
                        srv.stack->time_wait_count(), n));
    }
    r.counters = counters_json(after);
    return r;
}

int cmd_teardown(const Options& o) {
    const std::uint64_t n = o.num("conns", 1'000'000);
    const std::string mode = o.get("mode", "client-fin");
    if (mode != "rst" && mode != "client-fin" && mode != "server-fin") {
        die("--mode is rst, client-fin or server-fin");
    }
    const std::string cks = o.get("checksum", "offload");
    const bool offload = cks == "offload";
    const int runs = static_cast<int>(o.num("runs", 3));
    const std::size_t burst = o.num("burst", 32); // 1: TcpStack::input per segment
    PerfCtl perf(o.get("perf-ctl", ""), o.get("perf-ack", ""));
    std::vector<double> mpps;      // per on-CPU second
    std::vector<double> tdps;      // per on-CPU second
    std::vector<double> cps;       // TSC cycles per segment, from the on-CPU time
    std::vector<double> mpps_wall; // per TSC (wall) second
    std::vector<double> on_cpu;
    TeardownRun last;
    for (int run = 0; run < runs; ++run) {
        TeardownRun r =
            teardown_run(n, mode, offload, burst, perf, 42 + static_cast<std::uint64_t>(run));
        const double cpu = r.meter.cpu_s();
        mpps.push_back(static_cast<double>(r.segs_in) / cpu / 1e6);
        tdps.push_back(static_cast<double>(r.torn_down) / cpu);
        cps.push_back(cpu * g_hz / static_cast<double>(r.segs_in));
        mpps_wall.push_back(static_cast<double>(r.segs_in) / r.meter.wall_s() / 1e6);
        on_cpu.push_back(r.meter.on_cpu());
        fmt::print(stderr,
                   "teardown {} ({} checksums) run {}: {} segments in, {} out, {} torn down in "
                   "{:.3f} s on CPU ({:.3f} s wall): {:.2f} Mpps, {:.0f} teardowns/s, {:.0f} "
                   "cycles/segment (wall clock: {:.2f} Mpps; setup {:.1f} s)\n",
                   mode, cks, run + 1, r.segs_in, r.segs_out, r.torn_down, cpu, r.meter.wall_s(),
                   mpps.back(), tdps.back(), cps.back(), mpps_wall.back(), r.setup_s);
        if (r.torn_down != n) {
            die(fmt::format("only {} of {} connections torn down", r.torn_down, n));
        }
        last = r;
    }
    Json j;
    j.str("scenario", "teardown");
    j.str("mode", mode);
    j.num("burst", static_cast<double>(burst));
    j.str("checksum", cks);
    j.integer("connections", n);
    j.integer("runs", static_cast<std::uint64_t>(runs));
    j.integer("segments_in", last.segs_in);
    j.integer("segments_out", last.segs_out);
    j.num("segments_in_per_teardown", static_cast<double>(last.segs_in) / static_cast<double>(n));
    j.num("segments_out_per_teardown", static_cast<double>(last.segs_out) / static_cast<double>(n));
    j.num("mpps_median", median(mpps));
    j.num("teardowns_per_s_median", median(tdps));
    j.num("cycles_per_segment_median", median(cps));
    j.num("mpps_wall_median", median(mpps_wall));
    j.num("on_cpu_median", median(on_cpu));
    j.raw("mpps_runs", list_json(mpps));
    j.raw("mpps_wall_runs", list_json(mpps_wall));
    j.raw("teardowns_per_s_runs", list_json(tdps));
    j.num("tsc_hz", g_hz);
    j.raw("server_counters", last.counters);
    fmt::print("teardown {} ({} checksums): {} connections, median of {}: {:.2f} Mpps, {:.0f} "
               "teardowns/s, {:.0f} cycles/segment per on-CPU second ({:.2f} Mpps by the wall "
               "clock, on CPU {:.0f}% of it)\n",
               mode, cks, n, runs, median(mpps), median(tdps), median(cps), median(mpps_wall),
               100 * median(on_cpu));
    write_json(o.get("json", ""), j);
    return 0;
}

// ---- timers -------------------------------------------------------------------------------------

struct Phase {
    std::uint64_t ticks = 0;
    std::uint64_t packets = 0;
    Meter in;
    Meter adv;
    std::uint64_t tw_expired = 0;
    std::uint64_t expired_all = 0;
};

int cmd_timers(const Options& o) {
    const std::uint64_t n = o.num("tw", 10'000'000);
    const Nanos spread = ms(o.num("spread-ms", 10'000));
    const std::uint64_t m = o.num("conns", 65'536);
    const std::uint64_t per_tick = o.num("per-tick", 256);
    const std::uint64_t base_ticks = o.num("baseline-ticks", 2000);
    const std::uint16_t payload = 64;
    tcp::StackConfig cfg = base_config();
    cfg.max_connections = m + 2 * kBatch + 1024;
    cfg.max_time_wait = n + 1024;
    cfg.tcp.max_tw_buckets = static_cast<std::uint32_t>(n + 1024);
    cfg.tcp.time_wait = sec(60);
    cfg.tcp.quickack = true; // every data segment is acked at once: the only timers are TIME_WAIT
    cfg.checksum = net::Checksum::offload;
    Server srv(cfg, true);
    const auto wall0 = std::chrono::steady_clock::now();
    // N TIME_WAIT records created over `spread` of fake time: they expire over the same spread,
    // 60 s later.
    srv.app.close_on_accept = true;
    const std::uint64_t batches = (n + kBatch - 1) / kBatch;
    const Nanos step = std::max<Nanos>(spread / std::max<std::uint64_t>(batches, 1), us(1));
    const Nanos created_from = srv.now;
    for (std::uint64_t first = 0; first < n; first += kBatch) {
        const std::uint64_t b = std::min(kBatch, n - first);
        srv.open(first, b);
        srv.finish_time_wait(first, b);
        srv.tick(step);
    }
    if (srv.stack->time_wait_count() != n) {
        die(fmt::format("timers: {} of {} TIME_WAIT records", srv.stack->time_wait_count(), n));
    }
    const double create_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    // The traffic: M established connections, each receiving 64-byte data segments in turn.
    srv.app.close_on_accept = false;
    for (std::uint64_t first = n; first < n + m; first += kBatch) {
        srv.open(first, std::min(kBatch, n + m - first));
    }
    std::vector<std::uint32_t> seq(m);
    std::vector<std::uint32_t> ack(m);
    std::vector<std::uint32_t> tsoff(m);
    for (std::uint64_t j = 0; j < m; ++j) {
        tcp::Tcb& c = srv.tcb(n + j);
        seq[j] = c.rcv.nxt;
        ack[j] = c.snd.nxt;
        tsoff[j] = c.ts_offset;
    }
    std::uint64_t next = 0;
    std::vector<rte_mbuf*> burst(per_tick);
    auto run_ticks = [&](std::uint64_t ticks, bool until_empty) {
        Phase p;
        const tcp::TcpStats s0 = srv.stack->stats();
        for (std::uint64_t t = 0; t < ticks || (until_empty && srv.stack->time_wait_count() > 0);
             ++t) {
            const auto ts_ms = static_cast<std::uint32_t>((srv.now - Server::kOrigin) / kNsPerMs);
            for (std::uint64_t x = 0; x < per_tick; ++x) {
                const std::uint64_t j = next++ % m;
                burst[x] = build(client_tuple(n + j), seq[j], ack[j], net::kAck | net::kPsh,
                                 srv.peer_ts(), ts_ms + tsoff[j], payload, true);
                seq[j] += payload;
            }
            p.in.start();
            for (std::uint64_t x = 0; x < per_tick; ++x) {
                srv.stack->input(burst[x], srv.now);
            }
            p.in.stop();
            srv.now += ms(1);
            p.adv.start();
            srv.stack->advance(srv.now);
            p.adv.stop();
            p.packets += per_tick;
            ++p.ticks;
        }
        const tcp::TcpStats& s1 = srv.stack->stats();
        p.tw_expired = s1.expiry(tcp::TimerKind::time_wait) - s0.expiry(tcp::TimerKind::time_wait);
        for (std::size_t k = 0; k < tcp::count_of<tcp::TimerKind>(); ++k) {
            p.expired_all += s1.timer_expiries[k] - s0.timer_expiries[k];
        }
        return p;
    };
    // Up to `base_ticks` before the first expiry, 100 ms at a time (the wheel cascades the
    // records down its levels on the way: measured as well).
    const Nanos window = created_from + cfg.tcp.time_wait;
    const Nanos base_start = window - ms(base_ticks) - ms(1);
    Meter jump;
    jump.start();
    while (srv.now + ms(100) < base_start) {
        srv.now += ms(100);
        srv.stack->advance(srv.now);
    }
    srv.now = base_start;
    srv.stack->advance(srv.now);
    jump.stop();
    if (srv.stack->time_wait_count() != n) {
        die("timers: records expired before the window");
    }
    const Phase a = run_ticks(base_ticks, false);
    const std::uint64_t tw_left_a = srv.stack->time_wait_count();
    const Phase b = run_ticks(0, true);
    const double total_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    if (srv.app.bytes != (a.packets + b.packets) * payload) {
        die(fmt::format("timers: the server read {} bytes, {} were sent", srv.app.bytes,
                        (a.packets + b.packets) * payload));
    }
    // Rates per on-CPU second (thread CPU time); cycles = on-CPU seconds x TSC Hz.
    auto phase_json = [&](const Phase& p) {
        const double in = p.in.cpu_s();
        const double adv = p.adv.cpu_s();
        Json j;
        j.integer("ticks", p.ticks);
        j.integer("packets", p.packets);
        j.num("input_cpu_s", in);
        j.num("advance_cpu_s", adv);
        j.num("input_wall_s", p.in.wall_s());
        j.num("advance_wall_s", p.adv.wall_s());
        j.integer("tw_expired", p.tw_expired);
        j.integer("timers_expired", p.expired_all);
        j.num("mpps_input_only", static_cast<double>(p.packets) / in / 1e6);
        j.num("mpps_core", static_cast<double>(p.packets) / (in + adv) / 1e6);
        j.num("cycles_per_packet", in * g_hz / static_cast<double>(p.packets));
        j.num("advance_share", adv / (in + adv));
        return j.text();
    };
    const double exp_per_s = static_cast<double>(b.tw_expired) / b.adv.cpu_s();
    const double cyc_per_exp = b.adv.cpu_s() * g_hz / static_cast<double>(b.tw_expired);
    const double all_wheel =
        (jump.cpu_s() + a.adv.cpu_s() + b.adv.cpu_s()) * g_hz / static_cast<double>(n);
    const double ra = static_cast<double>(a.packets) / (a.in.cpu_s() + a.adv.cpu_s()) / 1e6;
    const double rb = static_cast<double>(b.packets) / (b.in.cpu_s() + b.adv.cpu_s()) / 1e6;
    const double ia = static_cast<double>(a.packets) / a.in.cpu_s() / 1e6;
    const double ib = static_cast<double>(b.packets) / b.in.cpu_s() / 1e6;
    Json j;
    j.str("scenario", "timers");
    j.integer("time_wait_records", n);
    j.num("spread_s", static_cast<double>(spread) / 1e9);
    j.integer("traffic_connections", m);
    j.integer("packets_per_tick", per_tick);
    j.integer("payload", payload);
    j.num("create_s", create_s);
    j.num("total_s", total_s);
    j.num("jump_advance_cpu_s", jump.cpu_s());
    j.integer("tw_left_after_baseline", tw_left_a);
    j.raw("baseline", phase_json(a));
    j.raw("expiring", phase_json(b));
    j.num("expiries_per_s", exp_per_s);
    j.num("cycles_per_expiry", cyc_per_exp);
    j.num("wheel_cycles_per_record_all", all_wheel);
    j.num("on_cpu_share", (a.in.cpu_s() + a.adv.cpu_s() + b.in.cpu_s() + b.adv.cpu_s()) /
                              (a.in.wall_s() + a.adv.wall_s() + b.in.wall_s() + b.adv.wall_s()));
    j.num("tsc_hz", g_hz);
    j.raw("server_counters", counters_json(srv.stack->stats()));
    fmt::print("timers: {} TIME_WAIT records expired over {} ticks: {:.0f} expiries/s ({:.0f} "
               "cycles each; all wheel work {:.0f} cycles/record); traffic {:.2f} Mpps without "
               "expiries, {:.2f} Mpps while expiring (input only: {:.2f} -> {:.2f})\n",
               b.tw_expired, b.ticks, exp_per_s, cyc_per_exp, all_wheel, ra, rb, ia, ib);
    write_json(o.get("json", ""), j);
    return 0;
}

// ---- synflood -----------------------------------------------------------------------------------

const char kRequest[64] = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
const char kResponse[128] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

struct LegitServer final : tcp::ConnHandler, tcp::ListenHandler {
    tcp::TcpStack* s = nullptr;
    void on_acceptable(tcp::Listener& l) override {
        while (s->accept(l, this) != nullptr) {
        }
    }
    void on_readable(tcp::Tcb& c) override {
        char buf[256];
        while (s->recv(c, buf, sizeof buf) > 0) {
        }
        s->send(c, kResponse, sizeof kResponse);
    }
    void on_peer_fin(tcp::Tcb& c) override { s->close(c); }
};

struct LegitClient final : tcp::ConnHandler {
    tcp::TcpStack* s = nullptr;
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
            s->close(c); // the client closes first: the server keeps no TIME_WAIT
        }
    }
    void on_closed(tcp::Tcb&, int err) override {
        if (err != 0) {
            ++failed;
        }
    }
};

struct FloodResult {
    std::uint64_t legit = 0;
    std::uint64_t done = 0;
    std::uint64_t failed = 0;
    std::uint64_t flood = 0;
    Meter flood_m;  // the server's input of the flood's SYNs
    Meter server_m; // the server's work for the legitimate traffic (its entry points)
    double wall_s = 0;
    std::uint64_t cookies_sent = 0;
    std::uint64_t cookies_ok = 0;
    std::uint64_t cookies_failed = 0;
    std::uint64_t tcb_before = 0, tcb_peak = 0, tcb_after = 0;
    std::uint64_t tw_before = 0, tw_peak = 0, tw_after = 0;
    std::uint64_t mbuf_before = 0, mbuf_peak = 0, mbuf_after = 0;
    std::uint64_t rss_before = 0, rss_peak = 0, rss_after = 0;
    std::uint64_t synq_peak = 0;
    std::string counters;
};

FloodResult flood_run(std::uint64_t legit, std::uint64_t ratio, std::uint8_t cookies,
                      std::uint64_t seed) {
    constexpr std::uint64_t kLegitBatch = 64;
    constexpr std::size_t kFloodBurst = 32;
    tcp::StackConfig ccfg;
    ccfg.max_connections = 4 * kLegitBatch + 1024;
    ccfg.max_time_wait = legit + 1024;
    ccfg.tcp.max_tw_buckets = static_cast<std::uint32_t>(legit + 1024);
    tcp::StackConfig scfg;
    scfg.max_connections = 65'536;
    scfg.tcp.syncookies = cookies;
    test::Link link(ccfg, scfg, g_mp, sec(1));
    // Answers to spoofed sources go nowhere (as on a network: nobody there answers).
    link.tamper = [](rte_mbuf* m, bool to_server) {
        if (to_server) {
            return test::Link::Fate::deliver;
        }
        std::uint32_t dst;
        std::memcpy(&dst, rte_pktmbuf_mtod_offset(m, const char*, 16), 4);
        return (rte_be_to_cpu_32(dst) & kSpoofMask) == kSpoofNet ? test::Link::Fate::drop
                                                                 : test::Link::Fate::deliver;
    };
    LegitServer srv;
    srv.s = &link.server;
    LegitClient cli;
    cli.s = &link.client;
    tcp::Listener* l = link.server.listen(rte_cpu_to_be_32(kServerIp),
                                          rte_cpu_to_be_16(kServerPort), &srv, 0, nullptr);
    if (l == nullptr) {
        die("listen failed");
    }
    FloodResult r;
    link.server_probe = [&](bool begin) {
        if (begin) {
            r.server_m.start();
        } else {
            r.server_m.stop();
        }
    };
    std::mt19937_64 rng(seed);
    std::vector<rte_mbuf*> flood(kFloodBurst);
    auto sample = [&](bool with_rss) {
        r.tcb_peak = std::max<std::uint64_t>(r.tcb_peak, link.server.tcb_count());
        r.tw_peak = std::max<std::uint64_t>(r.tw_peak, link.server.time_wait_count());
        r.mbuf_peak = std::max<std::uint64_t>(r.mbuf_peak, rte_mempool_in_use_count(g_mp));
        r.synq_peak = std::max<std::uint64_t>(r.synq_peak, l->syn_queue.size());
        if (with_rss) {
            r.rss_peak = std::max(r.rss_peak, rss_bytes());
        }
    };
    r.tcb_before = link.server.tcb_count();
    r.tw_before = link.server.time_wait_count();
    r.mbuf_before = rte_mempool_in_use_count(g_mp);
    r.rss_before = rss_bytes();
    const tcp::TcpStats s0 = link.server.stats();
    const auto wall0 = std::chrono::steady_clock::now();
    std::uint64_t started = 0;
    std::uint64_t round = 0;
    while (started < legit) {
        const std::uint64_t b = std::min(kLegitBatch, legit - started);
        for (std::uint64_t i = 0; i < b; ++i, ++started) {
            if (link.client.connect(client_tuple(started), &cli, nullptr) == nullptr) {
                ++cli.failed;
            }
        }
        // This batch's share of the flood, a burst of 32 spoofed SYNs before each delivery
        // round, so legitimate segments queue behind flood bursts as they would in an RX ring.
        std::uint64_t left = b * ratio;
        while (left > 0 || link.in_flight() > 0) {
            const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(kFloodBurst, left));
            for (std::size_t x = 0; x < k; ++x) {
                const std::uint64_t v = rng();
                FourTuple t;
                t.laddr = rte_cpu_to_be_32(kSpoofNet | static_cast<std::uint32_t>(v & 0xFFFFFF));
                t.lport = rte_cpu_to_be_16(static_cast<std::uint16_t>(1024 + (v >> 24) % 64000));
                t.raddr = rte_cpu_to_be_32(kServerIp);
                t.rport = rte_cpu_to_be_16(kServerPort);
                flood[x] = build(t, static_cast<std::uint32_t>(v >> 32), 0, net::kSyn,
                                 static_cast<std::uint32_t>(v >> 8), 0, 0, false);
            }
            if (k > 0) {
                r.flood_m.start();
                for (std::size_t x = 0; x < k; ++x) {
                    link.server.input(flood[x], link.now());
                }
                r.flood_m.stop();
            }
            r.flood += k;
            left -= k;
            link.pump(1);
            sample(false);
        }
        link.advance(us(100));
        if (++round % 64 == 0) {
            sample(true);
        }
    }
    link.pump();
    for (int i = 0; i < 100; ++i) { // FIN exchanges and delayed ACKs finish
        link.advance(ms(50));
        link.pump();
    }
    r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    r.legit = legit;
    r.done = cli.done;
    r.failed = cli.failed;
    const tcp::TcpStats& s1 = link.server.stats();
    r.cookies_sent = s1[tcp::Counter::syncookies_sent] - s0[tcp::Counter::syncookies_sent];
    r.cookies_ok = s1[tcp::Counter::syncookies_validated] - s0[tcp::Counter::syncookies_validated];
    r.cookies_failed = s1[tcp::Counter::syncookies_failed] - s0[tcp::Counter::syncookies_failed];
    r.tcb_after = link.server.tcb_count();
    r.tw_after = link.server.time_wait_count();
    r.mbuf_after = rte_mempool_in_use_count(g_mp);
    r.rss_after = rss_bytes();
    r.rss_peak = std::max(r.rss_peak, r.rss_after);
    r.counters = counters_json(s1);
    return r;
}

double per(double a, std::uint64_t b) {
    return a / static_cast<double>(std::max<std::uint64_t>(b, 1));
}

int cmd_synflood(const Options& o) {
    const std::uint64_t legit = o.num("legit", 50'000);
    const std::uint64_t ratio = o.num("ratio", 100);
    const auto cookies = static_cast<std::uint8_t>(o.num("syncookies", 2));
    const FloodResult base = flood_run(legit, 0, cookies, 7);
    const FloodResult r = flood_run(legit, ratio, cookies, 7);
    const double synack_rate = static_cast<double>(r.flood) / r.flood_m.cpu_s();
    const double share = per(static_cast<double>(r.done), r.legit);
    auto run_json = [&](const FloodResult& x) {
        Json j;
        j.integer("legit", x.legit);
        j.integer("legit_done", x.done);
        j.integer("legit_failed", x.failed);
        j.num("legit_share", per(static_cast<double>(x.done), x.legit));
        j.integer("flood_syns", x.flood);
        j.num("flood_cpu_s", x.flood_m.cpu_s());
        j.num("flood_wall_s", x.flood_m.wall_s());
        j.num("legit_server_cpu_s", x.server_m.cpu_s());
        j.num("legit_server_cycles_per_lifecycle", per(x.server_m.cpu_s() * g_hz, x.done));
        j.num("wall_s", x.wall_s);
        j.num("legit_lifecycles_per_wall_s", static_cast<double>(x.done) / x.wall_s);
        j.integer("syncookies_sent", x.cookies_sent);
        j.integer("syncookies_validated", x.cookies_ok);
        j.integer("syncookies_failed", x.cookies_failed);
        j.integer("tcb_before", x.tcb_before);
        j.integer("tcb_peak", x.tcb_peak);
        j.integer("tcb_after", x.tcb_after);
        j.integer("syn_queue_peak", x.synq_peak);
        j.integer("time_wait_before", x.tw_before);
        j.integer("time_wait_peak", x.tw_peak);
        j.integer("time_wait_after", x.tw_after);
        j.integer("mbufs_in_use_before", x.mbuf_before);
        j.integer("mbufs_in_use_peak", x.mbuf_peak);
        j.integer("mbufs_in_use_after", x.mbuf_after);
        j.integer("rss_before", x.rss_before);
        j.integer("rss_peak", x.rss_peak);
        j.integer("rss_after", x.rss_after);
        j.raw("server_counters", x.counters);
        return j.text();
    };
    Json j;
    j.str("scenario", "synflood");
    j.integer("syncookies", cookies);
    j.integer("ratio", ratio);
    j.num("synack_per_s", synack_rate);
    j.num("synack_per_wall_s", per(static_cast<double>(r.flood), 1) / r.flood_m.wall_s());
    j.num("cycles_per_flood_syn", per(r.flood_m.cpu_s() * g_hz, r.flood));
    j.num("legit_share", share);
    j.num("tsc_hz", g_hz);
    j.raw("baseline", run_json(base));
    j.raw("flood", run_json(r));
    fmt::print("synflood (syncookies={}): {} spoofed SYNs, {:.2f} M SYN-ACKs/s per core ({:.0f} "
               "cycles each); legitimate lifecycles completed {}/{} ({:.3f}%), {} failed; server "
               "cycles per legitimate lifecycle {:.0f} (without the flood {:.0f}); control blocks "
               "{} -> peak {} -> {}, mbufs in use {} -> peak {} -> {}, RSS {:.0f} -> peak {:.0f} "
               "-> {:.0f} MiB\n",
               cookies, r.flood, synack_rate / 1e6, per(r.flood_m.cpu_s() * g_hz, r.flood), r.done,
               r.legit, 100 * share, r.failed, per(r.server_m.cpu_s() * g_hz, r.done),
               per(base.server_m.cpu_s() * g_hz, base.done), r.tcb_before, r.tcb_peak, r.tcb_after,
               r.mbuf_before, r.mbuf_peak, r.mbuf_after, mib(r.rss_before), mib(r.rss_peak),
               mib(r.rss_after));
    write_json(o.get("json", ""), j);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        fmt::print(stderr, "usage: tcpterm-bench-scale memory|teardown|timers|synflood [--key "
                           "value]... (see the top of tests/bench/scale.cpp)\n");
        return 2;
    }
    const std::string cmd = argv[1];
    Options o;
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) != 0 || i + 1 >= argc) {
            fmt::print(stderr, "bad argument '{}' (options are --key value)\n", a);
            return 2;
        }
        o.kv[a.substr(2)] = argv[++i];
    }
    const std::string prefix = "--file-prefix=tcpterm-bench-scale-" + std::to_string(getpid());
    // --no-shconf: nothing left under /var/run/dpdk (each run has its own prefix).
    std::vector<std::string> eal = {"tcpterm-bench-scale",
                                    "--no-huge",
                                    "--no-shconf",
                                    "-m",
                                    o.get("eal-mem", "512"),
                                    "--no-pci",
                                    "--no-telemetry",
                                    "--log-level=lib.eal:error",
                                    prefix,
                                    "-l",
                                    o.get("lcore", "0")};
    std::vector<char*> eal_argv;
    for (auto& s : eal) {
        eal_argv.push_back(s.data());
    }
    if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
        fmt::print(stderr, "rte_eal_init failed (root needed)\n");
        return 1;
    }
    g_hz = static_cast<double>(rte_get_tsc_hz());
    g_runtime_dir = rte_eal_get_runtime_dir();
    calibrate_meter();
    // Small data rooms: every segment here is headers plus at most 128 bytes.
    g_mp = rte_pktmbuf_pool_create("scale", static_cast<unsigned>(o.num("mbufs", 131'071)), 512, 0,
                                   RTE_PKTMBUF_HEADROOM + 512, SOCKET_ID_ANY);
    if (g_mp == nullptr) {
        fmt::print(stderr, "mbuf pool creation failed\n");
        return 1;
    }
    int rc = 2;
    if (cmd == "memory") {
        rc = cmd_memory(o);
    } else if (cmd == "teardown") {
        rc = cmd_teardown(o);
    } else if (cmd == "timers") {
        rc = cmd_timers(o);
    } else if (cmd == "synflood") {
        rc = cmd_synflood(o);
    } else {
        fmt::print(stderr, "unknown subcommand '{}'\n", cmd);
    }
    rte_mempool_free(g_mp);
    eal_done();
    return rc;
}
