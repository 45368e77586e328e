#include "tcp/stats.hpp"

namespace tcpterm::tcp {

void TcpStats::add(const TcpStats& o) noexcept {
    for (std::size_t i = 0; i < counters.size(); ++i) {
        counters[i] += o.counters[i];
    }
    for (std::size_t i = 0; i < timer_expiries.size(); ++i) {
        timer_expiries[i] += o.timer_expiries[i];
    }
    for (std::size_t i = 0; i < rst_sent.size(); ++i) {
        rst_sent[i] += o.rst_sent[i];
    }
    for (std::size_t i = 0; i < rst_received.size(); ++i) {
        rst_received[i] += o.rst_received[i];
    }
    for (std::size_t i = 0; i < drops.size(); ++i) {
        drops[i] += o.drops[i];
    }
    for (std::size_t i = 0; i < net_drops.size(); ++i) {
        net_drops[i] += o.net_drops[i];
    }
    for (std::size_t a = 0; a < kStateCount; ++a) {
        for (std::size_t b = 0; b < kStateCount; ++b) {
            transitions[a][b] += o.transitions[a][b];
        }
        states[a] += o.states[a];
    }
}

} // namespace tcpterm::tcp
