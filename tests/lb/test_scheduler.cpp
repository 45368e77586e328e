// Scheduling: weighted round robin (exact shares, interleaved), weighted least connections,
// Maglev consistent hashing (even spread, weights, few clients moved on a member change).
#include "lb/counters.hpp"
#include "lb/scheduler.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

using namespace tcpterm::lb;

namespace {
std::vector<Member> members(std::initializer_list<std::uint32_t> weights) {
    std::vector<Member> v;
    std::uint32_t ip = 0xC6120100u;
    for (std::uint32_t w : weights) {
        Member m;
        m.addr = ip++;
        m.port = 80;
        m.weight = w;
        v.push_back(m);
    }
    return v;
}
} // namespace

TEST_CASE("round robin: exact weighted shares, smoothly interleaved", "[lb]") {
    Scheduler s(Algorithm::round_robin, members({5, 1, 1}));
    std::vector<int> seq;
    for (int i = 0; i < 7; ++i) {
        seq.push_back(s.pick(0));
    }
    // nginx's smooth WRR for 5,1,1: a a b a c a a
    CHECK(seq == std::vector<int>{0, 0, 1, 0, 2, 0, 0});
    Scheduler t(Algorithm::round_robin, members({1, 2, 3}));
    std::map<int, int> count;
    for (int i = 0; i < 600; ++i) {
        ++count[t.pick(0)];
    }
    CHECK(count[0] == 100);
    CHECK(count[1] == 200);
    CHECK(count[2] == 300);
}

TEST_CASE("round robin: down and draining members get nothing; none up gives -1", "[lb]") {
    Scheduler s(Algorithm::round_robin, members({1, 1, 1}));
    s.set_state(1, MemberState::down);
    s.set_state(2, MemberState::drain);
    for (int i = 0; i < 10; ++i) {
        CHECK(s.pick(0) == 0);
    }
    s.set_state(0, MemberState::down);
    CHECK(s.pick(0) == -1);
}

TEST_CASE("least connections: active / weight, ties to the first", "[lb]") {
    Scheduler s(Algorithm::least_connections, members({1, 1, 2}));
    s.members()[0].active = 10;
    s.members()[1].active = 5;
    s.members()[2].active = 8; // 8 / 2 = 4 < 5
    CHECK(s.pick(0) == 2);
    s.members()[2].active = 10; // 5 < 10 / 2 = 5? tie: the earlier wins
    CHECK(s.pick(0) == 1);
}

TEST_CASE("maglev: even spread, weights honoured", "[lb]") {
    Scheduler s(Algorithm::maglev, members({1, 1, 1}));
    std::map<int, int> count;
    for (std::uint32_t c = 0; c < 90'000; ++c) {
        ++count[s.pick(0x0A000000u + c)];
    }
    for (int i = 0; i < 3; ++i) {
        INFO("member " << i);
        CHECK(count[i] > 27'000);
        CHECK(count[i] < 33'000);
    }
    Scheduler w(Algorithm::maglev, members({2, 1}));
    std::map<int, int> wc;
    for (std::uint32_t c = 0; c < 90'000; ++c) {
        ++wc[w.pick(0x0A000000u + c)];
    }
    CHECK(wc[0] > 55'000);
    CHECK(wc[0] < 65'000);
}

TEST_CASE("maglev: a member going down moves its clients and few others", "[lb]") {
    Scheduler s(Algorithm::maglev, members({1, 1, 1, 1, 1}));
    std::vector<int> before;
    for (std::uint32_t c = 0; c < 50'000; ++c) {
        before.push_back(s.pick(0x0A000000u + c));
    }
    s.set_state(3, MemberState::down);
    std::size_t moved_others = 0, stayed_total = 0;
    for (std::uint32_t c = 0; c < 50'000; ++c) {
        const int now = s.pick(0x0A000000u + c);
        REQUIRE(now != 3);
        if (before[c] != 3) {
            ++stayed_total;
            moved_others += now != before[c];
        }
    }
    // Clients of the remaining members mostly stay where they were (Maglev: minimal disruption).
    CHECK(static_cast<double>(moved_others) / static_cast<double>(stayed_total) < 0.05);
    s.set_state(3, MemberState::up);
    std::size_t back = 0;
    for (std::uint32_t c = 0; c < 50'000; ++c) {
        back += s.pick(0x0A000000u + c) == before[c];
    }
    CHECK(back == 50'000); // the same table again: every client back where it was
}

TEST_CASE("pick_other: a different member for a retry", "[lb]") {
    for (Algorithm a : {Algorithm::round_robin, Algorithm::least_connections, Algorithm::maglev}) {
        Scheduler s(a, members({1, 1, 1}));
        const int first = s.pick(0x0A000001u);
        REQUIRE(first >= 0);
        const int other = s.pick_other(0x0A000001u, first);
        CHECK(other >= 0);
        CHECK(other != first);
        Scheduler one(a, members({1}));
        CHECK(one.pick_other(0, 0) == -1);
    }
}

TEST_CASE("docs/load-balancer.md names every load-balancer counter", "[lb][docs]") {
    const char* root = std::getenv("TCPTERM_SOURCE_ROOT");
    REQUIRE(root != nullptr);
    std::ifstream f(std::string(root) + "/docs/load-balancer.md");
    REQUIRE(f.good());
    const std::string doc((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    for (std::string_view n : tcpterm::lb::kVsCounterNames) {
        CHECK(doc.find("`" + std::string(n) + "`") != std::string::npos);
    }
    for (std::string_view n : tcpterm::lb::kMemberCounterNames) {
        CHECK(doc.find("`" + std::string(n) + "`") != std::string::npos);
    }
}
