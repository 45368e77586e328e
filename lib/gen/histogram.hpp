// LatencyHistogram: log-linear buckets in the manner of HdrHistogram, preallocated, for the
// generator's per-worker latency records (connect, first byte, lifecycle). Values below 128 ns
// get a bucket each; above, every power of two is split into 64 buckets, so a bucket spans at
// most 1/64 (1.6%) of its values and a percentile read from it is within 1.6% of the exact one.
// Recording is an index computation and an increment: no allocation, no branches on the data.
// Each worker records into its own histograms; the control plane merges them after the run.
//
// Why not HdrHistogram itself: it is not packaged for C++ in Debian, and its C port allocates
// on construction and resizing; this is the same bucket layout with the size fixed at compile
// time (2^40 ns, 18 minutes, is the largest value kept; larger values land in the last bucket and
// are counted as overflow).
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace tcpterm::gen {

class LatencyHistogram {
public:
    static constexpr unsigned kSubBits = 7;                    // 128 linear buckets first
    static constexpr std::uint64_t kLinear = 1ull << kSubBits; // values 0..127: exact
    static constexpr std::uint64_t kHalf = kLinear / 2;        // buckets per power of two
    static constexpr unsigned kMaxBits = 40;                   // values < 2^40 ns are kept
    static constexpr std::uint64_t kMaxValue = (1ull << kMaxBits) - 1;
    static constexpr std::size_t kBuckets = kLinear + (kMaxBits - kSubBits) * kHalf;

    /// The bucket of value v (v <= kMaxValue).
    static constexpr std::size_t index_of(std::uint64_t v) noexcept {
        if (v < kLinear) {
            return static_cast<std::size_t>(v);
        }
        const unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(v));
        const unsigned shift = msb - (kSubBits - 1); // v >> shift is in [64, 128)
        return static_cast<std::size_t>(kLinear + (shift - 1) * kHalf + ((v >> shift) - kHalf));
    }
    /// The smallest and the largest value that land in bucket i.
    static constexpr std::uint64_t lowest(std::size_t i) noexcept {
        if (i < kLinear) {
            return i;
        }
        const std::size_t k = i - kLinear;
        const unsigned shift = static_cast<unsigned>(k / kHalf) + 1;
        return (kHalf + k % kHalf) << shift;
    }
    static constexpr std::uint64_t highest(std::size_t i) noexcept {
        if (i < kLinear) {
            return i;
        }
        const unsigned shift = static_cast<unsigned>((i - kLinear) / kHalf) + 1;
        return lowest(i) + (1ull << shift) - 1;
    }

    void record(std::uint64_t v) noexcept {
        if (v > kMaxValue) {
            ++overflow_;
            v = kMaxValue;
        }
        ++counts_[index_of(v)];
        ++count_;
        sum_ += v;
        min_ = v < min_ ? v : min_;
        max_ = v > max_ ? v : max_;
    }

    /// Adds another histogram's records (the control plane merges workers' histograms).
    void merge(const LatencyHistogram& o) noexcept;
    void reset() noexcept;

    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
    [[nodiscard]] std::uint64_t overflow() const noexcept { return overflow_; }
    [[nodiscard]] std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
    [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
    [[nodiscard]] double mean() const noexcept {
        return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_);
    }
    /// The value at percentile p (0 < p <= 100): the highest value of the bucket that holds the
    /// ceil(p% of count)-th smallest record, capped at the largest value recorded (HdrHistogram's
    /// "highest equivalent value"). 0 when empty.
    [[nodiscard]] std::uint64_t percentile(double p) const noexcept;
    [[nodiscard]] std::uint64_t bucket(std::size_t i) const noexcept { return counts_[i]; }

private:
    std::array<std::uint64_t, kBuckets> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t overflow_ = 0;
    std::uint64_t sum_ = 0;
    std::uint64_t min_ = ~0ull;
    std::uint64_t max_ = 0;
};

static_assert(LatencyHistogram::index_of(LatencyHistogram::kMaxValue) ==
              LatencyHistogram::kBuckets - 1);
static_assert(LatencyHistogram::highest(LatencyHistogram::kBuckets - 1) ==
              LatencyHistogram::kMaxValue);

} // namespace tcpterm::gen
