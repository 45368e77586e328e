// Ethernet framing and ARP: strip/prepend, request -> reply in place, gratuitous ARP, and the
// bad_ether_type / bad_arp drops.
#include "helpers.hpp"

#include "net/arp.hpp"
#include "net/ether.hpp"

#include <catch2/catch.hpp>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

using namespace tcpterm::net;
using namespace nettest;

namespace {

const rte_ether_addr kMacA{{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a}};
const rte_ether_addr kMacB{{0x02, 0x00, 0x00, 0x00, 0x00, 0x0b}};
const rte_ether_addr kBcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
const rte_ether_addr kZero{};

bool same(const rte_ether_addr& a, const rte_ether_addr& b) {
    return rte_is_same_ether_addr(&a, &b);
}

} // namespace

TEST_CASE("ether: an IPv4 frame is stripped to its L3 packet and framed again", "[net][ether]") {
    TestPool pool;
    rte_mbuf* m = make_segment(pool, sample_fields(), pattern(5));
    MbufGuard g{m};
    const std::uint32_t l3_len = rte_pktmbuf_pkt_len(m);
    REQUIRE(prepend_ether(m, kMacA, kMacB, RTE_ETHER_TYPE_IPV4));
    CHECK(m->l2_len == sizeof(rte_ether_hdr));
    CHECK(rte_pktmbuf_pkt_len(m) == l3_len + 14);

    EtherInfo e;
    REQUIRE(parse_ether(m, e) == NetDrop::none);
    CHECK(e.ether_type == RTE_ETHER_TYPE_IPV4);
    CHECK(same(e.src, kMacA));
    CHECK(same(e.dst, kMacB));
    CHECK(rte_pktmbuf_pkt_len(m) == l3_len);
    TcpSegment s;
    CHECK(parse_ipv4_tcp(m, s) == NetDrop::none);
}

TEST_CASE("ether: drops", "[net][ether][drop]") {
    TestPool pool;
    rte_mbuf* m = pool.alloc();
    MbufGuard g{m};
    EtherInfo e;
    SECTION("too_short") {
        append(m, pattern(13));
        CHECK(parse_ether(m, e) == NetDrop::too_short);
    }
    SECTION("bad_ether_type: IPv6, and a VLAN tag") {
        append(m, pattern(46));
        REQUIRE(prepend_ether(m, kMacA, kMacB, RTE_ETHER_TYPE_IPV6));
        CHECK(parse_ether(m, e) == NetDrop::bad_ether_type);
        CHECK(rte_pktmbuf_pkt_len(m) == 60); // unchanged
        rte_pktmbuf_mtod(m, rte_ether_hdr*)->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN);
        CHECK(parse_ether(m, e) == NetDrop::bad_ether_type);
    }
    SECTION("not_contiguous") {
        append(m, pattern(10));
        rte_mbuf* t = pool.alloc();
        append(t, pattern(50));
        REQUIRE(rte_pktmbuf_chain(m, t) == 0);
        CHECK(parse_ether(m, e) == NetDrop::not_contiguous);
    }
    SECTION("prepend without headroom") {
        m->data_off = 13;
        CHECK_FALSE(prepend_ether(m, kMacA, kMacB, RTE_ETHER_TYPE_IPV4));
        CHECK(m->data_off == 13);
    }
}

TEST_CASE("arp: request, then the reply built in place", "[net][arp]") {
    TestPool pool;
    const std::uint32_t ip_a = ip4(10, 0, 0, 1);
    const std::uint32_t ip_b = ip4(10, 0, 0, 2);
    rte_mbuf* m = build_arp_request(pool.get(), kMacA, ip_a, ip_b);
    REQUIRE(m != nullptr);
    MbufGuard g{m};
    append(m, std::vector<std::uint8_t>(18, 0)); // Ethernet padding to 60 bytes

    EtherInfo e;
    REQUIRE(parse_ether(m, e) == NetDrop::none);
    CHECK(e.ether_type == RTE_ETHER_TYPE_ARP);
    CHECK(same(e.dst, kBcast));
    CHECK(same(e.src, kMacA));
    ArpInfo a;
    REQUIRE(parse_arp(m, a) == NetDrop::none);
    CHECK(rte_pktmbuf_pkt_len(m) == sizeof(rte_arp_hdr)); // padding trimmed
    CHECK(a.op == RTE_ARP_OP_REQUEST);
    CHECK(same(a.sha, kMacA));
    CHECK(a.sip == ip_a);
    CHECK(same(a.tha, kZero));
    CHECK(a.tip == ip_b);

    // B owns 10.0.0.2 and answers.
    REQUIRE(arp_make_reply(m, kMacB));
    CHECK(rte_pktmbuf_pkt_len(m) == 14 + sizeof(rte_arp_hdr));
    REQUIRE(parse_ether(m, e) == NetDrop::none);
    CHECK(e.ether_type == RTE_ETHER_TYPE_ARP);
    CHECK(same(e.dst, kMacA));
    CHECK(same(e.src, kMacB));
    ArpInfo r;
    REQUIRE(parse_arp(m, r) == NetDrop::none);
    CHECK(r.op == RTE_ARP_OP_REPLY);
    CHECK(same(r.sha, kMacB));
    CHECK(r.sip == ip_b);
    CHECK(same(r.tha, kMacA));
    CHECK(r.tip == ip_a);

    // A reply is not answered.
    CHECK_FALSE(arp_make_reply(m, kMacB));
}

TEST_CASE("arp: gratuitous ARP announces the address", "[net][arp]") {
    TestPool pool;
    const std::uint32_t ip = ip4(10, 0, 0, 7);
    rte_mbuf* m = build_gratuitous_arp(pool.get(), kMacA, ip);
    REQUIRE(m != nullptr);
    MbufGuard g{m};
    CHECK(rte_pktmbuf_pkt_len(m) == 42);
    EtherInfo e;
    REQUIRE(parse_ether(m, e) == NetDrop::none);
    CHECK(same(e.dst, kBcast));
    CHECK(same(e.src, kMacA));
    CHECK(e.ether_type == RTE_ETHER_TYPE_ARP);
    ArpInfo a;
    REQUIRE(parse_arp(m, a) == NetDrop::none);
    CHECK(a.op == RTE_ARP_OP_REQUEST);
    CHECK(same(a.sha, kMacA));
    CHECK(a.sip == ip);
    CHECK(a.tip == ip);
    CHECK(same(a.tha, kZero));
}

TEST_CASE("arp: bad_arp drops", "[net][arp][drop]") {
    TestPool pool;
    rte_mbuf* m = build_arp_request(pool.get(), kMacA, ip4(10, 0, 0, 1), ip4(10, 0, 0, 2));
    REQUIRE(m != nullptr);
    MbufGuard g{m};
    EtherInfo e;
    REQUIRE(parse_ether(m, e) == NetDrop::none);
    auto* h = rte_pktmbuf_mtod(m, rte_arp_hdr*);
    ArpInfo a;
    SECTION("truncated") {
        REQUIRE(rte_pktmbuf_trim(m, 1) == 0);
        CHECK(parse_arp(m, a) == NetDrop::bad_arp);
    }
    SECTION("hardware not Ethernet") {
        h->arp_hardware = rte_cpu_to_be_16(6);
        CHECK(parse_arp(m, a) == NetDrop::bad_arp);
    }
    SECTION("hardware address length") {
        h->arp_hlen = 8;
        CHECK(parse_arp(m, a) == NetDrop::bad_arp);
    }
    SECTION("protocol not IPv4") {
        h->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
        CHECK(parse_arp(m, a) == NetDrop::bad_arp);
    }
    SECTION("protocol address length") {
        h->arp_plen = 16;
        CHECK(parse_arp(m, a) == NetDrop::bad_arp);
    }
}
