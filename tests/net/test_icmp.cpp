// ICMP echo: a request turned into its reply in place, with both checksums verified, over one
// segment and over a chain; and the bad_icmp / icmp_not_echo drops.
#include "helpers.hpp"

#include "net/icmp.hpp"
#include "net/packet.hpp"

#include <catch2/catch.hpp>

#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstring>
#include <vector>

using namespace tcpterm::net;
using namespace nettest;

namespace {

const std::uint32_t kPeer = ip4(192, 0, 2, 9);
const std::uint32_t kUs = ip4(192, 168, 0, 1);

/// An IPv4 ICMP message with a correct checksum (type, code, id 0x1234, seq 7, payload).
rte_mbuf* make_icmp(const TestPool& pool, std::uint8_t type, std::uint8_t code,
                    const std::vector<std::uint8_t>& payload) {
    rte_mbuf* m = pool.alloc();
    const std::size_t len = sizeof(rte_icmp_hdr) + payload.size();
    auto* p = rte_pktmbuf_mtod(m, std::uint8_t*);
    REQUIRE(rte_pktmbuf_append(m, static_cast<std::uint16_t>(len + sizeof(rte_ipv4_hdr))) !=
            nullptr);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p);
    auto* icmp = reinterpret_cast<rte_icmp_hdr*>(ip + 1);
    icmp->icmp_type = type;
    icmp->icmp_code = code;
    icmp->icmp_cksum = 0;
    icmp->icmp_ident = rte_cpu_to_be_16(0x1234);
    icmp->icmp_seq_nb = rte_cpu_to_be_16(7);
    if (!payload.empty()) {
        std::memcpy(icmp + 1, payload.data(), payload.size());
    }
    icmp->icmp_cksum = static_cast<std::uint16_t>(~rte_raw_cksum(icmp, len));

    std::memset(ip, 0, sizeof(*ip));
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->total_length = rte_cpu_to_be_16(static_cast<std::uint16_t>(len + sizeof(rte_ipv4_hdr)));
    ip->packet_id = rte_cpu_to_be_16(99);
    ip->time_to_live = 55;
    ip->next_proto_id = IPPROTO_ICMP;
    ip->src_addr = kPeer;
    ip->dst_addr = kUs;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    return m;
}

void check_reply(rte_mbuf* m, const std::vector<std::uint8_t>& payload) {
    Ipv4Info ip;
    REQUIRE(parse_ipv4(m, ip) == NetDrop::none); // IPv4 checksum verified in software
    CHECK(ip.src == kUs);
    CHECK(ip.dst == kPeer);
    CHECK(ip.ttl == 64);
    CHECK(ip.proto == IPPROTO_ICMP);
    const std::uint32_t len = ip.total_len - ip.hdr_len;
    const std::vector<std::uint8_t> bytes = flat_bytes(m);
    const std::vector<std::uint8_t> icmp(bytes.begin() + ip.hdr_len, bytes.end());
    REQUIRE(icmp.size() == len);
    CHECK(rte_raw_cksum(icmp.data(), icmp.size()) == 0xffff); // the ICMP checksum is right
    CHECK(icmp[0] == RTE_IP_ICMP_ECHO_REPLY);
    CHECK(icmp[1] == 0);
    CHECK(icmp[4] == 0x12); // identifier and sequence echoed
    CHECK(icmp[5] == 0x34);
    CHECK(icmp[7] == 7);
    CHECK(std::vector<std::uint8_t>(icmp.begin() + 8, icmp.end()) == payload);
}

} // namespace

TEST_CASE("icmp: echo request becomes the reply in place", "[net][icmp]") {
    TestPool pool;
    const auto payload = pattern(56);
    rte_mbuf* m = make_icmp(pool, RTE_IP_ICMP_ECHO_REQUEST, 0, payload);
    MbufGuard g{m};
    Ipv4Info ip;
    REQUIRE(parse_ipv4(m, ip) == NetDrop::none);
    REQUIRE(ip.proto == IPPROTO_ICMP);
    TcpSegment s;
    CHECK(parse_tcp(m, ip, s) == NetDrop::not_tcp);
    REQUIRE(icmp_echo_reply(m, ip) == NetDrop::none);
    check_reply(m, payload);
}

TEST_CASE("icmp: echo reply over a chain with an odd split", "[net][icmp]") {
    TestPool pool;
    const auto payload = pattern(99, 4);
    rte_mbuf* flat = make_icmp(pool, RTE_IP_ICMP_ECHO_REQUEST, 0, payload);
    MbufGuard gf{flat};
    rte_mbuf* m = split_copy(pool, flat, {20 + 8 + 33, 20 + 8 + 70});
    MbufGuard g{m};
    Ipv4Info ip;
    REQUIRE(parse_ipv4(m, ip) == NetDrop::none);
    REQUIRE(icmp_echo_reply(m, ip, 64) == NetDrop::none);
    CHECK(m->nb_segs == 3);
    check_reply(m, payload);
}

TEST_CASE("icmp: drops", "[net][icmp][drop]") {
    TestPool pool;
    Ipv4Info ip;
    SECTION("bad_icmp: one corrupted byte") {
        rte_mbuf* m = make_icmp(pool, RTE_IP_ICMP_ECHO_REQUEST, 0, pattern(20));
        MbufGuard g{m};
        rte_pktmbuf_mtod_offset(m, std::uint8_t*, 35)[0] ^= 0x20;
        REQUIRE(parse_ipv4(m, ip) == NetDrop::none);
        CHECK(icmp_echo_reply(m, ip) == NetDrop::bad_icmp);
        CHECK(rte_pktmbuf_mtod(m, rte_ipv4_hdr*)->src_addr == kPeer); // unchanged
    }
    SECTION("bad_icmp: truncated") {
        rte_mbuf* m = make_icmp(pool, RTE_IP_ICMP_ECHO_REQUEST, 0, {});
        MbufGuard g{m};
        auto* h = rte_pktmbuf_mtod(m, rte_ipv4_hdr*);
        h->total_length = rte_cpu_to_be_16(20 + 4);
        h->hdr_checksum = 0;
        h->hdr_checksum = rte_ipv4_cksum(h);
        REQUIRE(parse_ipv4(m, ip) == NetDrop::none);
        CHECK(icmp_echo_reply(m, ip) == NetDrop::bad_icmp);
    }
    SECTION("icmp_not_echo") {
        rte_mbuf* m = make_icmp(pool, 13, 0, pattern(12)); // timestamp request
        MbufGuard g{m};
        REQUIRE(parse_ipv4(m, ip) == NetDrop::none);
        CHECK(icmp_echo_reply(m, ip) == NetDrop::icmp_not_echo);
        rte_mbuf* r = make_icmp(pool, RTE_IP_ICMP_ECHO_REPLY, 0, pattern(12));
        MbufGuard gr{r};
        REQUIRE(parse_ipv4(r, ip) == NetDrop::none);
        CHECK(icmp_echo_reply(r, ip) == NetDrop::icmp_not_echo);
    }
}
