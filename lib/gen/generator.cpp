#include "gen/generator.hpp"

#include "tcp/stack.hpp"

#include <fmt/core.h>
#include <rte_byteorder.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

namespace tcpterm::gen {

std::uint64_t GenCounts::error_total() const noexcept {
    std::uint64_t n = 0;
    for (std::uint64_t e : errors) {
        n += e;
    }
    return n;
}

void GenCounts::add(const GenCounts& o) noexcept {
    for (std::size_t i = 0; i < counters.size(); ++i) {
        counters[i] += o.counters[i];
    }
    for (std::size_t i = 0; i < errors.size(); ++i) {
        errors[i] += o.errors[i];
    }
}

GenWorker::GenWorker(engine::WorkerHost& host, const GenOptions& o, GenShared& shared)
    : host_(host), stack_(host.stack()), o_(o), shared_(shared), request_(build_request(o, false)),
      last_request_(build_request(o, true)) {
    if (o.src_first != 0) {
        for (std::uint32_t a = o.src_first; a <= o.src_last; ++a) {
            src_.push_back(a);
        }
    } else if (const std::uint32_t a = host.source_for(o.dst); a != 0) {
        src_.push_back(a);
    } else {
        throw std::runtime_error(
            fmt::format("worker {}: no port routes to the destination", host.index()));
    }
    ports_.reserve(src_.size());
    for (std::size_t i = 0; i < src_.size(); ++i) {
        ports_.emplace_back(o.sport_min, o.sport_max, host.index());
    }
    // The cap: this worker's share of --concurrency, or the control block pool.
    const std::uint32_t workers = host.worker_count();
    const auto pool = static_cast<std::uint32_t>(stack_.config().max_connections);
    cap_ = o.concurrency == 0 ? pool : std::min(pool, (o.concurrency + workers - 1) / workers);
    slots_.resize(cap_);
    free_.reserve(cap_);
    for (std::uint32_t i = cap_; i > 0; --i) {
        free_.push_back(i - 1);
    }
}

bool GenWorker::open_one(Nanos now, bool warm) noexcept {
    if (free_.empty()) {
        return false;
    }
    const std::uint32_t si = next_src_;
    next_src_ = next_src_ + 1 == src_.size() ? 0 : next_src_ + 1;
    FourTuple t;
    t.laddr = rte_cpu_to_be_32(src_[si]);
    t.raddr = rte_cpu_to_be_32(o_.dst);
    t.rport = rte_cpu_to_be_16(o_.dport);
    int err = 0;
    tcp::Tcb* c = ports_[si].connect(host_, t, this, &err);
    if (c == nullptr) {
        if (warm) {
            bump(GenCounter::warmup_failed);
        } else {
            bump(err == EADDRNOTAVAIL ? GenError::ports_exhausted : GenError::no_memory);
        }
        return false;
    }
    const std::uint32_t idx = free_.back();
    free_.pop_back();
    active_.store(active_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    Conn& k = slots_[idx];
    k = Conn{};
    k.tcb = c;
    k.start = now;
    k.requests_left = o_.requests;
    k.warm = warm;
    c->user = &k;
    if (!warm) {
        bump(GenCounter::opened);
    }
    return true;
}

void GenWorker::release(Conn& k) noexcept {
    if (k.tcb != nullptr) {
        k.tcb->user = nullptr;
        k.tcb = nullptr;
    }
    if (k.warm && warm_pending_ > 0) {
        --warm_pending_;
    }
    free_.push_back(static_cast<std::uint32_t>(&k - slots_.data()));
    active_.store(active_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

void GenWorker::send_request(tcp::Tcb& c, Conn& k) noexcept {
    const std::string& r = k.requests_left == 1 ? last_request_ : request_;
    const long n = stack_.send(c, r.data(), r.size());
    if (c.dead) {
        return;
    }
    if (n != static_cast<long>(r.size())) {
        fail(c, k, GenError::send_failed);
        return;
    }
    if (!k.warm) {
        bump(GenCounter::requests);
    }
}

void GenWorker::fail(tcp::Tcb& c, Conn& k, GenError e) noexcept {
    error_closed(k, e);
    stack_.abort(c);
}

void GenWorker::error_closed(Conn& k, GenError e) noexcept {
    if (k.warm) {
        bump(GenCounter::warmup_failed);
    } else {
        bump(e);
    }
    release(k);
}

void GenWorker::done(Conn& k) noexcept {
    if (k.warm) {
        bump(GenCounter::warmup_ok);
    } else {
        h_life_.record(host_.now() - k.start);
        bump(GenCounter::completed);
    }
    release(k);
}

void GenWorker::finish(tcp::Tcb& c, Conn& k) noexcept {
    switch (o_.close) {
    case CloseMode::client:
        done(k);
        stack_.close(c);
        break;
    case CloseMode::rst:
        done(k);
        stack_.set_linger(c, true, 0);
        stack_.close(c);
        break;
    case CloseMode::server:
        k.awaiting_fin = true;
        if (stack_.peer_closed(c)) {
            done(k);
            stack_.close(c);
        }
        break;
    }
}

void GenWorker::on_connected(tcp::Tcb& c) {
    Conn* k = conn(c);
    if (k == nullptr) {
        return;
    }
    if (!k->warm) {
        h_connect_.record(host_.now() - k->start);
        bump(GenCounter::connected);
    }
    send_request(c, *k);
}

void GenWorker::on_readable(tcp::Tcb& c) {
    char buf[4096];
    for (;;) {
        Conn* k = conn(c);
        if (k == nullptr) {
            return; // not ours any more (closed on an earlier piece)
        }
        const std::size_t n = stack_.recv(c, buf, sizeof buf);
        if (n == 0) {
            return;
        }
        if (!k->first_byte) {
            k->first_byte = true;
            if (!k->warm) {
                h_first_.record(host_.now() - k->start);
            }
        }
        std::size_t off = 0;
        while (off < n) {
            if (k->awaiting_fin || k->requests_left == 0) {
                fail(c, *k, GenError::bad_response); // bytes after the last response
                return;
            }
            std::size_t used = 0;
            const auto r = k->parser.feed(buf + off, n - off, used);
            off += used;
            if (r == HttpResponseParser::Result::more) {
                continue;
            }
            if (r == HttpResponseParser::Result::error ||
                k->parser.content_length() != o_.response_size) {
                fail(c, *k, GenError::bad_response);
                return;
            }
            if (!k->warm) {
                bump(GenCounter::responses);
            }
            if (--k->requests_left > 0) {
                k->parser.reset();
                send_request(c, *k);
                if (c.dead || conn(c) == nullptr) {
                    return;
                }
            } else {
                finish(c, *k);
                if (conn(c) == nullptr) {
                    return;
                }
            }
        }
    }
}

void GenWorker::on_peer_fin(tcp::Tcb& c) {
    Conn* k = conn(c);
    if (k == nullptr) {
        return;
    }
    if (k->awaiting_fin) {
        done(*k);
        stack_.close(c);
        return;
    }
    // The server ended the stream before the last response was complete.
    error_closed(*k, GenError::early_close);
    stack_.close(c);
}

void GenWorker::on_closed(tcp::Tcb& c, int error) {
    Conn* k = conn(c);
    if (k == nullptr) {
        return;
    }
    k->tcb = nullptr; // the control block is gone
    switch (error) {
    case ECONNREFUSED:
        error_closed(*k, GenError::refused);
        break;
    case ECONNRESET:
        error_closed(*k, GenError::reset);
        break;
    case ETIMEDOUT:
        error_closed(*k, GenError::timeout);
        break;
    case 0:
        error_closed(*k, GenError::early_close);
        break;
    case ECONNABORTED:
        if (phase_.load(std::memory_order_relaxed) == Phase::stopping) {
            // Reset by the engine at the end of the drain: not the server's doing.
            bump(GenCounter::unfinished);
            release(*k);
            break;
        }
        error_closed(*k, GenError::aborted);
        break;
    default:
        error_closed(*k, GenError::aborted);
        break;
    }
}

void GenWorker::start_run(Nanos now) noexcept {
    run_start_ = now;
    rate_ = shared_.rate_per_worker.load(std::memory_order_relaxed);
    // Demand may pile up for 5 ms (a stalled loop, the cap) before it is counted as missed.
    pacer_.start(now, rate_, std::max<std::uint64_t>(kMaxOpensPerPoll, rate_ / 200));
    phase_.store(Phase::run, std::memory_order_release);
}

void GenWorker::end_run(Nanos now) noexcept {
    window_.store(now - run_start_, std::memory_order_relaxed);
    completed_in_window_.store(
        counters_[static_cast<std::size_t>(GenCounter::completed)].load(std::memory_order_relaxed),
        std::memory_order_relaxed);
    publish_missed();
    phase_.store(Phase::done, std::memory_order_release);
}

void GenWorker::publish_missed() noexcept {
    if (const std::uint64_t m = pacer_.missed(); m != missed_published_) {
        bump(GenCounter::pacer_missed, m - missed_published_);
        missed_published_ = m;
    }
}

void GenWorker::poll(Nanos now) noexcept {
    switch (phase_.load(std::memory_order_relaxed)) {
    case Phase::wait_go:
        if (shared_.go.load(std::memory_order_acquire)) {
            // Warm-up: one connection from the first source address, then one from each of the
            // others, so ARP is resolved both ways (one hop here, one per source address on the
            // server) before the measurement, and no SYN or SYN-ACK waits behind ARP in it.
            warm_deadline_ = now + kWarmupLimit;
            phase_.store(Phase::warmup, std::memory_order_release);
            if (open_one(now, true)) {
                ++warm_pending_;
            }
        }
        return;
    case Phase::warmup:
        if (warm_pending_ == 0 || now >= warm_deadline_) {
            if (!warm_all_ && src_.size() > 1) {
                warm_all_ = true;
                warm_deadline_ = now + kWarmupLimit;
                for (std::size_t i = 1; i < src_.size(); ++i) {
                    if (open_one(now, true)) {
                        ++warm_pending_;
                    }
                }
                return;
            }
            start_run(now);
        }
        return;
    case Phase::run:
        break;
    case Phase::done:
    case Phase::stopping:
        return;
    }
    if (shared_.stop.load(std::memory_order_relaxed) ||
        (!o_.ramp.on && now - run_start_ >= o_.duration)) {
        end_run(now);
        return;
    }
    if (const std::uint64_t r = shared_.rate_per_worker.load(std::memory_order_relaxed);
        r != rate_) {
        rate_ = r;
        pacer_.set_rate(now, r);
        pacer_.set_max_debt(std::max<std::uint64_t>(kMaxOpensPerPoll, r / 200));
    }
    std::uint64_t n = std::min<std::uint64_t>(pacer_.due(now), kMaxOpensPerPoll);
    publish_missed();
    if (n > free_.size()) {
        n = free_.size();
        if (rate_ != 0) {
            bump(GenCounter::cap_polls); // paced, and the cap is in the way
        }
    }
    std::uint64_t i = 0;
    for (; i < n; ++i) {
        // A failed open (no port, no control block) is counted and uses its turn: the pacer
        // does not retry it.
        if (free_.empty()) {
            break;
        }
        open_one(now, false);
    }
    pacer_.take(i);
}

void GenWorker::stop_accept() noexcept {
    const Phase p = phase_.load(std::memory_order_relaxed);
    if (p == Phase::run) {
        end_run(host_.now());
    } else if (p == Phase::wait_go || p == Phase::warmup) {
        window_.store(0, std::memory_order_relaxed);
    }
    phase_.store(Phase::stopping, std::memory_order_release);
}

GenCounts GenWorker::counts() const noexcept {
    GenCounts c;
    for (std::size_t i = 0; i < c.counters.size(); ++i) {
        c.counters[i] = counters_[i].load(std::memory_order_relaxed);
    }
    for (std::size_t i = 0; i < c.errors.size(); ++i) {
        c.errors[i] = errors_[i].load(std::memory_order_relaxed);
    }
    return c;
}

} // namespace tcpterm::gen
