// Region: a large, start-up-time memory block for per-core pools and tables, backed by
// transparent huge pages where the kernel allows (madvise(MADV_HUGEPAGE)). Millions of control
// blocks, TIME_WAIT records and timers are touched in random order; with 4 KiB pages every touch
// is also a TLB miss. Allocation happens once, before the data path starts (mmap is a system
// call); pages are committed on first touch, by the owning worker, so they land on its NUMA node.
#pragma once

#include <cstddef>

namespace tcpterm {

class Region {
public:
    /// Reserves `bytes` (rounded up to 2 MiB); throws std::bad_alloc if the mapping fails.
    explicit Region(std::size_t bytes);
    Region(const Region&) = delete;
    Region& operator=(const Region&) = delete;
    Region(Region&& o) noexcept : base_(o.base_), size_(o.size_) {
        o.base_ = nullptr;
        o.size_ = 0;
    }
    ~Region();

    [[nodiscard]] void* data() const noexcept { return base_; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }

private:
    void* base_ = nullptr;
    std::size_t size_ = 0;
};

} // namespace tcpterm
