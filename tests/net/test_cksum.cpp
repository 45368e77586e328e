// The chain-exact checksum wrappers (lib/net/cksum.hpp) against rte_raw_cksum over the same bytes
// laid out flat, for every way of cutting a buffer into three segments, odd cuts included (the
// case DPDK 22.11's rte_raw_cksum_mbuf gets wrong).
#include "helpers.hpp"

#include "net/cksum.hpp"

#include <catch2/catch.hpp>

#include <rte_mbuf.h>

#include <vector>

using namespace tcpterm::net;
using namespace nettest;

namespace {

rte_mbuf* chain_of(const TestPool& pool, const std::vector<std::uint8_t>& bytes, std::uint32_t a,
                   std::uint32_t b) {
    rte_mbuf* seg[3] = {pool.alloc(), pool.alloc(), pool.alloc()};
    append(seg[0], {bytes.begin(), bytes.begin() + a});
    append(seg[1], {bytes.begin() + a, bytes.begin() + b});
    append(seg[2], {bytes.begin() + b, bytes.end()});
    REQUIRE(rte_pktmbuf_chain(seg[0], seg[1]) == 0);
    REQUIRE(rte_pktmbuf_chain(seg[0], seg[2]) == 0);
    return seg[0];
}

} // namespace

TEST_CASE("cksum: raw sum over every three-segment cut equals the flat sum", "[net][cksum]") {
    TestPool pool;
    // 0xff bytes make every partial sum carry, so a dropped carry always shows.
    std::vector<std::uint8_t> bytes = pattern(61, 0xf0);
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        bytes[i] = 0xff;
    }
    const std::uint32_t n = static_cast<std::uint32_t>(bytes.size());
    int odd_cases = 0;
    for (std::uint32_t a = 0; a <= n; ++a) {
        for (std::uint32_t b = a; b <= n; b += 5) {
            rte_mbuf* m = chain_of(pool, bytes, a, b);
            MbufGuard g{m};
            for (std::uint32_t off : {0u, 1u, 4u}) {
                const std::uint32_t len = n - off - 1;
                std::uint16_t got = 0;
                REQUIRE(raw_cksum_mbuf(m, off, len, &got) == 0);
                const std::uint16_t want = rte_raw_cksum(bytes.data() + off, len);
                if (got != want) {
                    FAIL("cut at " << a << "," << b << " off " << off << ": " << got
                                   << " != " << want);
                }
                odd_cases += dpdk_chain_sum_exact(m, off, len) ? 0 : 1;
            }
        }
    }
    CHECK(odd_cases > 0); // the workaround path was exercised
}

TEST_CASE("cksum: when DPDK's own helper is used", "[net][cksum]") {
    TestPool pool;
    const auto bytes = pattern(40);
    rte_mbuf* even = chain_of(pool, bytes, 10, 30);
    MbufGuard ge{even};
    CHECK(dpdk_chain_sum_exact(even, 0, 40));
    CHECK_FALSE(dpdk_chain_sum_exact(even, 1, 39)); // pieces of 9, 20, 10
    CHECK(dpdk_chain_sum_exact(even, 12, 10));      // within one segment
    rte_mbuf* odd = chain_of(pool, bytes, 11, 30);
    MbufGuard go{odd};
    CHECK_FALSE(dpdk_chain_sum_exact(odd, 0, 40));
    CHECK(dpdk_chain_sum_exact(odd, 0, 11));       // ends at the odd boundary: one piece
    CHECK(dpdk_chain_sum_exact(odd, 1, 29));       // pieces of 10, 19
    CHECK_FALSE(dpdk_chain_sum_exact(odd, 1, 39)); // 10, 19, 10: the last starts at 29
    std::uint16_t s = 0;
    CHECK(raw_cksum_mbuf(odd, 1, 40, &s) == -1); // beyond the packet
}
