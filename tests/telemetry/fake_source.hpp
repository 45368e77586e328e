// A TelemetrySource with chosen numbers, for the telemetry tests: each worker has its load, its
// TCP statistics and its connections; run_command answers list_conns as a worker would (fills
// `conns` up to its capacity, counts every match in `total`) unless the worker is set not to
// answer, in which case the command is kept, unanswered, until answer_late().
#pragma once

#include "engine/telemetry.hpp"

#include <mutex>
#include <stdexcept>
#include <vector>

namespace tcpterm::test {

class FakeSource final : public engine::TelemetrySource {
public:
    struct Worker {
        engine::WorkerLoad load;
        tcp::TcpStats stats;
        std::vector<engine::ConnInfo> conns;
        bool answers = true;
    };

    explicit FakeSource(std::size_t n) : workers(n) {
        for (std::size_t i = 0; i < n; ++i) {
            workers[i].load.lcore = static_cast<unsigned>(i + 1);
        }
    }

    [[nodiscard]] std::size_t worker_count() const override { return workers.size(); }
    [[nodiscard]] engine::WorkerLoad worker_load(std::size_t i) const override {
        return workers.at(i).load;
    }
    [[nodiscard]] tcp::TcpStats tcp_stats(std::size_t i) const override {
        return workers.at(i).stats;
    }
    [[nodiscard]] std::uint64_t tsc_hz() const override { return 2'000'000'000; }

    bool run_command(std::size_t i, engine::Command& c, Nanos /*timeout*/) override {
        std::lock_guard lock(mutex_);
        ++commands_run;
        Worker& w = workers.at(i);
        if (!w.answers) {
            unanswered_.push_back(&c);
            return false;
        }
        answer(c, w);
        return true;
    }

    /// The workers that did not answer do it now (the telemetry side has given up on them).
    void answer_late() {
        std::lock_guard lock(mutex_);
        for (engine::Command* c : unanswered_) {
            c->done.store(true, std::memory_order_release);
        }
        unanswered_.clear();
    }

    std::vector<Worker> workers;
    std::size_t commands_run = 0;

private:
    static void answer(engine::Command& c, const Worker& w) {
        check_kind(c);
        const std::size_t cap = c.conns.capacity();
        c.total = 0;
        for (const engine::ConnInfo& ci : w.conns) {
            if (!c.any_state && ci.state != c.state) {
                continue;
            }
            ++c.total;
            if (c.conns.size() < cap) {
                c.conns.push_back(ci); // never beyond the capacity reserved by the caller
            }
        }
        c.done.store(true, std::memory_order_release);
    }
    static void check_kind(const engine::Command& c) {
        if (c.kind != engine::Command::Kind::list_conns) {
            throw std::logic_error("FakeSource: only list_conns is answered");
        }
    }

    std::mutex mutex_;
    std::vector<engine::Command*> unanswered_;
};

/// Host-order IPv4 address a.b.c.d.
constexpr std::uint32_t ip(unsigned a, unsigned b, unsigned c, unsigned d) {
    return (a << 24) | (b << 16) | (c << 8) | d;
}

} // namespace tcpterm::test
