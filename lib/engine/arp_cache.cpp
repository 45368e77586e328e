#include "engine/arp_cache.hpp"

#include <rte_hash_crc.h>
#include <rte_mbuf.h>

#include <stdexcept>

namespace tcpterm::engine {

ArpCache::ArpCache(std::size_t slots, Nanos timeout) : table_(slots), timeout_(timeout) {
    if (slots == 0 || (slots & (slots - 1)) != 0) {
        throw std::invalid_argument("ArpCache: slots must be a power of two");
    }
}

ArpCache::~ArpCache() {
    for (Entry& e : table_) {
        for (std::size_t i = 0; i < e.npending; ++i) {
            rte_pktmbuf_free(e.pending[i]);
        }
    }
}

// Linear probing over a small power-of-two table; the probe length is bounded by the table size.
ArpCache::Entry* ArpCache::find(std::uint32_t ip) noexcept {
    return const_cast<Entry*>(static_cast<const ArpCache*>(this)->find(ip));
}

const ArpCache::Entry* ArpCache::find(std::uint32_t ip) const noexcept {
    const std::size_t mask = table_.size() - 1;
    std::size_t i = rte_hash_crc_4byte(ip, 0) & mask;
    for (std::size_t n = 0; n < table_.size(); ++n, i = (i + 1) & mask) {
        if (table_[i].ip == ip) {
            return &table_[i];
        }
        if (table_[i].ip == 0) {
            return nullptr;
        }
    }
    return nullptr;
}

ArpCache::Entry* ArpCache::slot_for(std::uint32_t ip, Nanos now) noexcept {
    if (Entry* e = find(ip)) {
        return e;
    }
    const std::size_t mask = table_.size() - 1;
    std::size_t i = rte_hash_crc_4byte(ip, 0) & mask;
    Entry* oldest = nullptr;
    for (std::size_t n = 0; n < table_.size(); ++n, i = (i + 1) & mask) {
        Entry& e = table_[i];
        if (e.ip == 0) {
            e = Entry{};
            e.ip = ip;
            e.updated = now;
            return &e;
        }
        if (oldest == nullptr || e.updated < oldest->updated) {
            oldest = &e;
        }
    }
    // Full: reuse the oldest slot in place (its probe chain stays intact: the slot is not freed).
    for (std::size_t k = 0; k < oldest->npending; ++k) {
        rte_pktmbuf_free(oldest->pending[k]);
    }
    *oldest = Entry{};
    oldest->ip = ip;
    oldest->updated = now;
    return oldest;
}

const rte_ether_addr* ArpCache::lookup(std::uint32_t ip, Nanos now) const noexcept {
    const Entry* e = find(ip);
    if (e == nullptr || !e->resolved || now - e->updated > timeout_) {
        return nullptr;
    }
    return &e->mac;
}

rte_mbuf** ArpCache::learn(std::uint32_t ip, const rte_ether_addr& mac, Nanos now,
                           std::size_t& n) noexcept {
    Entry* e = slot_for(ip, now);
    e->resolved = true;
    e->mac = mac;
    e->updated = now;
    n = e->npending;
    for (std::size_t i = 0; i < n; ++i) {
        flushed_[i] = e->pending[i];
    }
    e->npending = 0;
    return flushed_.data();
}

bool ArpCache::hold(std::uint32_t ip, rte_mbuf* m, Nanos now, bool& request_due) noexcept {
    Entry* e = slot_for(ip, now);
    if (e->resolved && now - e->updated > timeout_) {
        e->resolved = false; // stale: resolve again, keep using nothing until answered
        e->updated = now;
    }
    request_due = e->last_request == 0 || now - e->last_request >= kNsPerSec;
    if (request_due) {
        e->last_request = now;
    }
    if (e->npending >= kPendingPerHop) {
        return false;
    }
    if (e->npending == 0) {
        e->updated = now;
    }
    e->pending[e->npending++] = m;
    return true;
}

std::size_t ArpCache::expire(Nanos now) noexcept {
    std::size_t freed = 0;
    for (Entry& e : table_) {
        if (e.ip != 0 && !e.resolved && e.npending > 0 && now - e.updated > sec(3)) {
            for (std::size_t i = 0; i < e.npending; ++i) {
                rte_pktmbuf_free(e.pending[i]);
            }
            freed += e.npending;
            e.npending = 0;
        }
    }
    return freed;
}

std::size_t ArpCache::size() const noexcept {
    std::size_t n = 0;
    for (const Entry& e : table_) {
        n += e.ip != 0;
    }
    return n;
}

} // namespace tcpterm::engine
