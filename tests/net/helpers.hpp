// Shared fixtures of the net tests: a private mempool per test (with a leak check on release),
// address helpers and a checksum fixer, so each test can corrupt exactly one field and get exactly
// one drop reason. Checksums here are summed with DPDK's raw helpers over the mbuf, independently
// of the code under test.
#pragma once

#include "net/packet.hpp"

#include <catch2/catch.hpp>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include <cstdint>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

namespace nettest {

/// An mbuf pool owned by one test. No per-lcore cache, so the free count is exact and the
/// destructor can check that the test returned every mbuf.
class TestPool {
public:
    explicit TestPool(unsigned n = 63) : n_(n) {
        static unsigned counter = 0;
        const std::string name = "net_test_" + std::to_string(counter++);
        mp_ = rte_pktmbuf_pool_create(name.c_str(), n, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                      static_cast<int>(rte_socket_id()));
        REQUIRE(mp_ != nullptr);
    }
    ~TestPool() {
        if (std::uncaught_exceptions() == 0) {
            CHECK(rte_mempool_avail_count(mp_) == n_);
        }
        rte_mempool_free(mp_);
    }
    TestPool(const TestPool&) = delete;
    TestPool& operator=(const TestPool&) = delete;

    rte_mempool* get() const noexcept { return mp_; }
    rte_mbuf* alloc() const {
        rte_mbuf* m = rte_pktmbuf_alloc(mp_);
        REQUIRE(m != nullptr);
        return m;
    }

private:
    rte_mempool* mp_ = nullptr;
    unsigned n_;
};

/// Frees an mbuf chain at scope exit.
struct MbufGuard {
    rte_mbuf* m;
    ~MbufGuard() { rte_pktmbuf_free(m); }
};

/// a.b.c.d in network order.
inline std::uint32_t ip4(unsigned a, unsigned b, unsigned c, unsigned d) {
    return rte_cpu_to_be_32((a << 24) | (b << 16) | (c << 8) | d);
}
inline std::uint16_t port(std::uint16_t p) {
    return rte_cpu_to_be_16(p);
}

inline tcpterm::net::TcpFields sample_fields() {
    tcpterm::net::TcpFields f;
    f.tuple.laddr = ip4(192, 168, 0, 1);
    f.tuple.raddr = ip4(192, 0, 2, 1);
    f.tuple.lport = port(8080);
    f.tuple.rport = port(40000);
    f.seq = 0x11223344;
    f.ack = 0xaabbccdd;
    f.window = 29200;
    f.flags = tcpterm::net::kAck | tcpterm::net::kPsh;
    f.ttl = 63;
    f.tos = 0x12;
    f.ip_id = 0x4321;
    return f;
}

inline std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t seed = 1) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        v[i] = static_cast<std::uint8_t>(seed + i * 7);
    }
    return v;
}

inline void append(rte_mbuf* m, const std::vector<std::uint8_t>& bytes) {
    if (bytes.empty()) {
        return;
    }
    char* p = rte_pktmbuf_append(m, static_cast<std::uint16_t>(bytes.size()));
    REQUIRE(p != nullptr);
    std::memcpy(p, bytes.data(), bytes.size());
}

/// A segment with `payload`, software checksums.
inline rte_mbuf* make_segment(const TestPool& pool, const tcpterm::net::TcpFields& f,
                              const std::vector<std::uint8_t>& payload = {},
                              tcpterm::net::Checksum mode = tcpterm::net::Checksum::software) {
    rte_mbuf* m = pool.alloc();
    append(m, payload);
    REQUIRE(tcpterm::net::prepend_ipv4_tcp(m, f, mode));
    return m;
}

inline rte_ipv4_hdr* ip_of(rte_mbuf* m) {
    return rte_pktmbuf_mtod(m, rte_ipv4_hdr*);
}
inline rte_tcp_hdr* tcp_of(rte_mbuf* m) {
    return rte_pktmbuf_mtod_offset(m, rte_tcp_hdr*, rte_ipv4_hdr_len(ip_of(m)));
}

/// The whole packet as one flat byte array (chain included).
inline std::vector<std::uint8_t> flat_bytes(const rte_mbuf* m) {
    std::vector<std::uint8_t> bytes(rte_pktmbuf_pkt_len(m));
    const void* p = rte_pktmbuf_read(m, 0, static_cast<std::uint32_t>(bytes.size()), bytes.data());
    REQUIRE(p != nullptr);
    if (!bytes.empty() &&
        p != bytes.data()) { // contiguous: rte_pktmbuf_read points into the mbuf instead
        std::memcpy(bytes.data(), p, bytes.size());
    }
    return bytes;
}

/// Sum of the L4 bytes plus the pseudo-header, folded: 0xffff when the L4 checksum is right.
/// Computed over a flat copy with rte_raw_cksum, independently of the library's chain walking.
inline std::uint16_t l4_sum(rte_mbuf* m) {
    const rte_ipv4_hdr* ip = ip_of(m);
    const std::uint16_t hl = rte_ipv4_hdr_len(ip);
    const std::uint16_t total = rte_be_to_cpu_16(ip->total_length);
    const std::vector<std::uint8_t> bytes = flat_bytes(m);
    REQUIRE(total <= bytes.size());
    const std::uint32_t s =
        std::uint32_t{rte_raw_cksum(bytes.data() + hl, total - hl)} + rte_ipv4_phdr_cksum(ip, 0);
    return __rte_raw_cksum_reduce(s);
}

/// Makes both checksums right again after a test changed a header field (the TCP one only if
/// the header's lengths still describe a TCP segment within the packet).
inline void fix_checksums(rte_mbuf* m) {
    rte_ipv4_hdr* ip = ip_of(m);
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    const std::uint16_t total = rte_be_to_cpu_16(ip->total_length);
    if (ip->next_proto_id == IPPROTO_TCP && total <= rte_pktmbuf_pkt_len(m) &&
        total >= rte_ipv4_hdr_len(ip) + sizeof(rte_tcp_hdr)) {
        tcp_of(m)->cksum = 0;
        tcp_of(m)->cksum = static_cast<std::uint16_t>(~l4_sum(m));
    }
}

/// A copy of `m` as a chain split at the given increasing byte offsets.
inline rte_mbuf* split_copy(const TestPool& pool, const rte_mbuf* m,
                            std::vector<std::uint32_t> cuts) {
    const std::vector<std::uint8_t> bytes = flat_bytes(m);
    rte_mbuf* head = nullptr;
    std::size_t off = 0;
    cuts.push_back(static_cast<std::uint32_t>(bytes.size()));
    for (std::uint32_t cut : cuts) {
        rte_mbuf* seg = pool.alloc();
        append(seg, std::vector<std::uint8_t>(bytes.begin() + static_cast<std::ptrdiff_t>(off),
                                              bytes.begin() + static_cast<std::ptrdiff_t>(cut)));
        off = cut;
        if (head == nullptr) {
            head = seg;
        } else {
            REQUIRE(rte_pktmbuf_chain(head, seg) == 0);
        }
    }
    return head;
}

} // namespace nettest
