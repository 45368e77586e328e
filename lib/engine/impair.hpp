// Impairment: fault injection on a port's receive or transmit path, because netem is not
// available where tcpterm is tested. Each direction of each port (of each worker) drops,
// duplicates, reorders (holds a packet back until later ones have passed), corrupts (flips one
// byte past the Ethernet header, which the IPv4 or TCP checksum must then catch) and delays
// packets, with given probabilities and a seed, so a failing run can be replayed. Off by
// default; when off the worker does not call it at all.
#pragma once

#include "base/clock.hpp"
#include "engine/config.hpp"

#include <array>
#include <cstdint>

struct rte_mbuf;

namespace tcpterm::engine {

struct ImpairStats {
    std::uint64_t dropped = 0;
    std::uint64_t duplicated = 0;
    std::uint64_t reordered = 0;
    std::uint64_t corrupted = 0;
    std::uint64_t delayed = 0;
    std::uint64_t overflow = 0; // could not be held (queue full): passed through undelayed
};

class Impairment {
public:
    static constexpr std::size_t kHeld = 4096;

    /// `rx` tells the direction: corruption must look like damage on the wire, so on receive it
    /// clears the NIC's checksum verdict, and on transmit it first completes checksums that were
    /// left to the NIC.
    Impairment(const ImpairSpec& spec, std::uint64_t seed, bool rx) noexcept;
    Impairment(const Impairment&) = delete;
    Impairment& operator=(const Impairment&) = delete;
    ~Impairment();

    [[nodiscard]] bool active() const noexcept { return active_; }
    [[nodiscard]] static bool active(const ImpairSpec& s) noexcept {
        return s.drop_ppm || s.duplicate_ppm || s.reorder_ppm || s.corrupt_ppm || s.delay;
    }

    /// Applies the impairments to `n` packets: writes the packets to pass now to `out` (room for
    /// 2 * n: duplicates) and returns their count; held packets come out of release() later.
    std::uint16_t apply(rte_mbuf** pkts, std::uint16_t n, Nanos now, rte_mbuf** out) noexcept;
    /// Packets whose time has come, up to `max`, in release order.
    std::uint16_t release(Nanos now, rte_mbuf** out, std::uint16_t max) noexcept;

    [[nodiscard]] const ImpairStats& stats() const noexcept { return stats_; }

private:
    bool chance(std::uint32_t threshold) noexcept;
    std::uint64_t next() noexcept;
    bool hold(rte_mbuf* m, Nanos until) noexcept;
    void corrupt(rte_mbuf* m) noexcept;

    struct Held {
        Nanos until;
        rte_mbuf* m;
    };
    ImpairSpec cfg_;
    bool active_;
    bool rx_;
    std::uint32_t drop_, dup_, reorder_, corrupt_; // thresholds out of 2^32
    std::uint64_t state_;
    std::array<Held, kHeld> held_{};
    std::size_t head_ = 0;
    std::size_t count_ = 0;
    ImpairStats stats_;
};

} // namespace tcpterm::engine
