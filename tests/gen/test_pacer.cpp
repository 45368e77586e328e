// RatePacer: exact counts over time, rate changes, debt cap and missed accounting, unpaced mode.
#include "gen/pacer.hpp"

#include <catch2/catch.hpp>

using namespace tcpterm;
using tcpterm::gen::RatePacer;

TEST_CASE("pacer: due follows rate x elapsed exactly, without drift", "[gen]") {
    RatePacer p;
    p.start(sec(100), 1000, 1'000'000);
    CHECK(p.due(sec(100)) == 0);
    CHECK(p.due(sec(100) + us(999)) == 0);
    CHECK(p.due(sec(100) + ms(1)) == 1);
    p.take(1);
    CHECK(p.due(sec(100) + ms(1)) == 0);
    CHECK(p.due(sec(100) + ms(10)) == 9);
    p.take(9);
    // Taking in many small steps never drifts from rate x time.
    std::uint64_t taken = 10;
    for (Nanos t = sec(100) + ms(10); t <= sec(110); t += us(333)) {
        const std::uint64_t n = p.due(t);
        p.take(n);
        taken += n;
    }
    CHECK(taken == 10'000);
    CHECK(p.missed() == 0);
}

TEST_CASE("pacer: rates that do not divide a second", "[gen]") {
    RatePacer p;
    p.start(0, 3, 100);
    CHECK(p.due(ms(333)) == 0);
    CHECK(p.due(ms(334)) == 1);
    CHECK(p.due(sec(1)) == 3);
    RatePacer q;
    q.start(0, 1'000'000'000, 1ull << 50); // the largest rate: no overflow over an hour
    CHECK(q.due(sec(3600)) == 3'600'000'000'000ull);
}

TEST_CASE("pacer: debt beyond max_debt is dropped and counted as missed", "[gen]") {
    RatePacer p;
    p.start(0, 10'000, 50);
    CHECK(p.due(ms(1)) == 10);
    CHECK(p.due(ms(100)) == 50); // 1000 due, 50 kept
    CHECK(p.missed() == 950);
    p.take(50);
    CHECK(p.due(ms(100)) == 0);
    CHECK(p.due(ms(101)) == 10); // back on schedule, no burst
}

TEST_CASE("pacer: a rate change keeps what was owed and paces from then on", "[gen]") {
    RatePacer p;
    p.start(0, 1000, 1000);
    CHECK(p.due(ms(10)) == 10);
    p.take(4);
    p.set_rate(ms(10), 100'000); // 6 still owed
    CHECK(p.rate() == 100'000);
    CHECK(p.due(ms(10)) == 6);
    CHECK(p.due(ms(11)) == 106);
    p.take(106);
    CHECK(p.due(ms(11)) == 0);
}

TEST_CASE("pacer: rate 0 is unpaced (the caller's cap decides)", "[gen]") {
    RatePacer p;
    p.start(0, 0, 128);
    CHECK(p.due(0) == 128);
    p.take(128);
    CHECK(p.due(1) == 128);
    CHECK(p.missed() == 0);
}

TEST_CASE("pacer: time going backwards owes nothing", "[gen]") {
    RatePacer p;
    p.start(sec(5), 1000, 100);
    CHECK(p.due(sec(4)) == 0);
}
