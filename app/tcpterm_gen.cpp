// tcpterm-gen: a stateful load generator on tcpterm's own TCP stack. Each worker core runs a
// GenWorker (lib/gen) that opens connections at a target rate or up to a concurrency cap, sends
// HTTP requests, checks the responses and closes as asked. This file is the control plane: it
// parses the options, builds the engine (from a tcpterm TOML or from --device/--src), waits for
// the links, starts the workers, prints one live line per second, drives the ramp, stops the
// engine (Engine::request_stop) and prints the JSON summary with merged latency percentiles.
//
//   tcpterm-gen [EAL args --] --dst A.B.C.D (--config FILE | --device SPEC --src A[-B]) ...
//   tcpterm-gen --help
#include "engine/config.hpp"
#include "engine/engine.hpp"
#include "gen/generator.hpp"
#include "gen/options.hpp"

#include <fmt/core.h>
#include <fmt/format.h>
#include <rte_ethdev.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

using namespace tcpterm;
using gen::GenCounter;
using gen::GenError;

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::duration d) {
    return std::chrono::duration<double>(d).count();
}

std::string ip(std::uint32_t a) {
    return engine::ipv4_str(a);
}

// ---- engine configuration -------------------------------------------------------------------

bool build_engine_config(const gen::GenOptions& o, engine::EngineConfig& cfg) {
    if (!o.config.empty()) {
        std::vector<engine::ConfigError> errors;
        cfg = engine::load_config(o.config, errors);
        for (const auto& e : errors) {
            fmt::print(stderr, "{}\n", e.message);
        }
        if (!errors.empty()) {
            return false;
        }
        if (!cfg.listeners.empty()) {
            fmt::print(stderr,
                       "tcpterm-gen: note: {} has listeners; the generator's workers "
                       "serve them too\n",
                       o.config);
        }
    } else {
        cfg.workers = o.workers;
        cfg.rx_burst = o.rx_burst;
        cfg.max_connections = o.max_connections;
        cfg.max_time_wait = o.max_time_wait;
        cfg.tcp.max_tw_buckets = o.max_time_wait;
        cfg.tcp.tw_reuse = o.tw_reuse;
        cfg.pdump = false;
        engine::PortConfig p;
        p.device = o.device;
        for (std::uint32_t a = o.src_first; a <= o.src_last; ++a) {
            p.addresses.push_back({a, o.prefix_len});
        }
        cfg.ports.push_back(std::move(p));
    }
    if (cfg.file_prefix.empty()) {
        cfg.file_prefix = o.file_prefix;
    }
    cfg.drain_timeout = o.drain;
    // Source addresses must be the port's own: replies are ARP-resolved to them.
    for (std::uint32_t a = o.src_first; o.src_first != 0 && a <= o.src_last; ++a) {
        bool owned = false;
        for (const auto& p : cfg.ports) {
            for (const auto& pre : p.addresses) {
                owned = owned || pre.addr == a;
            }
        }
        if (!owned) {
            fmt::print(stderr,
                       "tcpterm-gen: source address {} is not an address of any port of the "
                       "configuration (add it to [[port]] addresses)\n",
                       ip(a));
            return false;
        }
    }
    return true;
}

bool links_up() {
    std::uint16_t pid = 0;
    bool any = false;
    RTE_ETH_FOREACH_DEV(pid) {
        rte_eth_link link{};
        if (rte_eth_link_get_nowait(pid, &link) != 0 || link.link_status == RTE_ETH_LINK_DOWN) {
            return false;
        }
        any = true;
    }
    return any;
}

// ---- what the control plane reads -----------------------------------------------------------

struct Snapshot {
    Clock::time_point at;
    gen::GenCounts counts;
    tcp::TcpStats tcp;
    std::uint64_t rx = 0;
    std::uint64_t tx = 0;
    std::uint64_t active = 0;
};

Snapshot snapshot(engine::Engine& e, const std::vector<gen::GenWorker*>& ws) {
    Snapshot s;
    s.at = Clock::now();
    for (std::size_t i = 0; i < ws.size(); ++i) {
        s.counts.add(ws[i]->counts());
        s.active += ws[i]->active();
        s.tcp.add(e.tcp_stats(i));
        const engine::WorkerLoad l = e.worker_load(i);
        s.rx += l.rx_packets;
        s.tx += l.tx_packets;
    }
    return s;
}

std::uint64_t retransmits(const tcp::TcpStats& t) {
    return t[tcp::Counter::rtx_data] + t[tcp::Counter::rtx_syn] + t[tcp::Counter::rtx_synack] +
           t[tcp::Counter::rtx_fin] + t[tcp::Counter::fast_retransmits];
}

void live_line(const Snapshot& a, const Snapshot& b, double t, std::uint64_t target) {
    const double dt = std::max(seconds(b.at - a.at), 1e-6);
    const auto d = [&](GenCounter c) { return static_cast<double>(b.counts[c] - a.counts[c]); };
    using tcp::State;
    const auto st = [&](State s) { return b.tcp.in_state(s); };
    fmt::print(
        "[{:6.1f}s] cps {:>9.0f} target {:>9} | active {:>7} | syn_sent {} estab {} "
        "fin_wait1 {} fin_wait2 {} close_wait {} last_ack {} time_wait {} | rtx {} | "
        "errors {} | rx {:.3f} Mpps tx {:.3f} Mpps\n",
        t, d(GenCounter::completed) / dt, target == 0 ? std::string("-") : std::to_string(target),
        b.active, st(State::syn_sent), st(State::established), st(State::fin_wait1),
        st(State::fin_wait2), st(State::close_wait), st(State::last_ack), st(State::time_wait),
        retransmits(b.tcp) - retransmits(a.tcp), b.counts.error_total() - a.counts.error_total(),
        static_cast<double>(b.rx - a.rx) / dt / 1e6, static_cast<double>(b.tx - a.tx) / dt / 1e6);
    std::fflush(stdout);
}

// ---- the ramp ---------------------------------------------------------------------------------

struct RampStep {
    std::uint64_t target = 0;
    double seconds = 0;
    std::uint64_t opened = 0;
    std::uint64_t missed = 0; // the pacer's misses: the generator itself was behind
    std::uint64_t completed = 0;
    std::uint64_t errors = 0;
    std::uint64_t retransmits = 0;
    double cps = 0;
    double error_ratio = 0;
    bool clean = false;
    bool generator_limited = false;
};

// ---- JSON -------------------------------------------------------------------------------------

std::string latency_json(const gen::LatencyHistogram& h) {
    const auto us = [](std::uint64_t ns) { return static_cast<double>(ns) / 1e3; };
    return fmt::format("{{\"count\": {}, \"min\": {:.1f}, \"p50\": {:.1f}, \"p90\": {:.1f}, "
                       "\"p99\": {:.1f}, \"p99.9\": {:.1f}, \"max\": {:.1f}, \"mean\": {:.1f}}}",
                       h.count(), us(h.min()), us(h.percentile(50)), us(h.percentile(90)),
                       us(h.percentile(99)), us(h.percentile(99.9)), us(h.max()), h.mean() / 1e3);
}

std::string json_escape(std::string_view s) {
    std::string o;
    for (char c : s) {
        if (c == '"' || c == '\\') {
            o += '\\';
        }
        o += c;
    }
    return o;
}

struct Outcome {
    double window = 0; // seconds (longest worker window)
    double cps = 0;
    std::uint64_t completed_in_window = 0;
    std::vector<RampStep> steps;
    bool links_failed = false;
};

std::string summary_json(const gen::GenOptions& o, engine::Engine& e,
                         const std::vector<gen::GenWorker*>& ws, const Outcome& out,
                         std::uint64_t hz) {
    gen::GenCounts c;
    gen::LatencyHistogram hc;
    gen::LatencyHistogram hf;
    gen::LatencyHistogram hl;
    tcp::TcpStats t;
    engine::WorkerLoad load;
    for (std::size_t i = 0; i < ws.size(); ++i) {
        c.add(ws[i]->counts());
        hc.merge(ws[i]->connect_latency());
        hf.merge(ws[i]->first_byte_latency());
        hl.merge(ws[i]->lifecycle_latency());
        t.add(e.tcp_stats(i));
        const engine::WorkerLoad l = e.worker_load(i);
        load.rx_packets += l.rx_packets;
        load.tx_packets += l.tx_packets;
        load.busy_cycles += l.busy_cycles;
        load.idle_cycles += l.idle_cycles;
        load.tx_dropped += l.tx_dropped;
        load.arp_unresolved_drops += l.arp_unresolved_drops;
    }
    std::string j = "{\n";
    j += fmt::format(
        "  \"options\": {{\"rate\": {}, \"concurrency\": {}, \"duration_s\": {:.3f}, "
        "\"request_size\": {}, \"response_size\": {}, \"requests\": {}, \"close\": \"{}\", "
        "\"src\": \"{}\", \"sport\": \"{}-{}\", \"dst\": \"{}\", \"dport\": {}, \"workers\": {}, "
        "\"ramp\": {}}},\n",
        o.rate, o.concurrency, static_cast<double>(o.duration) / 1e9, o.request_size,
        o.response_size, o.requests, gen::close_mode_name(o.close),
        o.src_first == 0 ? std::string("auto")
                         : (o.src_first == o.src_last ? ip(o.src_first)
                                                      : ip(o.src_first) + "-" + ip(o.src_last)),
        o.sport_min, o.sport_max, ip(o.dst), o.dport, ws.size(), o.ramp.on ? "true" : "false");
    const std::uint64_t errors = c.error_total();
    const std::uint64_t done = c[GenCounter::completed];
    j +=
        fmt::format("  \"window_s\": {:.3f},\n  \"cps\": {:.0f},\n  \"completed_in_window\": {},\n",
                    out.window, out.cps, out.completed_in_window);
    j += fmt::format("  \"error_ratio\": {:.6f},\n",
                     done + errors == 0
                         ? 0.0
                         : static_cast<double>(errors) / static_cast<double>(done + errors));
    j += "  \"counters\": {";
    for (std::size_t i = 0; i < gen::kGenCounterNames.size(); ++i) {
        j += fmt::format("{}\"{}\": {}", i ? ", " : "", gen::kGenCounterNames[i], c.counters[i]);
    }
    j += "},\n  \"errors\": {";
    j += fmt::format("\"total\": {}", errors);
    for (std::size_t i = 0; i < gen::kGenErrorNames.size(); ++i) {
        j += fmt::format(", \"{}\": {}", gen::kGenErrorNames[i], c.errors[i]);
    }
    j += "},\n";
    using tcp::Counter;
    j += fmt::format(
        "  \"tcp\": {{\"active_opens\": {}, \"segs_in\": {}, \"segs_out\": {}, \"rtx_syn\": {}, "
        "\"rtx_data\": {}, \"rtx_fin\": {}, \"fast_retransmits\": {}, \"tw_created\": {}, "
        "\"tw_reused\": {}, \"tw_overflow\": {}, \"conn_reset\": {}, \"conn_refused\": {}, "
        "\"conn_timeout\": {}, \"mbuf_exhausted\": {}, \"pool_exhausted\": {}}},\n",
        t[Counter::active_opens], t[Counter::segs_in], t[Counter::segs_out], t[Counter::rtx_syn],
        t[Counter::rtx_data], t[Counter::rtx_fin], t[Counter::fast_retransmits],
        t[Counter::tw_created], t[Counter::tw_reused], t[Counter::tw_overflow],
        t[Counter::conn_reset], t[Counter::conn_refused], t[Counter::conn_timeout],
        t[Counter::mbuf_exhausted], t[Counter::pool_exhausted]);
    j += fmt::format("  \"worker\": {{\"rx_packets\": {}, \"tx_packets\": {}, \"tx_dropped\": {}, "
                     "\"arp_unresolved_drops\": {}, \"busy_cycles\": {}, \"idle_cycles\": {}, "
                     "\"tsc_hz\": {}}},\n",
                     load.rx_packets, load.tx_packets, load.tx_dropped, load.arp_unresolved_drops,
                     load.busy_cycles, load.idle_cycles, hz);
    j += fmt::format("  \"latency_us\": {{\n    \"connect\": {},\n    \"first_byte\": {},\n    "
                     "\"lifecycle\": {}\n  }}",
                     latency_json(hc), latency_json(hf), latency_json(hl));
    if (o.ramp.on) {
        double best = 0;
        std::uint64_t best_target = 0;
        j += ",\n  \"ramp\": {\"steps\": [";
        for (std::size_t i = 0; i < out.steps.size(); ++i) {
            const RampStep& s = out.steps[i];
            if (s.clean && s.cps > best) {
                best = s.cps;
                best_target = s.target;
            }
            j += fmt::format("{}\n    {{\"target\": {}, \"seconds\": {:.2f}, \"opened\": {}, "
                             "\"generator_missed\": {}, \"cps\": {:.0f}, \"completed\": {}, "
                             "\"errors\": {}, \"error_ratio\": {:.6f}, \"retransmits\": {}, "
                             "\"clean\": {}, \"generator_limited\": {}}}",
                             i ? "," : "", s.target, s.seconds, s.opened, s.missed, s.cps,
                             s.completed, s.errors, s.error_ratio, s.retransmits,
                             s.clean ? "true" : "false", s.generator_limited ? "true" : "false");
        }
        j += fmt::format("\n  ], \"max_clean_cps\": {:.0f}, \"max_clean_target\": {}}}", best,
                         best_target);
    }
    j += fmt::format(",\n  \"links_failed\": {}\n}}\n", out.links_failed ? "true" : "false");
    (void)json_escape;
    return j;
}

// ---- the control thread -------------------------------------------------------------------------

class Control {
public:
    Control(engine::Engine& e, const gen::GenOptions& o, gen::GenShared& sh,
            const std::vector<gen::GenWorker*>& ws)
        : e_(e), o_(o), sh_(sh), ws_(ws) {}

    void run(const std::atomic<bool>& engine_done, Outcome& out) {
        const auto t0 = Clock::now();
        while (!links_up()) {
            if (engine_done.load() || Clock::now() - t0 > std::chrono::seconds(15)) {
                fmt::print(stderr, "tcpterm-gen: the port's link did not come up in 15 s (is the "
                                   "peer running?)\n");
                out.links_failed = true;
                engine::Engine::request_stop();
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        sh_.go.store(true, std::memory_order_release);
        // Wait for every worker to finish its warm-up.
        while (!engine_done.load() && !all([](gen::Phase p) {
            return p != gen::Phase::wait_go && p != gen::Phase::warmup;
        })) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        const auto start = Clock::now();
        Snapshot last = snapshot(e_, ws_);
        Snapshot step0 = last;
        std::uint64_t target = o_.ramp.on ? o_.ramp.start : o_.rate;
        auto next_print = start + std::chrono::seconds(1);
        const auto deadline = start + std::chrono::nanoseconds(o_.duration);
        while (!engine_done.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            const auto now = Clock::now();
            if (o_.live && now >= next_print) {
                const Snapshot s = snapshot(e_, ws_);
                live_line(last, s, seconds(now - start), target);
                last = s;
                next_print += std::chrono::seconds(1);
            }
            if (o_.ramp.on && !sh_.stop.load() &&
                now - step0.at >= std::chrono::nanoseconds(o_.ramp.step)) {
                const Snapshot s = snapshot(e_, ws_);
                RampStep st;
                st.target = target;
                st.seconds = seconds(s.at - step0.at);
                st.completed =
                    s.counts[GenCounter::completed] - step0.counts[GenCounter::completed];
                st.errors = s.counts.error_total() - step0.counts.error_total();
                st.retransmits = retransmits(s.tcp) - retransmits(step0.tcp);
                st.cps = static_cast<double>(st.completed) / st.seconds;
                st.error_ratio = st.completed + st.errors == 0
                                     ? 0.0
                                     : static_cast<double>(st.errors) /
                                           static_cast<double>(st.completed + st.errors);
                st.opened = s.counts[GenCounter::opened] - step0.counts[GenCounter::opened];
                st.missed =
                    s.counts[GenCounter::pacer_missed] - step0.counts[GenCounter::pacer_missed];
                // Clean: few failures, and the server completed (nearly) everything the step
                // offered. What the generator failed to offer (its own misses, a busy core) is
                // not held against the server; a generator that offers less than half the
                // target ends the ramp instead.
                st.clean = st.completed > 0 && st.error_ratio < o_.ramp.max_error_ratio &&
                           static_cast<double>(st.completed) >=
                               o_.ramp.min_achieved * static_cast<double>(st.opened);
                st.generator_limited =
                    static_cast<double>(st.opened) < 0.5 * static_cast<double>(target) * st.seconds;
                out.steps.push_back(st);
                fmt::print("ramp: target {} -> opened {:.0f}/s, completed {:.0f}/s, {} errors "
                           "({:.4f}%), {} rtx, {} missed by the generator: {}\n",
                           target, static_cast<double>(st.opened) / st.seconds, st.cps, st.errors,
                           st.error_ratio * 100, st.retransmits, st.missed,
                           !st.clean              ? "NOT clean: stop"
                           : st.generator_limited ? "clean, but the generator is the limit: stop"
                                                  : "clean");
                std::fflush(stdout);
                auto next =
                    static_cast<std::uint64_t>(static_cast<double>(target) * o_.ramp.factor);
                if (o_.ramp.max != 0 && next > o_.ramp.max) {
                    next = target < o_.ramp.max ? o_.ramp.max : 0;
                }
                const bool time_left = now + std::chrono::nanoseconds(o_.ramp.step) <= deadline;
                if (!st.clean || st.generator_limited || next == 0 || !time_left) {
                    sh_.stop.store(true);
                } else {
                    target = next;
                    sh_.rate_per_worker.store((target + ws_.size() - 1) / ws_.size());
                }
                step0 = s;
            }
            if (all([](gen::Phase p) {
                    return p == gen::Phase::done || p == gen::Phase::stopping;
                })) {
                break;
            }
        }
        engine::Engine::request_stop(); // graceful: the drain lets open connections finish
        // The measured window.
        double cps = 0;
        for (const gen::GenWorker* w : ws_) {
            const double win = static_cast<double>(w->window()) / 1e9;
            out.window = std::max(out.window, win);
            out.completed_in_window += w->completed_in_window();
            if (win > 0) {
                cps += static_cast<double>(w->completed_in_window()) / win;
            }
        }
        out.cps = cps;
    }

private:
    template <class Pred>
    bool all(Pred p) const {
        return std::all_of(ws_.begin(), ws_.end(),
                           [&](const gen::GenWorker* w) { return p(w->phase()); });
    }

    engine::Engine& e_;
    const gen::GenOptions& o_;
    gen::GenShared& sh_;
    const std::vector<gen::GenWorker*>& ws_;
};

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string> eal;
    std::vector<std::string> args;
    bool saw_sep = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--" && !saw_sep) {
            saw_sep = true;
            eal = args;
            args.clear();
            continue;
        }
        args.push_back(a);
    }
    std::vector<std::string> errors;
    bool help = false;
    const std::optional<gen::GenOptions> parsed = gen::parse_options(args, errors, help);
    if (help) {
        fmt::print("{}", gen::usage());
        return 0;
    }
    if (!parsed) {
        for (const auto& e : errors) {
            fmt::print(stderr, "tcpterm-gen: {}\n", e);
        }
        fmt::print(stderr, "(tcpterm-gen --help lists the options)\n");
        return 2;
    }
    const gen::GenOptions& o = *parsed;
    engine::EngineConfig cfg;
    if (!build_engine_config(o, cfg)) {
        return 2;
    }
    const std::size_t workers = cfg.workers;
    gen::GenShared shared;
    const std::uint64_t total = o.ramp.on ? o.ramp.start : o.rate;
    shared.rate_per_worker.store((total + workers - 1) / workers);
    std::vector<gen::GenWorker*> ws;
    try {
        engine::Engine e(std::move(cfg));
        e.add_app([&](engine::WorkerHost& h) -> std::unique_ptr<engine::WorkerApp> {
            auto w = std::make_unique<gen::GenWorker>(h, o, shared);
            ws.push_back(w.get());
            return w;
        });
        if (!e.init(argv[0], eal)) {
            return 1;
        }
        std::atomic<bool> engine_done{false};
        Outcome out;
        Control control(e, o, shared, ws);
        std::thread t([&] { control.run(engine_done, out); });
        const int rc = e.run();
        engine_done.store(true);
        t.join();
        const std::string j = summary_json(o, e, ws, out, e.tsc_hz());
        fmt::print("{}", j);
        if (!o.json.empty()) {
            std::ofstream f(o.json);
            f << j;
            if (!f) {
                fmt::print(stderr, "tcpterm-gen: cannot write {}\n", o.json);
                return 1;
            }
        }
        return out.links_failed ? 1 : rc;
    } catch (const std::exception& ex) {
        fmt::print(stderr, "tcpterm-gen: {}\n", ex.what());
        return 1;
    }
}
