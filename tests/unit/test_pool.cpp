#include "base/pool.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <vector>

using namespace tcpterm;

namespace {
struct Obj {
    static inline int live = 0;
    explicit Obj(int v) : value(v) { ++live; }
    ~Obj() { --live; }
    int value;
    char pad[100];
};
} // namespace

TEST_CASE("pool: exhaustion returns null and is counted; reuse after free", "[pool]") {
    ObjectPool<Obj> p(3);
    Obj* a = p.create(1);
    Obj* b = p.create(2);
    Obj* c = p.create(3);
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE(c);
    CHECK(Obj::live == 3);
    CHECK(p.in_use() == 3);
    CHECK(p.available() == 0);
    CHECK(p.create(4) == nullptr);
    CHECK(p.create(5) == nullptr);
    CHECK(p.exhausted_count() == 2);
    p.destroy(b);
    CHECK(Obj::live == 2);
    Obj* d = p.create(6);
    CHECK(d == b); // LIFO: the freed (cache-hot) slot is reused first
    CHECK(d->value == 6);
    CHECK(p.high_water() == 3);
    p.destroy(a);
    p.destroy(c);
    p.destroy(d);
    CHECK(p.in_use() == 0);
    CHECK(Obj::live == 0);
}

TEST_CASE("pool: every slot is distinct, aligned and owned", "[pool]") {
    ObjectPool<Obj> p(1000);
    std::vector<Obj*> v;
    std::set<Obj*> seen;
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 1000; ++i) {
            Obj* o = p.create(i);
            REQUIRE(o != nullptr);
            CHECK(p.owns(o));
            CHECK(reinterpret_cast<std::uintptr_t>(o) % alignof(Obj) == 0);
            v.push_back(o);
            seen.insert(o);
        }
        CHECK(p.create(0) == nullptr);
        for (Obj* o : v) {
            p.destroy(o);
        }
        v.clear();
    }
    CHECK(seen.size() == 1000);
    Obj outside(0);
    CHECK_FALSE(p.owns(&outside));
}

TEST_CASE("pool: zero capacity is an error", "[pool]") {
    CHECK_THROWS_AS(ObjectPool<Obj>(0), std::invalid_argument);
}
