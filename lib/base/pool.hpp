// ObjectPool<T>: a fixed-capacity, single-owner pool for control blocks and TIME_WAIT records.
//
// Why not rte_mempool: a worker's connection objects are allocated and freed by that worker only,
// so the ring (or stack) behind rte_mempool and its per-lcore cache add atomics and indirection
// for nothing. This pool is a LIFO free list threaded through the free slots themselves (no extra
// memory; the most recently freed, cache-hot object is reused first) plus a bump pointer for slots
// never used yet, so construction does not touch the whole region: pages are first touched by the
// owning worker, which places them on its NUMA node. mbufs, which cross cores and the NIC, do use
// rte_mempool.
//
// Exhaustion returns nullptr and is counted; nothing throws and nothing calls the general
// allocator after construction.
#pragma once

#include "base/region.hpp"

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <utility>

namespace tcpterm {

template <class T>
class ObjectPool {
public:
    explicit ObjectPool(std::size_t capacity)
        : capacity_(check(capacity)), region_(capacity * sizeof(Slot)),
          slots_(static_cast<Slot*>(region_.data())) {}
    ObjectPool(const ObjectPool&) = delete;
    ObjectPool& operator=(const ObjectPool&) = delete;
    ~ObjectPool() { assert(in_use_ == 0 && "ObjectPool destroyed with live objects"); }

    /// Constructs a T in a free slot; nullptr (counted) when the pool is exhausted.
    template <class... Args>
    [[nodiscard]] T* create(Args&&... args) noexcept(noexcept(T(std::forward<Args>(args)...))) {
        Slot* s = free_;
        if (s != nullptr) {
            free_ = s->next;
        } else if (bump_ < capacity_) {
            s = &slots_[bump_++];
        } else {
            ++exhausted_;
            return nullptr;
        }
        T* obj = new (s->storage) T(std::forward<Args>(args)...);
        if (++in_use_ > high_water_) {
            high_water_ = in_use_;
        }
        return obj;
    }

    /// Destroys obj and returns its slot to the pool.
    void destroy(T* obj) noexcept {
        assert(owns(obj));
        obj->~T();
        Slot* s = reinterpret_cast<Slot*>(obj);
        s->next = free_;
        free_ = s;
        --in_use_;
    }

    [[nodiscard]] bool owns(const T* obj) const noexcept {
        auto p = reinterpret_cast<std::uintptr_t>(obj);
        auto b = reinterpret_cast<std::uintptr_t>(slots_);
        return p >= b && p < b + capacity_ * sizeof(Slot) && (p - b) % sizeof(Slot) == 0;
    }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::size_t in_use() const noexcept { return in_use_; }
    [[nodiscard]] std::size_t available() const noexcept { return capacity_ - in_use_; }
    [[nodiscard]] std::size_t high_water() const noexcept { return high_water_; }
    /// create() calls refused because the pool was empty.
    [[nodiscard]] std::uint64_t exhausted_count() const noexcept { return exhausted_; }

private:
    static std::size_t check(std::size_t capacity) {
        if (capacity == 0) {
            throw std::invalid_argument("ObjectPool: capacity must be > 0");
        }
        return capacity;
    }
    union Slot {
        Slot* next;
        alignas(T) unsigned char storage[sizeof(T)];
    };

    static_assert(alignof(Slot) <= 4096, "Region is page aligned");
    std::size_t capacity_;
    Region region_; // huge-page backed where the kernel allows
    Slot* slots_;
    Slot* free_ = nullptr;
    std::size_t bump_ = 0;
    std::size_t in_use_ = 0;
    std::size_t high_water_ = 0;
    std::uint64_t exhausted_ = 0;
};

} // namespace tcpterm
