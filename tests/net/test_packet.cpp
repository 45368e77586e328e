// IPv4/TCP building and parsing: round trips (every field and option), software and offload
// checksums, checksums over a multi-segment payload, and one crafted packet per drop reason.
#include "helpers.hpp"

#include "net/packet.hpp"

#include <catch2/catch.hpp>

#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include <cstring>
#include <vector>

using namespace tcpterm::net;
using namespace nettest;

namespace {

void check_round_trip(const TcpFields& f, const TcpSegment& s, std::size_t optlen,
                      std::size_t payload) {
    CHECK(s.tuple.laddr == f.tuple.raddr); // seen from the receiver
    CHECK(s.tuple.raddr == f.tuple.laddr);
    CHECK(s.tuple.lport == f.tuple.rport);
    CHECK(s.tuple.rport == f.tuple.lport);
    CHECK(s.seq == f.seq);
    CHECK(s.ack == f.ack);
    CHECK(s.window == f.window);
    CHECK(s.flags == f.flags);
    CHECK(s.ttl == f.ttl);
    CHECK(s.tos == f.tos);
    CHECK(s.payload_off == 40 + optlen);
    CHECK(s.payload_len == payload);
}

} // namespace

TEST_CASE("packet: data segment round trip (software checksums)", "[net][packet]") {
    TestPool pool;
    TcpFields f = sample_fields();
    f.opts.has_ts = true;
    f.opts.ts_val = 123456;
    f.opts.ts_ecr = 654321;
    f.opts.sack_count = 2;
    f.opts.sack[0] = {1000, 2000};
    f.opts.sack[1] = {3000, 4000};
    const auto payload = pattern(333);
    rte_mbuf* m = make_segment(pool, f, payload);
    MbufGuard g{m};

    // Header fields as written.
    const rte_ipv4_hdr* ip = ip_of(m);
    CHECK(ip->version_ihl == 0x45);
    CHECK(rte_be_to_cpu_16(ip->fragment_offset) == RTE_IPV4_HDR_DF_FLAG);
    CHECK(rte_be_to_cpu_16(ip->packet_id) == 0x4321);
    CHECK(ip->next_proto_id == IPPROTO_TCP);
    CHECK(rte_be_to_cpu_16(ip->total_length) == 40 + 32 + 333);
    CHECK(tcp_of(m)->tcp_urp == 0);
    CHECK(tcp_of(m)->data_off == ((20 + 32) / 4) << 4);
    CHECK(m->l3_len == 20);
    CHECK(m->l4_len == 52);
    CHECK(m->packet_type == (RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_TCP));
    CHECK((m->ol_flags & (RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_L4_MASK)) == 0);
    CHECK(rte_ipv4_cksum(ip) == 0); // the header sums to 0xffff with its checksum
    CHECK(l4_sum(m) == 0xffff);
    CHECK(rte_pktmbuf_headroom(m) >= kL2Headroom);

    TcpSegment s;
    REQUIRE(parse_ipv4_tcp(m, s) == NetDrop::none);
    check_round_trip(f, s, 32, payload.size());
    CHECK(s.opts.has_ts);
    CHECK(s.opts.ts_val == 123456);
    CHECK(s.opts.ts_ecr == 654321);
    REQUIRE(s.opts.sack_count == 2);
    CHECK(s.opts.sack[1].left == 3000);
    CHECK(s.opts.sack[1].right == 4000);
    CHECK_FALSE(s.opts.has_mss);
    CHECK(std::memcmp(rte_pktmbuf_mtod_offset(m, const char*, s.payload_off), payload.data(),
                      payload.size()) == 0);
}

TEST_CASE("packet: SYN-ACK round trip with Linux option bytes", "[net][packet]") {
    TestPool pool;
    TcpFields f = sample_fields();
    f.flags = kSyn | kAck;
    f.syn_options = true;
    f.opts.has_mss = true;
    f.opts.mss = 1460;
    f.opts.sack_permitted = true;
    f.opts.has_ts = true;
    f.opts.ts_val = 0x01020304;
    f.opts.ts_ecr = 0x05060708;
    f.opts.has_wscale = true;
    f.opts.wscale = 7;
    rte_mbuf* m = build_ipv4_tcp(pool.get(), f, Checksum::software);
    REQUIRE(m != nullptr);
    MbufGuard g{m};
    CHECK(rte_pktmbuf_pkt_len(m) == 60);
    CHECK(tcp_of(m)->data_off == 10 << 4);
    const std::uint8_t linux_bytes[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2,
                                          3, 4, 5,    6,    7, 8, 1, 3,  3, 7};
    CHECK(std::memcmp(rte_pktmbuf_mtod_offset(m, const std::uint8_t*, 40), linux_bytes, 20) == 0);

    TcpSegment s;
    REQUIRE(parse_ipv4_tcp(m, s) == NetDrop::none);
    check_round_trip(f, s, 20, 0);
    CHECK(s.opts.has_mss);
    CHECK(s.opts.mss == 1460);
    CHECK(s.opts.sack_permitted);
    CHECK(s.opts.has_ts);
    CHECK(s.opts.ts_val == 0x01020304);
    CHECK(s.opts.ts_ecr == 0x05060708);
    CHECK(s.opts.has_wscale);
    CHECK(s.opts.wscale == 7);
}

TEST_CASE("packet: offload mode leaves the pseudo-header sum for the NIC", "[net][packet]") {
    TestPool pool;
    TcpFields f = sample_fields();
    f.opts.has_ts = true;
    f.opts.ts_val = 77;
    const auto payload = pattern(101);
    rte_mbuf* m = make_segment(pool, f, payload, Checksum::offload);
    MbufGuard g{m};
    rte_mbuf* sw = make_segment(pool, f, payload, Checksum::software);
    MbufGuard gs{sw};

    const std::uint64_t want =
        RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;
    CHECK((m->ol_flags & want) == want);
    CHECK(m->l3_len == 20);
    CHECK(m->l4_len == 32);
    CHECK(m->packet_type == (RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_TCP));
    CHECK(ip_of(m)->hdr_checksum == 0);

    // The pseudo-header, written out by hand: src, dst, zero, protocol, TCP length.
    const std::uint16_t tcp_len = 32 + 101;
    std::uint8_t ph[12];
    std::memcpy(ph, &f.tuple.laddr, 4);
    std::memcpy(ph + 4, &f.tuple.raddr, 4);
    ph[8] = 0;
    ph[9] = IPPROTO_TCP;
    ph[10] = static_cast<std::uint8_t>(tcp_len >> 8);
    ph[11] = static_cast<std::uint8_t>(tcp_len);
    CHECK(tcp_of(m)->cksum == rte_raw_cksum(ph, sizeof(ph)));

    // Finish the job as the NIC would; the result is the software-built packet, byte for byte.
    std::uint16_t raw = 0;
    REQUIRE(rte_raw_cksum_mbuf(m, 20, tcp_len, &raw) == 0);
    tcp_of(m)->cksum = static_cast<std::uint16_t>(~raw);
    ip_of(m)->hdr_checksum = rte_ipv4_cksum(ip_of(m));
    REQUIRE(rte_pktmbuf_pkt_len(m) == rte_pktmbuf_pkt_len(sw));
    CHECK(std::memcmp(rte_pktmbuf_mtod(m, const void*), rte_pktmbuf_mtod(sw, const void*),
                      rte_pktmbuf_pkt_len(m)) == 0);
}

TEST_CASE("packet: checksum over a multi-segment payload", "[net][packet]") {
    TestPool pool;
    const TcpFields f = sample_fields();
    // Odd segment lengths, so the later segments start at odd offsets of the sum.
    const auto p1 = pattern(101, 3);
    const auto p2 = pattern(57, 5);
    const auto p3 = pattern(300, 9);
    std::vector<std::uint8_t> all(p1);
    all.insert(all.end(), p2.begin(), p2.end());
    all.insert(all.end(), p3.begin(), p3.end());

    rte_mbuf* head = pool.alloc();
    append(head, p1);
    rte_mbuf* s2 = pool.alloc();
    append(s2, p2);
    rte_mbuf* s3 = pool.alloc();
    append(s3, p3);
    REQUIRE(rte_pktmbuf_chain(head, s2) == 0);
    REQUIRE(rte_pktmbuf_chain(head, s3) == 0);
    MbufGuard g{head};
    REQUIRE(prepend_ipv4_tcp(head, f, Checksum::software));
    CHECK(head->nb_segs == 3);
    CHECK(rte_pktmbuf_pkt_len(head) == 40 + all.size());

    rte_mbuf* flat = make_segment(pool, f, all);
    MbufGuard gf{flat};
    CHECK(tcp_of(head)->cksum == tcp_of(flat)->cksum);
    CHECK(l4_sum(head) == 0xffff);

    TcpSegment s;
    REQUIRE(parse_ipv4_tcp(head, s) == NetDrop::none);
    CHECK(s.payload_len == all.size());
    CHECK(head->nb_segs == 3);

    SECTION("a corrupt byte in the last segment is caught") {
        rte_pktmbuf_mtod_offset(s3, std::uint8_t*, 299)[0] ^= 0x40;
        CHECK(parse_ipv4_tcp(head, s) == NetDrop::bad_tcp_csum);
    }
    SECTION("offload mode over a chain gives the same pseudo-header sum as a flat packet") {
        rte_mbuf* fo = make_segment(pool, f, all, Checksum::offload);
        MbufGuard gfo{fo};
        REQUIRE(rte_pktmbuf_adj(head, 40) != nullptr);
        REQUIRE(prepend_ipv4_tcp(head, f, Checksum::offload));
        CHECK(tcp_of(head)->cksum == tcp_of(fo)->cksum);
    }
}

TEST_CASE("packet: Ethernet padding is trimmed", "[net][packet]") {
    TestPool pool;
    const TcpFields f = sample_fields();
    rte_mbuf* m = make_segment(pool, f, pattern(4));
    MbufGuard g{m};
    TcpSegment s;

    SECTION("padding in the same segment") {
        append(m, std::vector<std::uint8_t>(2, 0));
        REQUIRE(parse_ipv4_tcp(m, s) == NetDrop::none);
        CHECK(rte_pktmbuf_pkt_len(m) == 44);
        CHECK(s.payload_len == 4);
    }
    SECTION("padding filling trailing segments, which are freed") {
        append(m, std::vector<std::uint8_t>(1, 0));
        rte_mbuf* c = split_copy(pool, m, {20, 44}); // 20 | 24 | 1 byte of padding
        MbufGuard gc{c};
        rte_mbuf* pad = pool.alloc();
        append(pad, std::vector<std::uint8_t>(6, 0)); // and a segment of padding only
        REQUIRE(rte_pktmbuf_chain(c, pad) == 0);
        REQUIRE(c->nb_segs == 4);
        // The TCP header is not in the first segment, so check the trim through parse_ipv4, which
        // only needs the IPv4 header; the pool's leak check sees the freed segments.
        Ipv4Info ip;
        REQUIRE(parse_ipv4(c, ip) == NetDrop::none);
        CHECK(rte_pktmbuf_pkt_len(c) == 44);
        CHECK(c->nb_segs == 2);
        CHECK(rte_pktmbuf_lastseg(c)->data_len == 24);
        CHECK(rte_pktmbuf_lastseg(c)->next == nullptr);
        CHECK(ip.total_len == 44);
        CHECK(ip.hdr_len == 20);
        CHECK(ip.proto == IPPROTO_TCP);
    }
}

TEST_CASE("packet: IPv4 options are skipped by IHL", "[net][packet]") {
    TestPool pool;
    const TcpFields f = sample_fields();
    rte_mbuf* orig = make_segment(pool, f, pattern(9));
    MbufGuard go{orig};
    std::vector<std::uint8_t> b = flat_bytes(orig);
    b.insert(b.begin() + 20, {1, 1, 1, 0}); // NOP NOP NOP EOL
    rte_mbuf* m = pool.alloc();
    MbufGuard g{m};
    append(m, b);
    ip_of(m)->version_ihl = 0x46;
    ip_of(m)->total_length = rte_cpu_to_be_16(static_cast<std::uint16_t>(b.size()));
    fix_checksums(m);

    TcpSegment s;
    REQUIRE(parse_ipv4_tcp(m, s) == NetDrop::none);
    CHECK(s.payload_off == 44);
    CHECK(s.payload_len == 9);
    CHECK(s.seq == f.seq);
    CHECK(m->l3_len == 24);
}

TEST_CASE("packet: prepend refuses a small headroom, build refuses an empty pool",
          "[net][packet]") {
    TestPool pool(1);
    rte_mbuf* m = pool.alloc();
    m->data_off = 50; // less than 40 bytes of headers + kL2Headroom
    TcpFields f = sample_fields();
    CHECK_FALSE(prepend_ipv4_tcp(m, f, Checksum::software));
    CHECK(m->data_off == 50);
    CHECK(rte_pktmbuf_pkt_len(m) == 0);
    m->data_off = 58;
    CHECK(prepend_ipv4_tcp(m, f, Checksum::software));
    CHECK(build_ipv4_tcp(pool.get(), f, Checksum::software) == nullptr); // the one mbuf is in use
    rte_pktmbuf_free(m);
    m = build_ipv4_tcp(pool.get(), f, Checksum::software);
    CHECK(m != nullptr);
    rte_pktmbuf_free(m);
}

TEST_CASE("packet: every drop reason from a crafted packet", "[net][packet][drop]") {
    TestPool pool;
    TcpFields f = sample_fields();
    f.opts.has_ts = true;
    f.opts.ts_val = 5;
    rte_mbuf* m = make_segment(pool, f, pattern(10));
    MbufGuard g{m};
    rte_ipv4_hdr* ip = ip_of(m);
    rte_tcp_hdr* tcp = tcp_of(m);
    TcpSegment s;
    REQUIRE(parse_ipv4_tcp(m, s) == NetDrop::none); // the unmodified packet is fine

    SECTION("too_short: less than an IPv4 header") {
        rte_mbuf* t = pool.alloc();
        MbufGuard gt{t};
        append(t, pattern(19));
        CHECK(parse_ipv4_tcp(t, s) == NetDrop::too_short);
    }
    SECTION("too_short: less than a TCP header") {
        ip->total_length = rte_cpu_to_be_16(20 + 19);
        fix_checksums(m);
        CHECK(parse_ipv4_tcp(m, s) == NetDrop::too_short);
    }
    SECTION("not_contiguous: IPv4 header split") {
        rte_mbuf* c = split_copy(pool, m, {12});
        MbufGuard gc{c};
        CHECK(parse_ipv4_tcp(c, s) == NetDrop::not_contiguous);
    }
    SECTION("not_contiguous: TCP header in the second segment") {
        rte_mbuf* c = split_copy(pool, m, {20});
        MbufGuard gc{c};
        CHECK(parse_ipv4_tcp(c, s) == NetDrop::not_contiguous);
    }
    SECTION("not_contiguous: TCP options split") {
        rte_mbuf* c = split_copy(pool, m, {44});
        MbufGuard gc{c};
        CHECK(parse_ipv4_tcp(c, s) == NetDrop::not_contiguous);
        rte_mbuf* ok = split_copy(pool, m, {52}); // headers whole, payload in the next segment
        MbufGuard gok{ok};
        CHECK(parse_ipv4_tcp(ok, s) == NetDrop::none);
    }
    SECTION("bad_ip_version") {
        ip->version_ihl = 0x65;
        fix_checksums(m);
        CHECK(parse_ipv4_tcp(m, s) == NetDrop::bad_ip_version);
    }
    SECTION("bad_ip_hlen: IHL below 5") {
        ip->version_ihl = 0x44;
        CHECK(parse_ipv4_tcp(m, s) == NetDrop::bad_ip_hlen);
    }
    SECTION("bad_ip_hlen: IHL beyond the packet") {
        rte_mbuf* t = pool.alloc();
        MbufGuard gt{t};
        append(t, std::vector<std::uint8_t>(40, 0));
        ip_of(t)->version_ihl = 0x4f; // 60 bytes
        CHECK(parse_ipv4_tcp(t, s) == NetDrop::bad_ip_hlen);
    }
    SECTION("bad_ip_len: beyond the packet") {
        ip->total_length = rte_cpu_to_be_16(static_cast<std::uint16_t>(rte_pktmbuf_pkt_len(m) + 1));
        fix_checksums(m);
        CHECK(parse_ipv4_tcp(m, s) == NetDrop::bad_ip_len);
    }
    SECTION("bad_ip_len: below the header") {
        ip->total_length = rte_cpu_to_be_16(19);
        fix_checksums(m);
        CHECK(parse_ipv4_tcp(m, s) == NetDrop::bad_ip_len);
    }
    SECTION("bad_ip_csum: one corrupted byte") {
        ip->time_to_live ^= 1;
        CHECK(parse_ipv4_tcp(m, s) == NetDrop::bad_ip_csum);
    }
    SECTION("ip_fragment: more fragments") {
        ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG);
        fix_checksums(m);
        CHECK(parse_ipv4_tcp(m, s) == NetDrop::ip_fragment);
    }
    SECTION("ip_fragment: non-zero offset") {
        ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG | 1);
        fix_checksums(m);
        CHECK(parse_ipv4_tcp(m, s) == NetDrop::ip_fragment);
    }
    SECTION("bad_ip_addr") {
        const std::uint32_t good = ip->src_addr;
        for (std::uint32_t a : {ip4(0, 0, 0, 0), ip4(127, 0, 0, 1), ip4(224, 0, 0, 1),
                                ip4(239, 1, 2, 3), ip4(255, 255, 255, 255)}) {
            ip->src_addr = a;
            fix_checksums(m);
            CHECK(parse_ipv4_tcp(m, s) == NetDrop::bad_ip_addr);
        }
        ip->src_addr = good;
        for (std::uint32_t a : {ip4(0, 0, 0, 0), ip4(224, 0, 0, 251), ip4(255, 255, 255, 255)}) {
            ip->dst_addr = a;
            fix_checksums(m);
            CHECK(parse_ipv4_tcp(m, s) == NetDrop::bad_ip_addr);
        }
    }
    SECTION("not_tcp") {
        ip->next_proto_id = IPPROTO_UDP;
        fix_checksums(m);
        CHECK(parse_ipv4_tcp(m, s) == NetDrop::not_tcp);
    }
    SECTION("bad_tcp_port") {
        tcp->src_port = 0;
        fix_checksums(m);
        CHECK(parse_ipv4_tcp(m, s) == NetDrop::bad_tcp_port);
        tcp->src_port = port(1);
        tcp->dst_port = 0;
        fix_checksums(m);
        CHECK(parse_ipv4_tcp(m, s) == NetDrop::bad_tcp_port);
    }
    SECTION("bad_tcp_doff: below 5") {
        tcp->data_off = 4 << 4;
        fix_checksums(m);
        CHECK(parse_ipv4_tcp(m, s) == NetDrop::bad_tcp_doff);
    }
    SECTION("bad_tcp_doff: beyond the segment") {
        tcp->data_off = 15 << 4; // 60 bytes; the segment has 32 + 10
        fix_checksums(m);
        CHECK(parse_ipv4_tcp(m, s) == NetDrop::bad_tcp_doff);
    }
    SECTION("bad_tcp_csum: one corrupted payload byte") {
        rte_pktmbuf_mtod_offset(m, std::uint8_t*, 52)[0] ^= 0x01;
        CHECK(parse_ipv4_tcp(m, s) == NetDrop::bad_tcp_csum);
    }
    SECTION("bad_tcp_option: zero-length option") {
        auto* o = reinterpret_cast<std::uint8_t*>(tcp + 1);
        o[2] = 30;
        o[3] = 0;
        fix_checksums(m);
        CHECK(parse_ipv4_tcp(m, s) == NetDrop::bad_tcp_option);
    }
}

TEST_CASE("packet: RX checksum offload flags are honoured", "[net][packet][drop]") {
    TestPool pool;
    const TcpFields f = sample_fields();
    rte_mbuf* m = make_segment(pool, f, pattern(10));
    MbufGuard g{m};
    TcpSegment s;

    SECTION("IP GOOD is trusted: a wrong header sum passes") {
        ip_of(m)->hdr_checksum ^= 0x0101;
        REQUIRE(parse_ipv4_tcp(m, s) == NetDrop::bad_ip_csum);
        m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD;
        CHECK(parse_ipv4_tcp(m, s) == NetDrop::none);
    }
    SECTION("IP BAD is trusted: a right header sum is refused") {
        m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_BAD;
        CHECK(parse_ipv4_tcp(m, s) == NetDrop::bad_ip_csum);
    }
    SECTION("IP NONE: the port verified the header") {
        ip_of(m)->hdr_checksum = 0;
        m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_NONE;
        CHECK(parse_ipv4_tcp(m, s) == NetDrop::none);
    }
    SECTION("L4 GOOD is trusted: a wrong TCP sum passes") {
        tcp_of(m)->cksum ^= 0x0101;
        REQUIRE(parse_ipv4_tcp(m, s) == NetDrop::bad_tcp_csum);
        m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
        CHECK(parse_ipv4_tcp(m, s) == NetDrop::none);
    }
    SECTION("L4 BAD is trusted: a right TCP sum is refused") {
        m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_BAD;
        CHECK(parse_ipv4_tcp(m, s) == NetDrop::bad_tcp_csum);
    }
    SECTION("L4 NONE: the port verified the segment") {
        tcp_of(m)->cksum = 0;
        m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_NONE;
        CHECK(parse_ipv4_tcp(m, s) == NetDrop::none);
    }
    SECTION("an offload-built packet needs the NIC's verdict") {
        rte_mbuf* o = make_segment(pool, f, pattern(10), Checksum::offload);
        MbufGuard go{o};
        CHECK(parse_ipv4_tcp(o, s) == NetDrop::bad_ip_csum);
        o->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD;
        CHECK(parse_ipv4_tcp(o, s) == NetDrop::bad_tcp_csum);
        o->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
        CHECK(parse_ipv4_tcp(o, s) == NetDrop::none);
    }
}

TEST_CASE("packet: drop reasons have names and descriptions", "[net][drop]") {
    CHECK(name(NetDrop::none) == "none");
    CHECK(name(NetDrop::bad_tcp_csum) == "bad_tcp_csum");
    for (std::size_t i = 1; i < kNetDropCount; ++i) {
        const auto d = static_cast<NetDrop>(i);
        CHECK(name(d) != "?");
        CHECK_FALSE(description(d).empty());
    }
}
