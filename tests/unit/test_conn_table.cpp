#include "base/conn_table.hpp"
#include "base/hash.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <memory>
#include <random>
#include <vector>

using namespace tcpterm;

namespace {

FourTuple tuple(std::uint32_t i) {
    FourTuple t;
    t.laddr = htonl(0xC6120002u);
    t.raddr = htonl(0xC6120100u + (i >> 16));
    t.lport = htons(80);
    t.rport = htons(static_cast<std::uint16_t>(i & 0xFFFF));
    return t;
}

struct Entry : ConnEntry {
    int payload = 0;
};

void init(Entry& e, const FourTuple& k, std::uint32_t h) {
    e.key = k;
    e.set_hash(h);
}

} // namespace

TEST_CASE("table: insert, find, erase", "[table]") {
    ConnTable t(1000);
    CHECK(t.bucket_count() == 1024);
    auto es = std::make_unique<Entry[]>(1000);
    for (std::uint32_t i = 0; i < 1000; ++i) {
        init(es[i], tuple(i), hash_crc(tuple(i)));
        es[i].payload = static_cast<int>(i);
        REQUIRE(t.insert(es[i]) == ConnTable::InsertResult::kOk);
    }
    CHECK(t.size() == 1000);
    for (std::uint32_t i = 0; i < 1000; ++i) {
        auto* e = static_cast<Entry*>(t.find(tuple(i), hash_crc(tuple(i))));
        REQUIRE(e != nullptr);
        CHECK(e->payload == static_cast<int>(i));
    }
    CHECK(t.find(tuple(5000), hash_crc(tuple(5000))) == nullptr);
    t.erase(es[7]);
    CHECK_FALSE(es[7].linked());
    CHECK(t.find(tuple(7), hash_crc(tuple(7))) == nullptr);
    CHECK(t.size() == 999);
    REQUIRE(t.insert(es[7]) == ConnTable::InsertResult::kOk);
    for (std::uint32_t i = 0; i < 1000; ++i) {
        t.erase(es[i]);
    }
    CHECK(t.size() == 0);
}

TEST_CASE("table: colliding keys share a bucket and stay distinct", "[table]") {
    ConnTable t(64);
    Entry a, b, c;
    // Same hash for all three: everything in one bucket, told apart by the key.
    init(a, tuple(1), 42);
    init(b, tuple(2), 42);
    init(c, tuple(3), 42 + 64); // same bucket, different hash
    REQUIRE(t.insert(a) == ConnTable::InsertResult::kOk);
    REQUIRE(t.insert(b) == ConnTable::InsertResult::kOk);
    REQUIRE(t.insert(c) == ConnTable::InsertResult::kOk);
    CHECK(t.find(tuple(1), 42) == &a);
    CHECK(t.find(tuple(2), 42) == &b);
    CHECK(t.find(tuple(3), 42 + 64) == &c);
    CHECK(t.find(tuple(4), 42) == nullptr);
    t.erase(b);
    CHECK(t.find(tuple(1), 42) == &a);
    CHECK(t.find(tuple(2), 42) == nullptr);
    CHECK(t.find(tuple(3), 42 + 64) == &c);
    t.erase(a);
    t.erase(c);
}

TEST_CASE("table: duplicate key refused, full table refused and counted", "[table]") {
    ConnTable t(4);
    Entry e[6];
    for (std::uint32_t i = 0; i < 4; ++i) {
        init(e[i], tuple(i), hash_crc(tuple(i)));
        REQUIRE(t.insert(e[i]) == ConnTable::InsertResult::kOk);
    }
    init(e[4], tuple(9), hash_crc(tuple(9)));
    CHECK(t.insert(e[4]) == ConnTable::InsertResult::kFull);
    CHECK(t.full_count() == 1);
    CHECK_FALSE(e[4].linked());
    t.erase(e[0]);
    init(e[5], tuple(1), hash_crc(tuple(1)));
    CHECK(t.insert(e[5]) == ConnTable::InsertResult::kExists);
    CHECK(t.insert(e[4]) == ConnTable::InsertResult::kOk);
    CHECK(t.size() == 4);
    for (int i = 1; i < 5; ++i) {
        t.erase(e[i]);
    }
}

TEST_CASE("table: the tag bit does not disturb the hash", "[table]") {
    ConnTable t(16);
    Entry e;
    init(e, tuple(1), 0x12345678u);
    e.set_tag(true);
    CHECK(e.tagged());
    CHECK(e.hash() == 0x12345678u);
    REQUIRE(t.insert(e) == ConnTable::InsertResult::kOk);
    CHECK(t.find(tuple(1), 0x12345678u) == &e);
    CHECK(t.find(tuple(1), 0x92345678u) == &e); // callers may pass a hash with bit 31 set
    e.set_tag(false);
    CHECK_FALSE(e.tagged());
    t.erase(e);
}

TEST_CASE("table: burst lookup equals single lookups", "[table]") {
    constexpr std::uint32_t kN = 20'000;
    ConnTable t(kN);
    auto es = std::make_unique<Entry[]>(kN);
    for (std::uint32_t i = 0; i < kN; i += 2) { // insert only even keys
        init(es[i], tuple(i), hash_crc(tuple(i)));
        REQUIRE(t.insert(es[i]) == ConnTable::InsertResult::kOk);
    }
    std::mt19937 rng(7);
    for (int round = 0; round < 200; ++round) {
        FourTuple keys[32];
        std::uint32_t hashes[32];
        ConnEntry* out[32];
        const std::size_t n = 1 + rng() % 32;
        for (std::size_t j = 0; j < n; ++j) {
            keys[j] = tuple(rng() % kN);
            hashes[j] = hash_crc(keys[j]);
        }
        t.find_burst(keys, hashes, n, out);
        for (std::size_t j = 0; j < n; ++j) {
            REQUIRE(out[j] == t.find(keys[j], hashes[j]));
        }
    }
    for (std::uint32_t i = 0; i < kN; i += 2) {
        t.erase(es[i]);
    }
}

TEST_CASE("table: bad capacity is an error", "[table]") {
    CHECK_THROWS_AS(ConnTable(0), std::invalid_argument);
}

TEST_CASE("hash: software Toeplitz matches DPDK's host-order rte_softrss", "[hash]") {
    // The default Microsoft RSS key, as NICs ship it.
    static const std::uint8_t key[40] = {
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
        0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
        0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};
    std::uint8_t be_key[40];
    rte_convert_rss_key(reinterpret_cast<const std::uint32_t*>(key),
                        reinterpret_cast<std::uint32_t*>(be_key), sizeof(key));
    // Microsoft's published verification vector: 66.9.149.187:2794 -> 161.142.100.80:1766
    // has the IPv4/TCP hash 0x51ccc178.
    FourTuple t;
    t.raddr = htonl(0x420995bbu); // source 66.9.149.187
    t.laddr = htonl(0xa18e6450u); // destination 161.142.100.80
    t.rport = htons(2794);
    t.lport = htons(1766);
    CHECK(hash_toeplitz_rx(t, be_key) == 0x51ccc178u);
    rte_ipv4_tuple host{};
    host.src_addr = 0x420995bbu;
    host.dst_addr = 0xa18e6450u;
    host.sport = 2794;
    host.dport = 1766;
    CHECK(rte_softrss(reinterpret_cast<std::uint32_t*>(&host), RTE_THASH_V4_L4_LEN, key) ==
          0x51ccc178u);
}
