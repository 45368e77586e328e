#include "base/region.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <new>

namespace tcpterm {

namespace {
constexpr std::size_t kHuge = std::size_t{2} << 20;
}

Region::Region(std::size_t bytes) {
    size_ = (bytes + kHuge - 1) / kHuge * kHuge;
    if (size_ == 0) {
        size_ = kHuge;
    }
    // Over-map by one huge page so the block can start on a 2 MiB boundary (THP needs alignment).
    void* p = mmap(nullptr, size_ + kHuge, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        throw std::bad_alloc();
    }
    auto addr = reinterpret_cast<std::uintptr_t>(p);
    auto aligned = (addr + kHuge - 1) & ~(kHuge - 1);
    if (aligned > addr) {
        munmap(p, aligned - addr);
    }
    const std::uintptr_t end = addr + size_ + kHuge;
    if (end > aligned + size_) {
        munmap(reinterpret_cast<void*>(aligned + size_), end - (aligned + size_));
    }
    base_ = reinterpret_cast<void*>(aligned);
    (void)madvise(base_, size_, MADV_HUGEPAGE); // best effort: THP may be disabled
}

Region::~Region() {
    if (base_ != nullptr) {
        munmap(base_, size_);
    }
}

} // namespace tcpterm
