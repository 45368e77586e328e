// Link: two TcpStacks (a client and a server) joined by an in-memory wire, on one thread, with a
// shared fake clock. Used by the loopback scenarios and the lifecycle benchmark. A tamper hook
// sees every packet in flight and may drop it (return false), or the test may reorder and
// duplicate by holding packets and re-injecting them.
#pragma once

#include "tcp/stack.hpp"

#include <rte_mbuf.h>

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace tcpterm::test {

class Link {
public:
    struct Wire final : tcp::SegmentSink {
        std::vector<rte_mbuf*> q;
        void emit(rte_mbuf* m) override { q.push_back(m); }
    };

    Link(const tcp::StackConfig& ccfg, const tcp::StackConfig& scfg, rte_mempool* mp, Nanos start)
        : now_(start), client(ccfg, mp, to_server_, start), server(scfg, mp, to_client_, start) {
        to_server_.q.reserve(4096);
        to_client_.q.reserve(4096);
        batch_.reserve(4096);
    }
    ~Link() {
        for (rte_mbuf* m : to_server_.q) {
            rte_pktmbuf_free(m);
        }
        for (rte_mbuf* m : to_client_.q) {
            rte_pktmbuf_free(m);
        }
        for (rte_mbuf* m : held_to_server_) {
            rte_pktmbuf_free(m);
        }
        for (rte_mbuf* m : held_to_client_) {
            rte_pktmbuf_free(m);
        }
    }

    enum class Fate { deliver, drop, duplicate, delay };
    /// Decides the fate of each packet in flight: deliver, drop, deliver twice, or hold it back
    /// until after the next batch (reordering).
    std::function<Fate(rte_mbuf*, bool to_server)> tamper;
    /// Called around every server entry point (benchmarks count the server's cycles).
    std::function<void(bool begin)> server_probe;
    /// Deliver each batch as one TcpStack::input_burst (default), or packet by packet with
    /// input(), each right after its tamper() call: for a tamper hook that reads the receiving
    /// stack's state to predict what that very packet will meet.
    bool burst = true;

    /// Delivers packets both ways until the wire is quiet; returns how many were delivered.
    std::size_t pump(std::size_t max_rounds = 1'000'000) {
        std::size_t delivered = 0;
        for (std::size_t r = 0; r < max_rounds; ++r) {
            if (to_server_.q.empty() && to_client_.q.empty() && held_to_server_.empty() &&
                held_to_client_.empty()) {
                break;
            }
            delivered += deliver(to_server_, server, true);
            delivered += deliver(to_client_, client, false);
        }
        return delivered;
    }

    void advance(Nanos d) {
        now_ += d;
        client.advance(now_);
        if (server_probe) {
            server_probe(true);
        }
        server.advance(now_);
        if (server_probe) {
            server_probe(false);
        }
    }
    [[nodiscard]] Nanos now() const { return now_; }
    [[nodiscard]] std::size_t in_flight() const {
        return to_server_.q.size() + to_client_.q.size();
    }

private:
    std::size_t deliver(Wire& w, tcp::TcpStack& dst, bool to_server) {
        batch_.clear();
        std::swap(batch_, w.q);
        std::size_t n = 0;
        if (to_server && server_probe) {
            server_probe(true);
        }
        std::vector<rte_mbuf*>& held = to_server ? held_to_server_ : held_to_client_;
        std::vector<rte_mbuf*> release;
        release.swap(held);
        // The packets go in as one burst (TcpStack::input_burst, as an engine worker hands over
        // an RX burst), in the order they would have gone in one by one.
        in_.clear();
        const auto take = [&](rte_mbuf* m) {
            if (burst) {
                in_.push_back(m);
            } else {
                dst.input(m, now_);
            }
            ++n;
        };
        for (rte_mbuf* m : batch_) {
            const Fate f = tamper ? tamper(m, to_server) : Fate::deliver;
            switch (f) {
            case Fate::drop:
                rte_pktmbuf_free(m);
                continue;
            case Fate::delay:
                held.push_back(m);
                continue;
            case Fate::duplicate:
                if (rte_mbuf* copy = rte_pktmbuf_copy(m, m->pool, 0, UINT32_MAX)) {
                    take(copy);
                }
                break;
            case Fate::deliver:
                break;
            }
            take(m);
        }
        for (rte_mbuf* m : release) { // held back by one batch: now behind newer packets
            take(m);
        }
        if (burst) {
            dst.input_burst(in_.data(), in_.size(), now_);
        }
        if (to_server && server_probe) {
            server_probe(false);
        }
        batch_.clear();
        return n;
    }

    Nanos now_;
    Wire to_server_;
    Wire to_client_;
    std::vector<rte_mbuf*> batch_;
    std::vector<rte_mbuf*> in_;
    std::vector<rte_mbuf*> held_to_server_;
    std::vector<rte_mbuf*> held_to_client_;

public:
    tcp::TcpStack client;
    tcp::TcpStack server;
};

} // namespace tcpterm::test
