// TimerWheel: exact firing tick at every level and across every cascade boundary, against a
// simple reference model; cancel, re-arm from a callback, the per-call cap, clock jumps.
#include "base/timer_wheel.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <vector>

using namespace tcpterm;

namespace {

constexpr Nanos kTick = ms(1);

struct Rec {
    Timer timer;
    std::uint64_t deadline_tick = 0; // expected firing tick
    std::uint64_t fired_at = ~0ull;  // tick of the advance() that fired it
    int fired_count = 0;
};

Rec* rec_of(Timer& t) {
    return reinterpret_cast<Rec*>(reinterpret_cast<char*>(&t) - offsetof(Rec, timer));
}

} // namespace

TEST_CASE("wheel: a timer fires exactly at its tick, never early", "[wheel]") {
    TimerWheel w(kTick, 0);
    Rec r;
    w.start(r.timer, ms(17));
    REQUIRE(w.size() == 1);
    for (std::uint64_t t = 0; t <= 30; ++t) {
        w.advance(ms(t) + us(999), [&](Timer& tm) { rec_of(tm)->fired_at = t; });
    }
    // Deadline 17 ms: advance(16.999 ms) must not fire it; advance(17.999 ms) must.
    CHECK(r.fired_at == 17);
    CHECK(w.size() == 0);
}

TEST_CASE("wheel: deadline inside a tick rounds up, never down", "[wheel]") {
    TimerWheel w(kTick, 0);
    Rec r;
    w.start(r.timer, ms(5) + 1); // 5 ms + 1 ns -> tick 6
    std::uint64_t fired_now = 0;
    for (Nanos now = 0; now <= ms(8); now += us(100)) {
        w.advance(now, [&](Timer&) { fired_now = now; });
        if (fired_now) {
            break;
        }
    }
    CHECK(fired_now == ms(6));
}

TEST_CASE("wheel: DPVS regression, 17 ms armed at every phase fires at 17 ms", "[wheel]") {
    // Arm at every offset around level-0 and level-1 boundaries; each must fire 17 ticks later.
    for (std::uint64_t start :
         {0ull, 200ull, 239ull, 240ull, 250ull, 255ull, 256ull, 65530ull, 65535ull, 16777210ull}) {
        TimerWheel w(kTick, 0);
        w.advance(ms(start), [](Timer&) {});
        Rec r;
        w.start(r.timer, ms(start + 17));
        for (std::uint64_t t = start; t <= start + 40; ++t) {
            w.advance(ms(t), [&](Timer& tm) { rec_of(tm)->fired_at = t; });
        }
        INFO("armed at tick " << start);
        CHECK(r.fired_at == start + 17);
    }
}

TEST_CASE("wheel: property test, 100k random deadlines vs reference model", "[wheel]") {
    std::mt19937_64 rng(0xC0FFEE);
    TimerWheel w(kTick, 0);
    constexpr std::size_t kN = 100'000;
    auto recs = std::make_unique<Rec[]>(kN);
    std::multimap<std::uint64_t, std::size_t> model; // deadline tick -> index

    // Deadlines spread over every level: up to 2^8, 2^16, 2^24, 2^32 and beyond (overflow).
    std::uniform_int_distribution<int> level_pick(0, 4);
    auto random_delay = [&]() -> std::uint64_t {
        switch (level_pick(rng)) {
        case 0:
            return rng() % 300;
        case 1:
            return rng() % 70'000;
        case 2:
            return rng() % 17'000'000;
        case 3:
            return rng() % 4'300'000'000ull;
        default:
            return 4'294'967'296ull + rng() % 9'000'000'000ull;
        }
    };

    std::uint64_t now_tick = 0;
    std::size_t armed = 0;
    std::vector<std::uint64_t> fire_order;
    std::size_t early = 0, late = 0;

    auto fire = [&](Timer& tm) {
        Rec* r = rec_of(tm);
        r->fired_at = now_tick;
        ++r->fired_count;
        fire_order.push_back(r->deadline_tick);
        if (now_tick < r->deadline_tick) {
            ++early;
        }
    };

    while (armed < kN || w.size() > 0) {
        // Arm a handful of new timers at the current time.
        for (int k = 0; k < 50 && armed < kN; ++k, ++armed) {
            Rec& r = recs[armed];
            r.deadline_tick = now_tick + 1 + random_delay(); // strictly in the future
            w.start(r.timer, ms(r.deadline_tick));
            model.emplace(r.deadline_tick, armed);
        }
        // Advance either to the next model deadline (exercises exactness) or by a random jump.
        std::uint64_t next = model.empty() ? now_tick + 1 : model.begin()->first;
        std::uint64_t jump = (rng() % 4 == 0) ? now_tick + (rng() % 100'000) : next;
        now_tick = std::max(now_tick + 1, std::min(jump, next));
        fire_order.clear();
        w.advance(ms(now_tick) + us(rng() % 1000), fire);
        // Everything with deadline <= now_tick must have fired now, nothing later.
        std::size_t expected = 0;
        while (!model.empty() && model.begin()->first <= now_tick) {
            Rec& r = recs[model.begin()->second];
            if (r.fired_at != now_tick) {
                ++late;
            }
            model.erase(model.begin());
            ++expected;
        }
        REQUIRE(fire_order.size() == expected);
        REQUIRE(std::is_sorted(fire_order.begin(), fire_order.end()));
    }
    CHECK(early == 0);
    CHECK(late == 0);
    for (std::size_t i = 0; i < kN; ++i) {
        REQUIRE(recs[i].fired_count == 1);
    }
}

TEST_CASE("wheel: every cascade boundary, level by level", "[wheel]") {
    // For each level boundary B (256, 65536, 2^24, 2^32) arm timers at B-1, B, B+1 from tick 0
    // and from just before B, and check the exact firing tick.
    for (std::uint64_t b : {std::uint64_t{256}, std::uint64_t{65536}, std::uint64_t{16777216},
                            std::uint64_t{4294967296}}) {
        for (std::uint64_t from : {std::uint64_t{0}, b - 2}) {
            TimerWheel w(kTick, 0);
            w.advance(ms(from), [](Timer&) {});
            Rec r[3];
            for (int i = 0; i < 3; ++i) {
                r[i].deadline_tick = b - 1 + static_cast<std::uint64_t>(i);
                w.start(r[i].timer, ms(r[i].deadline_tick));
            }
            std::uint64_t now = from;
            auto fire = [&](Timer& tm) { rec_of(tm)->fired_at = now; };
            // Jump to just before, then step tick by tick across the boundary.
            now = b - 2;
            w.advance(ms(now), fire);
            for (now = b - 1; now <= b + 2; ++now) {
                w.advance(ms(now), fire);
            }
            for (auto& x : r) {
                INFO("boundary " << b << " armed from " << from << " deadline " << x.deadline_tick);
                CHECK(x.fired_at == x.deadline_tick);
            }
        }
    }
}

TEST_CASE("wheel: cancel before and after a cascade", "[wheel]") {
    TimerWheel w(kTick, 0);
    Rec a, b, c;
    w.start(a.timer, ms(1000));   // level 1
    w.start(b.timer, ms(70'000)); // level 2
    w.start(c.timer, ms(70'001));
    w.cancel(a.timer); // before any cascade
    CHECK_FALSE(a.timer.armed());
    int fired = 0;
    auto fire = [&](Timer& t) {
        ++fired;
        ++rec_of(t)->fired_count;
    };
    w.advance(ms(65'536), fire); // level-2 slot of b/c cascaded to level 1
    CHECK(fired == 0);
    CHECK(w.cascaded() >= 2);
    w.cancel(b.timer); // after the cascade
    w.advance(ms(80'000), fire);
    CHECK(fired == 1);
    CHECK(c.fired_count == 1);
    CHECK(b.fired_count == 0);
    CHECK(a.fired_count == 0);
    CHECK(w.size() == 0);
    w.cancel(b.timer); // cancelling an idle timer is a no-op
}

TEST_CASE("wheel: re-arm from inside the callback", "[wheel]") {
    TimerWheel w(kTick, 0);
    Rec r;
    w.start(r.timer, ms(10));
    std::vector<std::uint64_t> fired;
    std::uint64_t now = 0;
    auto fire = [&](Timer& t) {
        fired.push_back(now);
        if (fired.size() < 5) {
            w.start(t, ms(now + 300)); // periodic, crossing level-0 wraps
        }
    };
    for (now = 0; now <= 2000; ++now) {
        w.advance(ms(now), fire);
    }
    REQUIRE(fired == std::vector<std::uint64_t>{10, 310, 610, 910, 1210});
    // A callback that arms a timer already due fires it on the current tick within the same call.
    Rec a, b;
    w.start(a.timer, ms(now + 1));
    auto fire2 = [&](Timer& t) {
        ++rec_of(t)->fired_count;
        if (&t == &a.timer) {
            w.start(b.timer, 0); // in the past
        }
    };
    w.advance(ms(now + 1), fire2);
    CHECK(a.fired_count == 1);
    CHECK(b.fired_count == 1);
}

TEST_CASE("wheel: expirations per call are capped, none lost, order kept", "[wheel]") {
    TimerWheel w(kTick, 0);
    constexpr int kN = 1000;
    auto recs = std::make_unique<Rec[]>(kN);
    for (int i = 0; i < kN; ++i) {
        recs[i].deadline_tick = 1 + static_cast<std::uint64_t>(i % 7);
        w.start(recs[i].timer, ms(recs[i].deadline_tick));
    }
    std::vector<std::uint64_t> order;
    auto fire = [&](Timer& t) { order.push_back(rec_of(t)->deadline_tick); };
    std::size_t calls = 0;
    while (w.size() > 0) {
        std::size_t n = w.advance(ms(100), fire, 64);
        CHECK(n <= 64);
        ++calls;
    }
    CHECK(calls == (kN + 63) / 64);
    CHECK(order.size() == kN);
    CHECK(std::is_sorted(order.begin(), order.end()));
}

TEST_CASE("wheel: clock jumps of hours and days", "[wheel]") {
    TimerWheel w(kTick, 0);
    Rec two_hours, time_wait, far;
    w.start(two_hours.timer, sec(7200));
    w.start(time_wait.timer, sec(60));
    w.start(far.timer, sec(60ull * 86400)); // 60 days: beyond the 49.7-day levels
    std::uint64_t now = 0;
    auto fire = [&](Timer& t) { rec_of(t)->fired_at = now; };
    now = 3'600'000; // one hour in one step
    w.advance(ms(now), fire);
    CHECK(time_wait.fired_at == now);
    CHECK(two_hours.fired_at == ~0ull);
    now = 7'199'999;
    w.advance(ms(now), fire);
    CHECK(two_hours.fired_at == ~0ull);
    now = 7'200'000;
    w.advance(ms(now), fire);
    CHECK(two_hours.fired_at == 7'200'000);
    now = 60ull * 86'400'000 - 1;
    w.advance(ms(now), fire);
    CHECK(far.fired_at == ~0ull);
    now += 1;
    w.advance(ms(now), fire);
    CHECK(far.fired_at == 60ull * 86'400'000);
}

TEST_CASE("wheel: fine tick (10 us) and a non-zero origin", "[wheel]") {
    const Nanos origin = sec(12345);
    TimerWheel w(us(10), origin);
    Rec r;
    w.start(r.timer, origin + us(40'005)); // tick 4001
    std::uint64_t fired_tick = 0;
    for (std::uint64_t t = 0; t < 5000 && !fired_tick; ++t) {
        w.advance(origin + us(10 * t), [&](Timer&) { fired_tick = t; });
    }
    CHECK(fired_tick == 4001);
}
