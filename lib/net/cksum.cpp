// Chain-exact checksum wrappers over DPDK's helpers; see cksum.hpp for the DPDK 22.11 defect.

// rte_ipv4_udptcp_cksum_mbuf{,_verify} are still marked experimental in DPDK 22.11; without this
// they are deprecated and -Werror refuses them.
#ifndef ALLOW_EXPERIMENTAL_API
#define ALLOW_EXPERIMENTAL_API
#endif

#include "net/cksum.hpp"

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <algorithm>

namespace tcpterm::net {

namespace {

// Finds the segment holding byte `off` of the packet; `off` becomes the offset within it.
const rte_mbuf* seek(const rte_mbuf* m, std::uint32_t& off) noexcept {
    while (m != nullptr && off >= m->data_len) {
        off -= m->data_len;
        m = m->next;
    }
    return m;
}

} // namespace

bool dpdk_chain_sum_exact(const rte_mbuf* m, std::uint32_t off, std::uint32_t len) noexcept {
    if (off + len <= rte_pktmbuf_data_len(m)) {
        return true;
    }
    const rte_mbuf* seg = seek(m, off);
    std::uint32_t done = 0;
    while (seg != nullptr && done < len) {
        if ((done & 1) != 0) {
            return false;
        }
        done += std::min<std::uint32_t>(seg->data_len - off, len - done);
        off = 0;
        seg = seg->next;
    }
    return true;
}

int raw_cksum_mbuf(const rte_mbuf* m, std::uint32_t off, std::uint32_t len,
                   std::uint16_t* cksum) noexcept {
    if (off + len > rte_pktmbuf_pkt_len(m)) {
        return -1;
    }
    if (dpdk_chain_sum_exact(m, off, len)) {
        return rte_raw_cksum_mbuf(m, off, len, cksum);
    }
    const rte_mbuf* seg = seek(m, off);
    std::uint32_t sum = 0; // at most one 16-bit term per segment: cannot overflow
    std::uint32_t done = 0;
    while (done < len) {
        const std::uint32_t n = std::min<std::uint32_t>(seg->data_len - off, len - done);
        const std::uint16_t part = rte_raw_cksum(rte_pktmbuf_mtod_offset(seg, const char*, off), n);
        // A piece starting at an odd offset has its bytes in the other halves of the 16-bit words.
        sum += (done & 1) != 0 ? rte_bswap16(part) : part;
        done += n;
        off = 0;
        seg = seg->next;
    }
    *cksum = __rte_raw_cksum_reduce(sum);
    return 0;
}

std::uint16_t ipv4_tcp_cksum_mbuf(const rte_mbuf* m, const rte_ipv4_hdr* ip,
                                  std::uint16_t l4_off) noexcept {
    const std::uint32_t len = rte_be_to_cpu_16(ip->total_length) - rte_ipv4_hdr_len(ip);
    if (dpdk_chain_sum_exact(m, l4_off, len)) {
        return rte_ipv4_udptcp_cksum_mbuf(m, ip, l4_off);
    }
    std::uint16_t raw = 0;
    raw_cksum_mbuf(m, l4_off, len, &raw);
    return static_cast<std::uint16_t>(
        ~__rte_raw_cksum_reduce(std::uint32_t{raw} + rte_ipv4_phdr_cksum(ip, 0)));
}

bool ipv4_tcp_cksum_mbuf_ok(const rte_mbuf* m, const rte_ipv4_hdr* ip,
                            std::uint16_t l4_off) noexcept {
    const std::uint32_t len = rte_be_to_cpu_16(ip->total_length) - rte_ipv4_hdr_len(ip);
    if (dpdk_chain_sum_exact(m, l4_off, len)) {
        return rte_ipv4_udptcp_cksum_mbuf_verify(m, ip, l4_off) == 0;
    }
    std::uint16_t raw = 0;
    if (raw_cksum_mbuf(m, l4_off, len, &raw) != 0) {
        return false;
    }
    return __rte_raw_cksum_reduce(std::uint32_t{raw} + rte_ipv4_phdr_cksum(ip, 0)) == 0xffff;
}

} // namespace tcpterm::net
