#include "base/conn_table.hpp"

#include <rte_prefetch.h>

#include <bit>
#include <memory>
#include <new>
#include <stdexcept>

namespace tcpterm {

namespace {

struct KeyRef {
    const FourTuple* key;
    std::uint32_t hash;
};
struct KeyHash {
    std::size_t operator()(const KeyRef& k) const noexcept { return k.hash & ConnEntry::kHashMask; }
};
struct KeyEq {
    bool operator()(const KeyRef& k, const ConnEntry& e) const noexcept { return *k.key == e.key; }
};

std::size_t buckets_for(std::size_t capacity) {
    if (capacity == 0) {
        throw std::invalid_argument("ConnTable: capacity must be > 0");
    }
    if (capacity > (std::size_t{1} << 31)) {
        throw std::invalid_argument("ConnTable: capacity above 2^31 entries");
    }
    return std::bit_ceil(capacity);
}

} // namespace

ConnTable::ConnTable(std::size_t capacity)
    : capacity_(capacity), nbuckets_(buckets_for(capacity)),
      region_(nbuckets_ * sizeof(Set::bucket_type)),
      buckets_(new (region_.data()) Set::bucket_type[nbuckets_]),
      set_(Set::bucket_traits(buckets_, nbuckets_)) {}

ConnTable::~ConnTable() {
    // Entries belong to their pools; just unlink them so no hook points into freed buckets.
    set_.clear();
    std::destroy_n(buckets_, nbuckets_);
}

ConnTable::InsertResult ConnTable::insert(ConnEntry& e) noexcept {
    if (set_.size() >= capacity_) {
        ++full_;
        return InsertResult::kFull;
    }
    if (!set_.insert(e).second) {
        return InsertResult::kExists;
    }
    ++generation_;
    return InsertResult::kOk;
}

void ConnTable::erase(ConnEntry& e) noexcept {
    set_.erase(set_.iterator_to(e));
    ++generation_;
}

ConnEntry* ConnTable::find(const FourTuple& k, std::uint32_t hash) noexcept {
    auto it = set_.find(KeyRef{&k, hash}, KeyHash{}, KeyEq{});
    return it == set_.end() ? nullptr : &*it;
}

void ConnTable::find_burst(const FourTuple* keys, const std::uint32_t* hashes, std::size_t n,
                           ConnEntry** out) noexcept {
    const std::size_t mask = nbuckets_ - 1;
    for (std::size_t i = 0; i < n; ++i) {
        rte_prefetch0(&buckets_[(hashes[i] & ConnEntry::kHashMask) & mask]);
    }
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t b = (hashes[i] & ConnEntry::kHashMask) & mask;
        auto it = set_.begin(b);
        if (it != set_.end(b)) {
            rte_prefetch0(&*it);
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        out[i] = find(keys[i], hashes[i]);
    }
}

} // namespace tcpterm
