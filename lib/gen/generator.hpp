// GenWorker: the generator's application on one worker core. It opens connections with the
// engine's LocalPorts (RSS-steered, TIME_WAIT-aware port choice) at the rate a RatePacer gives
// (or up to a concurrency cap), sends HTTP requests, reads and checks the responses
// (HttpResponseParser), and ends each connection as asked (client FIN, server FIN, RST). Every
// connection's context is a slot of a preallocated array, reached through Tcb::user; latencies go
// into per-worker LatencyHistograms. poll() and the callbacks run on the worker: no allocation,
// no lock, no system call; time is the `now` the worker loop passes in.
//
// The control plane (app/tcpterm_gen.cpp) talks to the workers through GenShared (start, stop,
// the target rate) and reads their counters, which are relaxed atomics written only by the owning
// worker (on x86 a plain load and store, as the engine's own counters).
#pragma once

#include "engine/app.hpp"
#include "engine/local_ports.hpp"
#include "gen/histogram.hpp"
#include "gen/http_response.hpp"
#include "gen/options.hpp"
#include "gen/pacer.hpp"
#include "tcp/api.hpp"
#include "tcp/tcb.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tcpterm::tcp {
class TcpStack;
}

namespace tcpterm::gen {

#define TCPTERM_GEN_COUNTERS(X)                                                                    \
    X(opened, "connections opened (SYN sent)")                                                     \
    X(connected, "handshakes completed")                                                           \
    X(requests, "requests sent")                                                                   \
    X(responses, "complete, valid responses received")                                             \
    X(completed, "connections that did all their requests and closed as asked")                    \
    X(pacer_missed, "connections the pacer planned that could not be opened in time")              \
    X(cap_polls, "polls in which the concurrency cap held paced connections back")                 \
    X(warmup_ok, "warm-up connections that completed (one per source address; not measured)")      \
    X(warmup_failed, "warm-up connections that failed (not measured)")                             \
    X(unfinished, "connections still open when the drain ended (reset by the engine)")

#define TCPTERM_GEN_ERRORS(X)                                                                      \
    X(refused, "connection refused: RST in answer to the SYN (ECONNREFUSED)")                      \
    X(reset, "connection reset by the server (ECONNRESET)")                                        \
    X(timeout, "retransmissions exhausted (ETIMEDOUT)")                                            \
    X(aborted, "connection ended by another error")                                                \
    X(early_close, "the server closed before the last response was complete")                      \
    X(bad_response, "malformed response, status not 200, or Content-Length not --response-size")   \
    X(ports_exhausted, "no free local port (EADDRNOTAVAIL)")                                       \
    X(no_memory, "control block pool full (ENOBUFS)")                                              \
    X(send_failed, "a request could not be queued (mbuf pool empty)")

#define TCPTERM_GEN_ENUM(n, d) n,
enum class GenCounter : std::uint8_t { TCPTERM_GEN_COUNTERS(TCPTERM_GEN_ENUM) count };
enum class GenError : std::uint8_t { TCPTERM_GEN_ERRORS(TCPTERM_GEN_ENUM) count };
#undef TCPTERM_GEN_ENUM

#define TCPTERM_GEN_NAME(n, d) #n,
#define TCPTERM_GEN_DESC(n, d) d,
inline constexpr std::array<std::string_view, static_cast<std::size_t>(GenCounter::count)>
    kGenCounterNames{TCPTERM_GEN_COUNTERS(TCPTERM_GEN_NAME)};
inline constexpr std::array<std::string_view, static_cast<std::size_t>(GenCounter::count)>
    kGenCounterDescs{TCPTERM_GEN_COUNTERS(TCPTERM_GEN_DESC)};
inline constexpr std::array<std::string_view, static_cast<std::size_t>(GenError::count)>
    kGenErrorNames{TCPTERM_GEN_ERRORS(TCPTERM_GEN_NAME)};
inline constexpr std::array<std::string_view, static_cast<std::size_t>(GenError::count)>
    kGenErrorDescs{TCPTERM_GEN_ERRORS(TCPTERM_GEN_DESC)};
#undef TCPTERM_GEN_NAME
#undef TCPTERM_GEN_DESC

/// A plain snapshot of one or more workers' counters.
struct GenCounts {
    std::array<std::uint64_t, static_cast<std::size_t>(GenCounter::count)> counters{};
    std::array<std::uint64_t, static_cast<std::size_t>(GenError::count)> errors{};
    std::uint64_t operator[](GenCounter c) const noexcept {
        return counters[static_cast<std::size_t>(c)];
    }
    std::uint64_t operator[](GenError e) const noexcept {
        return errors[static_cast<std::size_t>(e)];
    }
    [[nodiscard]] std::uint64_t error_total() const noexcept;
    void add(const GenCounts& o) noexcept;
};

/// Control plane -> workers.
struct GenShared {
    std::atomic<bool> go{false};   // links are up: warm up, then run
    std::atomic<bool> stop{false}; // stop opening connections (ramp end, Ctrl-C)
    std::atomic<std::uint64_t> rate_per_worker{0};
    std::atomic<bool> setup_failed{false};
};

enum class Phase : std::uint8_t { wait_go, warmup, run, done, stopping };

class GenWorker final : public engine::WorkerApp, public tcp::ConnHandler {
public:
    /// Up to this many connections are opened per poll, so RX keeps its turn.
    static constexpr std::uint32_t kMaxOpensPerPoll = 128;
    /// How long the warm-up (one connection per source address, ARP both ways) may take.
    static constexpr Nanos kWarmupLimit = sec(5);

    /// Runs on the main thread (Engine::init): allocates everything the worker will use.
    GenWorker(engine::WorkerHost& host, const GenOptions& o, GenShared& shared);

    // WorkerApp
    void poll(Nanos now) noexcept override;
    void stop_accept() noexcept override;

    // ConnHandler
    void on_connected(tcp::Tcb& c) override;
    void on_readable(tcp::Tcb& c) override;
    void on_peer_fin(tcp::Tcb& c) override;
    void on_closed(tcp::Tcb& c, int error) override;

    // Read by the control plane (any time: relaxed; histograms only after the workers stopped).
    [[nodiscard]] GenCounts counts() const noexcept;
    [[nodiscard]] Phase phase() const noexcept { return phase_.load(std::memory_order_acquire); }
    [[nodiscard]] std::uint64_t active() const noexcept {
        return active_.load(std::memory_order_relaxed);
    }
    /// Length of the measured window (run start to the end of openings); 0 while it runs.
    [[nodiscard]] Nanos window() const noexcept { return window_.load(std::memory_order_relaxed); }
    /// `completed` at the end of the window (connections finishing in the drain come after).
    [[nodiscard]] std::uint64_t completed_in_window() const noexcept {
        return completed_in_window_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] const LatencyHistogram& connect_latency() const noexcept { return h_connect_; }
    [[nodiscard]] const LatencyHistogram& first_byte_latency() const noexcept { return h_first_; }
    [[nodiscard]] const LatencyHistogram& lifecycle_latency() const noexcept { return h_life_; }
    [[nodiscard]] std::uint32_t cap() const noexcept { return cap_; }

private:
    struct Conn {
        tcp::Tcb* tcb = nullptr;
        Nanos start = 0; // connect() called
        HttpResponseParser parser;
        std::uint32_t requests_left = 0;
        bool warm = false;
        bool first_byte = false;
        bool awaiting_fin = false; // close = server: all responses in, waiting for the FIN
    };

    void bump(GenCounter c, std::uint64_t n = 1) noexcept {
        auto& a = counters_[static_cast<std::size_t>(c)];
        a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void bump(GenError e) noexcept {
        auto& a = errors_[static_cast<std::size_t>(e)];
        a.store(a.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    Conn* conn(tcp::Tcb& c) noexcept { return static_cast<Conn*>(c.user); }
    bool open_one(Nanos now, bool warm) noexcept;
    void release(Conn& k) noexcept;
    void send_request(tcp::Tcb& c, Conn& k) noexcept;
    void fail(tcp::Tcb& c, Conn& k, GenError e) noexcept; // abort (RST) and count
    void error_closed(Conn& k, GenError e) noexcept;      // the connection is gone: count
    void finish(tcp::Tcb& c, Conn& k) noexcept;           // all responses in: close as asked
    void done(Conn& k) noexcept;                          // success: record, count
    void publish_missed() noexcept;                       // the pacer's misses into the counter
    void start_run(Nanos now) noexcept;
    void end_run(Nanos now) noexcept;

    engine::WorkerHost& host_;
    tcp::TcpStack& stack_;
    const GenOptions& o_;
    GenShared& shared_;
    std::vector<std::uint32_t> src_;        // host order
    std::vector<engine::LocalPorts> ports_; // one per source address
    std::uint32_t next_src_ = 0;
    std::string request_;      // every request but a connection's last
    std::string last_request_; // the last (Connection: close when the server closes first)
    std::vector<Conn> slots_;
    std::vector<std::uint32_t> free_; // indices of free slots (a stack)
    std::uint32_t cap_ = 0;
    RatePacer pacer_;
    std::uint64_t rate_ = 0;
    std::uint64_t missed_published_ = 0;
    Nanos run_start_ = 0;
    Nanos warm_deadline_ = 0;
    std::uint32_t warm_pending_ = 0;
    bool warm_all_ = false; // the second warm-up stage (every other source address) started
    std::atomic<Phase> phase_{Phase::wait_go};
    std::atomic<std::uint64_t> active_{0};
    std::atomic<Nanos> window_{0};
    std::atomic<std::uint64_t> completed_in_window_{0};
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(GenCounter::count)> counters_{};
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(GenError::count)> errors_{};
    LatencyHistogram h_connect_;
    LatencyHistogram h_first_;
    LatencyHistogram h_life_;
};

} // namespace tcpterm::gen
