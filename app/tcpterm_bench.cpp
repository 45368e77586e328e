// tcpterm-bench: micro-benchmarks of the per-core data structures (lib/base), printed as Markdown
// rows in ns per operation. Not a test: figures go to docs/benchmarks.md with the command, date
// and CPU model. Each figure is the median of --runs repetitions.
//
//   tcpterm-bench [--sizes 1000000,10000000] [--runs 3] [--ops 2000000]
#include "base/conn_table.hpp"
#include "base/hash.hpp"
#include "base/region.hpp"
#include "base/timer_wheel.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace tcpterm;

namespace {

using SteadyClock = std::chrono::steady_clock;

double elapsed_ns(SteadyClock::time_point a, SteadyClock::time_point b) {
    return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count());
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// Keeps the optimiser from discarding a result.
template <class T>
void keep(T const& v) {
    asm volatile("" : : "g"(&v) : "memory");
}

struct Options {
    std::vector<std::size_t> sizes{1'000'000, 10'000'000};
    int runs = 3;
    std::size_t ops = 2'000'000;
};

// Live timers spread like a busy core's: most within a minute (RTO, TIME_WAIT, FIN_WAIT2),
// some hours out (keepalive).
Nanos random_deadline(std::mt19937_64& rng, Nanos now) {
    const auto r = rng() % 100;
    if (r < 60) {
        return now + ms(1 + rng() % 60'000);
    }
    if (r < 90) {
        return now + ms(1 + rng() % 1'000);
    }
    return now + sec(1 + rng() % 7'200);
}

void bench_wheel(const Options& o, std::size_t live) {
    std::mt19937_64 rng(1);
    // Same memory as the engine's pools: a huge-page backed Region.
    Region mem(live * sizeof(Timer));
    Timer* timers = new (mem.data()) Timer[live];
    std::vector<double> start_cancel, expiry, expiry_dense;
    for (int run = 0; run < o.runs; ++run) {
        TimerWheel w(ms(1), 0);
        Nanos w_origin_now = 0;
        for (std::size_t i = 0; i < live; ++i) {
            w.start(timers[i], random_deadline(rng, 0));
        }
        // start + cancel of fresh timers among `live` others.
        std::vector<Nanos> deadlines(o.ops);
        for (auto& d : deadlines) {
            d = random_deadline(rng, 0);
        }
        Timer extra[64];
        auto t0 = SteadyClock::now();
        for (std::size_t i = 0; i < o.ops; ++i) {
            Timer& t = extra[i & 63];
            w.start(t, deadlines[i]);
            w.cancel(t);
        }
        auto t1 = SteadyClock::now();
        start_cancel.push_back(elapsed_ns(t0, t1) / static_cast<double>(o.ops));

        // Expiry: re-arm every timer uniformly within the next `spread`, then advance tick by
        // tick until all fired; total advance time / timers fired, cascades and empty ticks
        // included. 60 s is a TIME_WAIT/FIN_WAIT2-like load; 1 s is dense (every tick busy), which
        // isolates the per-timer cost from the per-tick cost.
        auto run_expiry = [&](std::uint64_t spread_ms) {
            for (std::size_t i = 0; i < live; ++i) {
                w.start(timers[i], w_origin_now + ms(1 + rng() % spread_ms));
            }
            std::size_t fired = 0;
            auto a = SteadyClock::now();
            Nanos now = w_origin_now;
            for (; w.size() > 0; now += ms(1)) {
                fired += w.advance(now, [](Timer&) {});
            }
            auto b = SteadyClock::now();
            w_origin_now = now;
            return elapsed_ns(a, b) / static_cast<double>(fired);
        };
        expiry.push_back(run_expiry(60'000));
        expiry_dense.push_back(run_expiry(1'000));
    }
    std::destroy_n(timers, live);
    fmt::print("| wheel start+cancel | {:>10} live timers | {:7.1f} ns/op |\n", live,
               median(start_cancel));
    fmt::print("| wheel expiry, deadlines uniform in 60 s (1 ms ticks) | {:>10} live timers | "
               "{:7.1f} ns/timer |\n",
               live, median(expiry));
    fmt::print("| wheel expiry, deadlines uniform in 1 s (1 ms ticks) | {:>10} live timers | "
               "{:7.1f} ns/timer |\n",
               live, median(expiry_dense));
}

struct Entry : ConnEntry {};

FourTuple tuple_of(std::uint64_t i) {
    FourTuple t;
    t.laddr = 0x020012C6u; // 198.18.0.2
    t.raddr = static_cast<std::uint32_t>(0x0A000000u + (i >> 16));
    t.lport = 0x5000;
    t.rport = static_cast<std::uint16_t>(i & 0xFFFF);
    return t;
}

void bench_table(const Options& o, std::size_t n) {
    Region mem(n * sizeof(Entry));
    Entry* entries = new (mem.data()) Entry[n];
    ConnTable table(n);
    for (std::size_t i = 0; i < n; ++i) {
        entries[i].key = tuple_of(i);
        entries[i].set_hash(hash_crc(entries[i].key));
        if (table.insert(entries[i]) != ConnTable::InsertResult::kOk) {
            fmt::print(stderr, "insert failed at {}\n", i);
            std::exit(1);
        }
    }
    std::mt19937_64 rng(2);
    // Keys and hashes precomputed, as the engine has them from the packet (and the NIC's hash).
    std::vector<FourTuple> hit(o.ops), miss(o.ops);
    std::vector<std::uint32_t> hit_h(o.ops), miss_h(o.ops);
    for (std::size_t i = 0; i < o.ops; ++i) {
        hit[i] = tuple_of(rng() % n);
        hit_h[i] = hash_crc(hit[i]);
        miss[i] = tuple_of(n + rng() % n);
        miss_h[i] = hash_crc(miss[i]);
    }
    auto run_single = [&](std::vector<FourTuple>& k, std::vector<std::uint32_t>& h) {
        std::vector<double> v;
        for (int run = 0; run < o.runs; ++run) {
            std::size_t found = 0;
            auto t0 = SteadyClock::now();
            for (std::size_t i = 0; i < o.ops; ++i) {
                found += table.find(k[i], h[i]) != nullptr;
            }
            auto t1 = SteadyClock::now();
            keep(found);
            v.push_back(elapsed_ns(t0, t1) / static_cast<double>(o.ops));
        }
        return median(v);
    };
    auto run_burst = [&](std::vector<FourTuple>& k, std::vector<std::uint32_t>& h) {
        std::vector<double> v;
        ConnEntry* out[32];
        for (int run = 0; run < o.runs; ++run) {
            std::size_t found = 0;
            auto t0 = SteadyClock::now();
            for (std::size_t i = 0; i + 32 <= o.ops; i += 32) {
                table.find_burst(&k[i], &h[i], 32, out);
                for (auto* e : out) {
                    found += e != nullptr;
                }
            }
            auto t1 = SteadyClock::now();
            keep(found);
            v.push_back(elapsed_ns(t0, t1) / static_cast<double>(o.ops / 32 * 32));
        }
        return median(v);
    };
    fmt::print("| table lookup hit, single | {:>10} entries | {:7.1f} ns/op |\n", n,
               run_single(hit, hit_h));
    fmt::print("| table lookup hit, burst of 32 | {:>10} entries | {:7.1f} ns/op |\n", n,
               run_burst(hit, hit_h));
    fmt::print("| table lookup miss, single | {:>10} entries | {:7.1f} ns/op |\n", n,
               run_single(miss, miss_h));
    fmt::print("| table lookup miss, burst of 32 | {:>10} entries | {:7.1f} ns/op |\n", n,
               run_burst(miss, miss_h));
    for (std::size_t i = 0; i < n; ++i) {
        table.erase(entries[i]);
    }
    std::destroy_n(entries, n);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto need = [&]() -> std::string {
            if (i + 1 >= argc) {
                fmt::print(stderr, "tcpterm-bench: {} needs a value\n", a);
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--sizes") {
            o.sizes.clear();
            std::string s = need();
            for (std::size_t p = 0; p < s.size();) {
                std::size_t q = s.find(',', p);
                o.sizes.push_back(std::stoull(s.substr(p, q - p)));
                p = q == std::string::npos ? s.size() : q + 1;
            }
        } else if (a == "--runs") {
            o.runs = std::max(1, std::stoi(need()));
        } else if (a == "--ops") {
            o.ops = std::max<std::size_t>(64, std::stoull(need()));
        } else {
            fmt::print(stderr, "usage: tcpterm-bench [--sizes N,N] [--runs N] [--ops N]\n");
            std::exit(2);
        }
    }
    return o;
}

} // namespace

int main(int argc, char** argv) {
    Options o = parse(argc, argv);
    fmt::print("| operation | size | median of {} runs |\n|---|---|---|\n", o.runs);
    for (std::size_t n : o.sizes) {
        bench_wheel(o, n);
    }
    for (std::size_t n : o.sizes) {
        bench_table(o, n);
    }
    return 0;
}
