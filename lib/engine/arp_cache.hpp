// ArpCache: one worker's IPv4 -> MAC table for its next hops, with an expiry, and a short queue
// of packets per unresolved next hop so the first segments of a connection are not lost while
// the ARP request is answered. Fixed size, open addressing, no allocation after construction:
// a termination engine talks to few next hops (its gateway, or the on-link clients of a lab), so
// the table is small and a full table evicts the oldest entry.
#pragma once

#include "base/clock.hpp"

#include <rte_ether.h>

#include <array>
#include <cstdint>
#include <vector>

struct rte_mbuf;

namespace tcpterm::engine {

class ArpCache {
public:
    static constexpr std::size_t kPendingPerHop = 8;

    ArpCache(std::size_t slots, Nanos timeout);
    ArpCache(const ArpCache&) = delete;
    ArpCache& operator=(const ArpCache&) = delete;
    ~ArpCache();

    /// The MAC for `ip` (host order) if known and fresh.
    [[nodiscard]] const rte_ether_addr* lookup(std::uint32_t ip, Nanos now) const noexcept;
    /// Records ip -> mac (learned from an ARP request or reply); returns the packets that were
    /// waiting for it (the caller sends them), count in `n`.
    rte_mbuf** learn(std::uint32_t ip, const rte_ether_addr& mac, Nanos now,
                     std::size_t& n) noexcept;
    /// Queues `m` until `ip` resolves. Returns false (caller frees and counts) if the queue for
    /// that hop is full. `request_due` is set when an ARP request should be sent now (first
    /// packet, or the last request is older than a second).
    bool hold(std::uint32_t ip, rte_mbuf* m, Nanos now, bool& request_due) noexcept;
    /// Frees held packets of hops unresolved for longer than 3 s; returns how many were freed.
    std::size_t expire(Nanos now) noexcept;

    [[nodiscard]] std::size_t size() const noexcept;

private:
    struct Entry {
        std::uint32_t ip = 0; // 0 = free
        bool resolved = false;
        rte_ether_addr mac{};
        Nanos updated = 0; // learned, or first queued while unresolved
        Nanos last_request = 0;
        std::uint8_t npending = 0;
        std::array<rte_mbuf*, kPendingPerHop> pending{};
    };
    Entry* find(std::uint32_t ip) noexcept;
    const Entry* find(std::uint32_t ip) const noexcept;
    Entry* slot_for(std::uint32_t ip, Nanos now) noexcept;

    std::vector<Entry> table_;
    Nanos timeout_;
    std::array<rte_mbuf*, kPendingPerHop> flushed_{};
};

} // namespace tcpterm::engine
