// Checks that need a live EAL: the calibrated TSC clock and an mbuf pool on the null port's socket.
#include "base/tsc_clock.hpp"

#include <catch2/catch.hpp>

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <chrono>
#include <thread>

using namespace tcpterm;

TEST_CASE("eal: TSC clock calibrated by DPDK tracks real time", "[eal][clock]") {
    TscClock c;
    CHECK(c.hz() > 100'000'000ull);
    const Nanos a = c.now();
    // The one place a test sleeps: checking the production clock against the OS clock.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const Nanos b = c.now();
    CHECK(b - a >= ms(45));
    CHECK(b - a < ms(2000));
}

TEST_CASE("eal: mbuf pool and the null port", "[eal]") {
    REQUIRE(rte_eth_dev_count_avail() == 1);
    rte_mempool* mp = rte_pktmbuf_pool_create("test_pool", 1023, 32, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                              static_cast<int>(rte_socket_id()));
    REQUIRE(mp != nullptr);
    rte_mbuf* m = rte_pktmbuf_alloc(mp);
    REQUIRE(m != nullptr);
    CHECK(rte_pktmbuf_tailroom(m) >= 1500);
    rte_pktmbuf_free(m);
    CHECK(rte_mempool_avail_count(mp) == 1023);
    rte_mempool_free(mp);
}
