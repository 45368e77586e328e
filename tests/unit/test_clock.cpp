#include "base/clock.hpp"
#include "base/tsc_clock.hpp"

#include <catch2/catch.hpp>

using namespace tcpterm;

TEST_CASE("clock: manual clock moves only when told", "[clock]") {
    ManualClock c(ms(5));
    CHECK(c.now() == ms(5));
    c.advance(sec(60));
    CHECK(c.now() == ms(5) + sec(60));
    c.set(0);
    CHECK(c.now() == 0);
    const Clock& base = c;
    CHECK(base.now() == 0);
}

TEST_CASE("clock: TSC conversion is exact enough at common frequencies", "[clock]") {
    for (std::uint64_t hz :
         {1'000'000'000ull, 2'100'000'000ull, 2'994'375'000ull, 3'700'000'000ull}) {
        TscClock c(hz, 0);
        // One hour of cycles converts to one hour within 10 us (3 ppb: far below the TSC
        // calibration's own error).
        const std::uint64_t cycles = hz * 3600;
        const Nanos ns = c.cycles_to_ns(cycles);
        const Nanos want = sec(3600);
        const Nanos err = ns > want ? ns - want : want - ns;
        INFO("hz " << hz << " got " << ns);
        CHECK(err < us(10));
        CHECK(c.cycles_to_ns(hz) + us(1) >= sec(1));
        CHECK(c.cycles_to_ns(hz) <= sec(1));
    }
}

TEST_CASE("clock: TSC clock is monotonic", "[clock]") {
    TscClock c(2'000'000'000ull, TscClock::cycles());
    Nanos prev = c.now();
    for (int i = 0; i < 1000; ++i) {
        Nanos n = c.now();
        REQUIRE(n >= prev);
        prev = n;
    }
}
