// TCP option parsing edge cases and the exact Linux option layouts (compared with byte arrays
// written out by hand from Linux's tcp_options_write()).
#include "net/tcp_options.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

using namespace tcpterm::net;

namespace {

NetDrop parse(const std::vector<std::uint8_t>& b, bool syn, TcpOptions& o) {
    return parse_tcp_options(b.data(), b.size(), syn, o);
}

std::vector<std::uint8_t> syn_bytes(const TcpOptions& o) {
    std::uint8_t buf[kMaxOptionBytes + 8];
    const std::size_t n = write_syn_options(buf, o);
    REQUIRE(n <= kMaxOptionBytes);
    return {buf, buf + n};
}

std::vector<std::uint8_t> bytes(const TcpOptions& o) {
    std::uint8_t buf[kMaxOptionBytes + 8];
    const std::size_t n = write_options(buf, o);
    REQUIRE(n <= kMaxOptionBytes);
    return {buf, buf + n};
}

TcpOptions full_syn() {
    TcpOptions o;
    o.has_mss = true;
    o.mss = 1460;
    o.sack_permitted = true;
    o.has_ts = true;
    o.ts_val = 0x01020304;
    o.ts_ecr = 0x05060708;
    o.has_wscale = true;
    o.wscale = 7;
    return o;
}

} // namespace

TEST_CASE("tcp options: Linux SYN layout with timestamps", "[net][options]") {
    const std::vector<std::uint8_t> linux_bytes = {
        2, 4, 0x05, 0xb4,             // mss 1460
        4, 2, 8,    10,               // sackOK folded into the timestamp's padding
        1, 2, 3,    4,    5, 6, 7, 8, // TS val, ecr
        1, 3, 3,    7,                // nop, wscale 7
    };
    CHECK(syn_bytes(full_syn()) == linux_bytes);

    TcpOptions o = full_syn();
    o.sack_permitted = false;
    const std::vector<std::uint8_t> no_sack = {2, 4, 0x05, 0xb4, 1, 1, 8, 10, 1, 2,
                                               3, 4, 5,    6,    7, 8, 1, 3,  3, 7};
    CHECK(syn_bytes(o) == no_sack);
}

TEST_CASE("tcp options: Linux SYN layout without timestamps", "[net][options]") {
    TcpOptions o = full_syn();
    o.has_ts = false;
    const std::vector<std::uint8_t> linux_bytes = {2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7};
    CHECK(syn_bytes(o) == linux_bytes);

    SECTION("options the peer did not offer are left out") {
        o.has_wscale = false;
        CHECK(syn_bytes(o) == std::vector<std::uint8_t>{2, 4, 0x05, 0xb4, 1, 1, 4, 2});
        o.sack_permitted = false;
        CHECK(syn_bytes(o) == std::vector<std::uint8_t>{2, 4, 0x05, 0xb4});
        o.has_mss = false;
        CHECK(syn_bytes(o).empty());
    }
}

TEST_CASE("tcp options: non-SYN layout, timestamps then SACK blocks", "[net][options]") {
    TcpOptions o;
    o.has_ts = true;
    o.ts_val = 0xdeadbeef;
    o.ts_ecr = 0x00000001;
    CHECK(bytes(o) == std::vector<std::uint8_t>{1, 1, 8, 10, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1});

    o.sack_count = 4;
    for (std::uint32_t i = 0; i < 4; ++i) {
        o.sack[i] = {0x1000 * (i + 1), 0x1000 * (i + 1) + 0x100};
    }
    SECTION("with timestamps only 3 blocks fit") {
        const std::vector<std::uint8_t> expect = {
            1, 1, 8,    10, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1, // TS
            1, 1, 5,    26,                                     // SACK, 3 blocks
            0, 0, 0x10, 0,  0,    0,    0x11, 0,                //
            0, 0, 0x20, 0,  0,    0,    0x21, 0,                //
            0, 0, 0x30, 0,  0,    0,    0x31, 0,                //
        };
        CHECK(bytes(o) == expect);
    }
    SECTION("without timestamps 4 blocks fit") {
        o.has_ts = false;
        const std::vector<std::uint8_t> out = bytes(o);
        REQUIRE(out.size() == 36);
        CHECK(std::vector<std::uint8_t>(out.begin(), out.begin() + 4) ==
              std::vector<std::uint8_t>{1, 1, 5, 34});
        TcpOptions back;
        REQUIRE(parse_tcp_options(out.data(), out.size(), false, back) == NetDrop::none);
        REQUIRE(back.sack_count == 4);
        for (int i = 0; i < 4; ++i) {
            CHECK(back.sack[i].left == o.sack[i].left);
            CHECK(back.sack[i].right == o.sack[i].right);
        }
    }
}

TEST_CASE("tcp options: written SYN options parse back", "[net][options]") {
    const TcpOptions in = full_syn();
    const std::vector<std::uint8_t> b = syn_bytes(in);
    TcpOptions o;
    REQUIRE(parse(b, true, o) == NetDrop::none);
    CHECK(o.has_mss);
    CHECK(o.mss == 1460);
    CHECK(o.sack_permitted);
    CHECK(o.has_ts);
    CHECK(o.ts_val == in.ts_val);
    CHECK(o.ts_ecr == in.ts_ecr);
    CHECK(o.has_wscale);
    CHECK(o.wscale == 7);
    CHECK(o.sack_count == 0);
}

TEST_CASE("tcp options: MSS, wscale and sackOK are ignored on non-SYN segments", "[net][options]") {
    const std::vector<std::uint8_t> b = syn_bytes(full_syn());
    TcpOptions o;
    REQUIRE(parse(b, false, o) == NetDrop::none);
    CHECK_FALSE(o.has_mss);
    CHECK_FALSE(o.has_wscale);
    CHECK_FALSE(o.sack_permitted);
    CHECK(o.mss == 0);
    CHECK(o.wscale == 0);
    CHECK(o.has_ts); // timestamps are meaningful on every segment
    CHECK(o.ts_val == 0x01020304);
}

TEST_CASE("tcp options: malformed lengths are refused", "[net][options]") {
    TcpOptions o;
    SECTION("zero-length option") {
        CHECK(parse({30, 0, 1, 1}, true, o) == NetDrop::bad_tcp_option);
    }
    SECTION("length 1") {
        CHECK(parse({30, 1, 1, 1}, true, o) == NetDrop::bad_tcp_option);
    }
    SECTION("length past the end") {
        CHECK(parse({1, 2, 4, 5}, true, o) == NetDrop::bad_tcp_option);
        CHECK(parse({8, 10, 0, 0, 0, 1, 0, 0}, false, o) == NetDrop::bad_tcp_option);
        CHECK(parse({30, 9, 0, 0, 0, 0, 0, 0}, false, o) == NetDrop::bad_tcp_option);
    }
    SECTION("kind byte with no length byte") {
        CHECK(parse({1, 1, 1, 2}, true, o) == NetDrop::bad_tcp_option);
    }
    SECTION("known option with the wrong length") {
        CHECK(parse({2, 3, 5, 1}, true, o) == NetDrop::bad_tcp_option);              // MSS
        CHECK(parse({3, 4, 7, 0}, true, o) == NetDrop::bad_tcp_option);              // wscale
        CHECK(parse({4, 3, 0, 1}, true, o) == NetDrop::bad_tcp_option);              // sackOK
        CHECK(parse({8, 8, 0, 0, 0, 1, 0, 0}, false, o) == NetDrop::bad_tcp_option); // TS
        CHECK(parse({2, 3, 5, 1}, false, o) == NetDrop::bad_tcp_option); // even when not a SYN
    }
    SECTION("SACK lengths other than 2 + 8n") {
        std::vector<std::uint8_t> b(20, 0);
        b[0] = 5;
        for (std::uint8_t len : {2, 9, 11, 17}) {
            b[1] = len;
            CHECK(parse(b, false, o) == NetDrop::bad_tcp_option);
        }
        b[1] = 18;
        CHECK(parse(b, false, o) == NetDrop::none);
        CHECK(o.sack_count == 2);
    }
}

TEST_CASE("tcp options: unknown options are skipped, EOL ends the list", "[net][options]") {
    TcpOptions o;
    SECTION("unknown option skipped by its length") {
        REQUIRE(parse({254, 6, 0xff, 0xff, 2, 4, 2, 4, 0x05, 0xb4, 1, 1}, true, o) ==
                NetDrop::none);
        CHECK(o.has_mss);
        CHECK(o.mss == 1460);
    }
    SECTION("EOL ends parsing; what follows is padding") {
        REQUIRE(parse({2, 4, 0x05, 0xb4, 0, 30, 0, 0xff}, true, o) == NetDrop::none);
        CHECK(o.has_mss);
        REQUIRE(parse({0, 2, 4, 0x05, 0xb4, 0, 0, 0}, true, o) == NetDrop::none);
        CHECK_FALSE(o.has_mss);
    }
    SECTION("NOPs only, and an empty list") {
        REQUIRE(parse({1, 1, 1, 1}, true, o) == NetDrop::none);
        CHECK_FALSE(o.has_mss);
        CHECK(parse_tcp_options(nullptr, 0, true, o) == NetDrop::none);
    }
    SECTION("a previous result is cleared") {
        REQUIRE(parse({2, 4, 0x05, 0xb4}, true, o) == NetDrop::none);
        REQUIRE(o.has_mss);
        REQUIRE(parse({1, 1, 1, 1}, true, o) == NetDrop::none);
        CHECK_FALSE(o.has_mss);
    }
    SECTION("wscale above 14 is recorded as received") {
        REQUIRE(parse({1, 3, 3, 15}, true, o) == NetDrop::none);
        CHECK(o.has_wscale);
        CHECK(o.wscale == 15);
    }
}

TEST_CASE("tcp options: SACK blocks", "[net][options]") {
    TcpOptions o;
    SECTION("one block") {
        REQUIRE(parse({1, 1, 5, 10, 0, 0, 0, 100, 0, 0, 1, 0}, false, o) == NetDrop::none);
        REQUIRE(o.sack_count == 1);
        CHECK(o.sack[0].left == 100);
        CHECK(o.sack[0].right == 256);
    }
    SECTION("three blocks after timestamps") {
        std::vector<std::uint8_t> b = {1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 8, 1, 1, 5, 26};
        for (std::uint8_t i = 1; i <= 6; ++i) {
            b.insert(b.end(), {0xff, 0xff, 0xff, i});
        }
        REQUIRE(parse(b, false, o) == NetDrop::none);
        CHECK(o.has_ts);
        CHECK(o.ts_val == 9);
        CHECK(o.ts_ecr == 8);
        REQUIRE(o.sack_count == 3);
        CHECK(o.sack[0].left == 0xffffff01u);
        CHECK(o.sack[0].right == 0xffffff02u);
        CHECK(o.sack[2].left == 0xffffff05u);
        CHECK(o.sack[2].right == 0xffffff06u);
    }
}
