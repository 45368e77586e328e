#include "gen/histogram.hpp"

#include <cmath>

namespace tcpterm::gen {

void LatencyHistogram::merge(const LatencyHistogram& o) noexcept {
    for (std::size_t i = 0; i < kBuckets; ++i) {
        counts_[i] += o.counts_[i];
    }
    count_ += o.count_;
    overflow_ += o.overflow_;
    sum_ += o.sum_;
    min_ = o.min_ < min_ ? o.min_ : min_;
    max_ = o.max_ > max_ ? o.max_ : max_;
}

void LatencyHistogram::reset() noexcept {
    *this = LatencyHistogram{};
}

std::uint64_t LatencyHistogram::percentile(double p) const noexcept {
    if (count_ == 0) {
        return 0;
    }
    p = p < 0.0 ? 0.0 : (p > 100.0 ? 100.0 : p);
    auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
    rank = rank == 0 ? 1 : (rank > count_ ? count_ : rank);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
        seen += counts_[i];
        if (seen >= rank) {
            const std::uint64_t v = highest(i);
            return v < max_ ? v : max_;
        }
    }
    return max_;
}

} // namespace tcpterm::gen
