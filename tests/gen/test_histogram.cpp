// LatencyHistogram: bucket boundaries, percentiles against exact ones from a sorted sample,
// relative error bound, merge, overflow.
#include "gen/histogram.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using tcpterm::gen::LatencyHistogram;

TEST_CASE("histogram: buckets tile the value range without gaps", "[gen]") {
    for (std::size_t i = 0; i + 1 < LatencyHistogram::kBuckets; ++i) {
        REQUIRE(LatencyHistogram::highest(i) + 1 == LatencyHistogram::lowest(i + 1));
        REQUIRE(LatencyHistogram::index_of(LatencyHistogram::lowest(i)) == i);
        REQUIRE(LatencyHistogram::index_of(LatencyHistogram::highest(i)) == i);
    }
    CHECK(LatencyHistogram::index_of(0) == 0);
    CHECK(LatencyHistogram::index_of(127) == 127);
    CHECK(LatencyHistogram::index_of(128) == 128);
    CHECK(LatencyHistogram::index_of(129) == 128); // 128..129 share a bucket (width 2)
    CHECK(LatencyHistogram::index_of(130) == 129);
}

TEST_CASE("histogram: a bucket is at most 1/64 of its values wide", "[gen]") {
    for (std::size_t i = LatencyHistogram::kLinear; i < LatencyHistogram::kBuckets; ++i) {
        const double lo = static_cast<double>(LatencyHistogram::lowest(i));
        const double width = static_cast<double>(LatencyHistogram::highest(i)) - lo + 1;
        REQUIRE(width / lo <= 1.0 / 64 + 1e-12);
    }
}

TEST_CASE("histogram: empty and single value", "[gen]") {
    LatencyHistogram h;
    CHECK(h.count() == 0);
    CHECK(h.percentile(50) == 0);
    CHECK(h.min() == 0);
    h.record(12345);
    CHECK(h.count() == 1);
    CHECK(h.min() == 12345);
    CHECK(h.max() == 12345);
    // The bucket's highest value is capped at the largest recorded.
    CHECK(h.percentile(0.1) == 12345);
    CHECK(h.percentile(100) == 12345);
    CHECK(h.mean() == Approx(12345));
}

TEST_CASE("histogram: exact below 128, percentile ranks", "[gen]") {
    LatencyHistogram h;
    for (std::uint64_t v = 1; v <= 100; ++v) {
        h.record(v);
    }
    CHECK(h.percentile(50) == 50);
    CHECK(h.percentile(90) == 90);
    CHECK(h.percentile(99) == 99);
    CHECK(h.percentile(99.9) == 100);
    CHECK(h.percentile(100) == 100);
    CHECK(h.percentile(1) == 1);
}

TEST_CASE("histogram: percentiles within 1/64 of the exact ones (log-normal sample)", "[gen]") {
    std::mt19937_64 rng(42);
    std::lognormal_distribution<double> dist(11.0, 1.5); // around 60 us, long tail
    std::vector<std::uint64_t> v;
    LatencyHistogram h;
    for (int i = 0; i < 200'000; ++i) {
        const auto x = static_cast<std::uint64_t>(dist(rng));
        v.push_back(x);
        h.record(x);
    }
    std::sort(v.begin(), v.end());
    for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
        const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * v.size()));
        const double exact = static_cast<double>(v[std::max<std::size_t>(rank, 1) - 1]);
        const double got = static_cast<double>(h.percentile(p));
        INFO("p" << p << " exact " << exact << " got " << got);
        REQUIRE(got >= exact);                        // never below: highest equivalent value
        REQUIRE(got <= exact * (1.0 + 1.0 / 64) + 1); // and within the bucket width
    }
}

TEST_CASE("histogram: merge equals recording everything in one", "[gen]") {
    LatencyHistogram a;
    LatencyHistogram b;
    LatencyHistogram all;
    for (std::uint64_t v = 0; v < 50'000; v += 7) {
        (v % 2 ? a : b).record(v * 13);
        all.record(v * 13);
    }
    a.merge(b);
    CHECK(a.count() == all.count());
    CHECK(a.min() == all.min());
    CHECK(a.max() == all.max());
    CHECK(a.mean() == Approx(all.mean()));
    for (double p : {50.0, 90.0, 99.0, 99.9}) {
        CHECK(a.percentile(p) == all.percentile(p));
    }
    a.reset();
    CHECK(a.count() == 0);
    CHECK(a.percentile(50) == 0);
}

TEST_CASE("histogram: values past 2^40 ns are clamped and counted", "[gen]") {
    LatencyHistogram h;
    h.record(LatencyHistogram::kMaxValue + 1);
    h.record(~0ull);
    CHECK(h.overflow() == 2);
    CHECK(h.count() == 2);
    CHECK(h.max() == LatencyHistogram::kMaxValue);
    CHECK(h.bucket(LatencyHistogram::kBuckets - 1) == 2);
}
