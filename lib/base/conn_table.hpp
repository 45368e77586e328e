// ConnTable: the per-core connection table, keyed by the four-tuple.
//
// A Boost.Intrusive unordered_set over a power-of-two bucket array that the table allocates once
// at start-up and never rehashes: the worker core never pays for growth, and insert reports "full"
// at the configured capacity instead. Entries embed their hook (ConnEntry is the common head of
// the TCP control block and the compact TIME_WAIT record), so insert and erase allocate nothing.
//
// The hash is supplied by the caller and stored in the entry: the engine reuses the NIC's RSS hash
// when the port delivers one, or computes hash_crc() in software, and the table never recomputes
// it. The same hash function must be used for every insert and lookup on one table.
//
// find_burst() looks up a burst of keys in three passes (prefetch the buckets, then the first
// node of each, then compare), the way DPDK's rte_hash bulk lookup hides memory latency.
#pragma once

#include "base/four_tuple.hpp"
#include "base/region.hpp"

#include <boost/intrusive/unordered_set.hpp>

#include <cstddef>
#include <cstdint>

namespace tcpterm {

/// The common head of everything stored in a ConnTable (24 bytes). Bit 31 of the stored hash is
/// a tag for the owner (the TCP layer marks TIME_WAIT records with it); the table uses bits 0-30.
struct ConnEntry {
    using Hook = boost::intrusive::unordered_set_member_hook<
        boost::intrusive::link_mode<boost::intrusive::safe_link>>;

    static constexpr std::uint32_t kHashMask = 0x7FFFFFFFu;
    static constexpr std::uint32_t kTagBit = 0x80000000u;

    ConnEntry() noexcept = default;
    ConnEntry(const ConnEntry&) = delete;
    ConnEntry& operator=(const ConnEntry&) = delete;

    [[nodiscard]] std::uint32_t hash() const noexcept { return hash_tag & kHashMask; }
    [[nodiscard]] bool tagged() const noexcept { return (hash_tag & kTagBit) != 0; }
    void set_hash(std::uint32_t h) noexcept { hash_tag = (hash_tag & kTagBit) | (h & kHashMask); }
    void set_tag(bool on) noexcept {
        hash_tag = on ? (hash_tag | kTagBit) : (hash_tag & kHashMask);
    }
    [[nodiscard]] bool linked() const noexcept { return table_hook.is_linked(); }

    Hook table_hook;
    FourTuple key;
    std::uint32_t hash_tag = 0;
};
static_assert(sizeof(ConnEntry) == 24);

class ConnTable {
public:
    enum class InsertResult { kOk, kFull, kExists };

    /// Sizes the bucket array to the power of two >= capacity (load factor <= 1).
    explicit ConnTable(std::size_t capacity);
    ConnTable(const ConnTable&) = delete;
    ConnTable& operator=(const ConnTable&) = delete;
    ~ConnTable();

    /// Links `e` (its key and hash already set). Fails with kFull at capacity, kExists if an
    /// entry with the same key is present.
    InsertResult insert(ConnEntry& e) noexcept;
    /// Unlinks `e`, which must be in this table.
    void erase(ConnEntry& e) noexcept;
    /// The entry with key `k`, or nullptr. `hash` must be what the entry was inserted with.
    [[nodiscard]] ConnEntry* find(const FourTuple& k, std::uint32_t hash) noexcept;
    /// Looks up n keys at once with prefetching; out[i] is the entry for keys[i] or nullptr.
    void find_burst(const FourTuple* keys, const std::uint32_t* hashes, std::size_t n,
                    ConnEntry** out) noexcept;

    /// Visits every entry (control plane only: dumps, shutdown). `fn(ConnEntry&)` must not
    /// insert or erase.
    template <class Fn>
    void for_each(Fn&& fn) {
        for (ConnEntry& e : set_) {
            fn(e);
        }
    }

    [[nodiscard]] std::size_t size() const noexcept { return set_.size(); }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::size_t bucket_count() const noexcept { return nbuckets_; }
    /// Inserts refused because the table was full.
    [[nodiscard]] std::uint64_t full_count() const noexcept { return full_; }
    /// Changes with every insert and erase: a find_burst result is still valid while this has
    /// not changed since (an erased entry may be freed and its memory reused).
    [[nodiscard]] std::uint64_t generation() const noexcept { return generation_; }

private:
    struct EntryHash {
        std::size_t operator()(const ConnEntry& e) const noexcept { return e.hash(); }
    };
    struct EntryEq {
        bool operator()(const ConnEntry& a, const ConnEntry& b) const noexcept {
            return a.key == b.key;
        }
    };
    using Set = boost::intrusive::unordered_set<
        ConnEntry,
        boost::intrusive::member_hook<ConnEntry, ConnEntry::Hook, &ConnEntry::table_hook>,
        boost::intrusive::hash<EntryHash>, boost::intrusive::equal<EntryEq>,
        boost::intrusive::constant_time_size<true>, boost::intrusive::power_2_buckets<true>>;

    std::size_t capacity_;
    std::size_t nbuckets_;
    Region region_; // bucket array, huge-page backed where possible
    Set::bucket_type* buckets_;
    Set set_;
    std::uint64_t full_ = 0;
    std::uint64_t generation_ = 0;
};

} // namespace tcpterm
