#include "lb/health.hpp"

#include "engine/local_ports.hpp"
#include "lb/proxy.hpp"
#include "tcp/stack.hpp"

#include <fmt/core.h>
#include <rte_byteorder.h>

#include <cerrno>
#include <cstring>

namespace tcpterm::lb {

using engine::HealthCheckType;

HealthChecker::HealthChecker(LbWorker& w, Shared& shared, engine::LocalPorts& ports)
    : w_(w), shared_(shared), ports_(ports) {
    for (std::size_t p = 0; p < w.pools().size(); ++p) {
        const engine::PoolConfig& pc = *w.pools()[p]->cfg;
        if (pc.health_check == HealthCheckType::none) {
            continue;
        }
        for (std::size_t m = 0; m < pc.members.size(); ++m) {
            Check k;
            k.pool = p;
            k.member = m;
            checks_.push_back(k);
        }
    }
    checks_.shrink_to_fit(); // never resized again: connections point into it
}

HealthChecker::~HealthChecker() = default;

void HealthChecker::stop() noexcept {
    stopped_ = true;
    for (Check& k : checks_) {
        if (k.tcb != nullptr) {
            tcp::Tcb* c = k.tcb;
            k.tcb = nullptr;
            c->user = nullptr;
            c->handler = nullptr;
            tcp::TcpStack& st = w_.host().stack();
            if (c->state == tcp::State::syn_sent) {
                st.close(*c);
            } else {
                st.abort(*c);
            }
        }
    }
}

void HealthChecker::poll(Nanos now) noexcept {
    if (stopped_ || checks_.empty() || now - last_scan_ < ms(1)) {
        return;
    }
    last_scan_ = now;
    shared_.clock_ns.store(now, std::memory_order_relaxed);
    for (Check& k : checks_) {
        if (k.tcb != nullptr) {
            if (now >= k.deadline) {
                finish(k, CheckResult::timeout);
            }
        } else if (now >= k.next) {
            start(k, now);
        }
    }
}

void HealthChecker::start(Check& k, Nanos now) noexcept {
    const engine::PoolConfig& pool = *w_.pools()[k.pool]->cfg;
    const engine::MemberConfig& m = pool.members[k.member];
    FourTuple t;
    t.laddr = rte_cpu_to_be_32(w_.host().source_for(m.address));
    t.raddr = rte_cpu_to_be_32(m.address);
    t.rport = rte_cpu_to_be_16(m.port);
    int err = 0;
    k.deadline = now + pool.health_timeout;
    tcp::Tcb* c = t.laddr == 0 ? nullptr : ports_.connect(w_.host(), t, this, &err);
    if (c == nullptr) {
        finish(k, CheckResult::no_port);
        return;
    }
    c->user = &k;
    k.tcb = c;
}

// Records a result, resets the check connection if it is still open, schedules the next check.
void HealthChecker::finish(Check& k, CheckResult r) noexcept {
    tcp::TcpStack& st = w_.host().stack();
    if (tcp::Tcb* c = k.tcb) {
        k.tcb = nullptr;
        c->user = nullptr;
        c->handler = nullptr;
        if (c->state == tcp::State::syn_sent) {
            st.close(*c); // silently: no RST for an unanswered SYN
        } else {
            st.abort(*c);
        }
    }
    const engine::PoolConfig& pool = *w_.pools()[k.pool]->cfg;
    MemberShared& ms = w_.pools()[k.pool]->shared[k.member];
    const Nanos now = w_.host().now();
    k.next = now + pool.health_interval;
    ms.last.store(static_cast<std::uint8_t>(r), std::memory_order_relaxed);
    ms.last_check_ns.store(now, std::memory_order_relaxed);
    const bool healthy = ms.healthy.load(std::memory_order_relaxed);
    if (r == CheckResult::ok) {
        ms.checks_ok.fetch_add(1, std::memory_order_relaxed);
        k.fail_run = 0;
        if (++k.ok_run >= pool.health_rise && !healthy) {
            ms.healthy.store(true, std::memory_order_relaxed);
            shared_.publish();
        }
    } else {
        ms.checks_failed.fetch_add(1, std::memory_order_relaxed);
        k.ok_run = 0;
        if (++k.fail_run >= pool.health_fall && healthy) {
            ms.healthy.store(false, std::memory_order_relaxed);
            shared_.publish();
        }
    }
}

void HealthChecker::on_connected(tcp::Tcb& c) {
    auto* k = static_cast<Check*>(c.user);
    if (k == nullptr) {
        return;
    }
    const engine::PoolConfig& pool = *w_.pools()[k->pool]->cfg;
    if (pool.health_check == HealthCheckType::tcp) {
        finish(*k, CheckResult::ok);
        return;
    }
    const engine::MemberConfig& m = pool.members[k->member];
    // Written once per check on the control path of worker 0; fmt formats into a stack buffer.
    char req[512];
    const auto out = fmt::format_to_n(
        req, sizeof req,
        "GET {} HTTP/1.0\r\nHost: {}.{}.{}.{}:{}\r\nUser-Agent: tcpterm-health\r\nConnection: "
        "close\r\n\r\n",
        pool.health_path, m.address >> 24, (m.address >> 16) & 255, (m.address >> 8) & 255,
        m.address & 255, m.port);
    const auto len = static_cast<std::size_t>(out.out - req);
    if (out.size > sizeof req || w_.host().stack().send(c, req, len) != static_cast<long>(len)) {
        finish(*k, CheckResult::bad_status);
    }
}

void HealthChecker::on_readable(tcp::Tcb& c) {
    auto* k = static_cast<Check*>(c.user);
    if (k == nullptr) {
        return;
    }
    char line[16] = {};
    const std::size_t n = w_.host().stack().peek(c, line, 12);
    if (n < 12) {
        return; // the status line is not complete yet
    }
    // "HTTP/1.x DDD"
    const bool http = std::memcmp(line, "HTTP/1.", 7) == 0 && line[8] == ' ';
    const int status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    const bool digits = line[9] >= '0' && line[9] <= '9' && line[10] >= '0' && line[10] <= '9' &&
                        line[11] >= '0' && line[11] <= '9';
    finish(*k, http && digits && status >= 200 && status < 400 ? CheckResult::ok
                                                               : CheckResult::bad_status);
}

void HealthChecker::on_peer_fin(tcp::Tcb& c) {
    if (auto* k = static_cast<Check*>(c.user)) {
        finish(*k, CheckResult::bad_status); // closed before a full status line
    }
}

void HealthChecker::on_closed(tcp::Tcb& c, int err) {
    auto* k = static_cast<Check*>(c.user);
    if (k == nullptr) {
        return;
    }
    k->tcb = nullptr; // the stack is done with it
    finish(*k, err == ECONNREFUSED ? CheckResult::refused
               : err == ECONNRESET ? CheckResult::reset
                                   : CheckResult::timeout);
}

} // namespace tcpterm::lb
