#include "engine/impair.hpp"

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

namespace tcpterm::engine {

namespace {
// Parts per million -> a threshold out of 2^32.
std::uint32_t threshold(std::uint32_t ppm) {
    if (ppm >= 1'000'000) {
        return 0xFFFFFFFFu;
    }
    return static_cast<std::uint32_t>((std::uint64_t{ppm} << 32) / 1'000'000);
}
} // namespace

Impairment::Impairment(const ImpairSpec& cfg, std::uint64_t seed, bool rx) noexcept
    : cfg_(cfg), active_(active(cfg)), rx_(rx), drop_(threshold(cfg.drop_ppm)),
      dup_(threshold(cfg.duplicate_ppm)), reorder_(threshold(cfg.reorder_ppm)),
      corrupt_(threshold(cfg.corrupt_ppm)), state_(seed == 0 ? 0x9E3779B97F4A7C15ull : seed) {}

Impairment::~Impairment() {
    while (count_ > 0) {
        rte_pktmbuf_free(held_[head_].m);
        head_ = (head_ + 1) % kHeld;
        --count_;
    }
}

// xorshift64*: fast, seedable, and good enough to decide the fate of packets.
std::uint64_t Impairment::next() noexcept {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 2685821657736338717ull;
}

bool Impairment::chance(std::uint32_t t) noexcept {
    return t != 0 && static_cast<std::uint32_t>(next() >> 32) < t;
}

// Held packets wait in insertion order; release() takes every one that is due, so a reordered
// packet (due reorder_gap later) is overtaken by the packets held after it.
void Impairment::corrupt(rte_mbuf* m) noexcept {
    if (rx_) {
        // Damage on the wire happens before the NIC checks: forget its verdict, so the stack's
        // software check sees the damage.
        m->ol_flags &= ~(RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK);
    } else if ((m->ol_flags & (RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM)) != 0 &&
               m->l2_len >= sizeof(rte_ether_hdr) && m->l3_len >= sizeof(rte_ipv4_hdr) &&
               rte_pktmbuf_data_len(m) >= m->l2_len + m->l3_len + sizeof(rte_tcp_hdr) &&
               m->nb_segs == 1) {
        // The NIC would checksum the damaged bytes: complete the checksums now instead.
        auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, m->l2_len);
        ip->hdr_checksum = 0;
        ip->hdr_checksum = rte_ipv4_cksum(ip);
        if (ip->next_proto_id == IPPROTO_TCP) {
            auto* tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr*, m->l2_len + m->l3_len);
            tcp->cksum = 0;
            tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
        }
        m->ol_flags &= ~(RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4);
    }
    const std::uint32_t span = rte_pktmbuf_data_len(m) - sizeof(rte_ether_hdr);
    auto* p = rte_pktmbuf_mtod_offset(m, std::uint8_t*, sizeof(rte_ether_hdr) + next() % span);
    *p ^= static_cast<std::uint8_t>(1u << (next() % 8));
    ++stats_.corrupted;
}

bool Impairment::hold(rte_mbuf* m, Nanos until) noexcept {
    if (count_ == kHeld) {
        ++stats_.overflow;
        return false;
    }
    held_[(head_ + count_) % kHeld] = Held{until, m};
    ++count_;
    return true;
}

std::uint16_t Impairment::apply(rte_mbuf** pkts, std::uint16_t n, Nanos now,
                                rte_mbuf** out) noexcept {
    std::uint16_t k = 0;
    for (std::uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = pkts[i];
        if (chance(drop_)) {
            ++stats_.dropped;
            rte_pktmbuf_free(m);
            continue;
        }
        if (chance(corrupt_) && rte_pktmbuf_data_len(m) > sizeof(rte_ether_hdr)) {
            corrupt(m);
        }
        if (chance(dup_)) {
            if (rte_mbuf* copy = rte_pktmbuf_copy(m, m->pool, 0, UINT32_MAX)) {
                ++stats_.duplicated;
                if (cfg_.delay == 0 || !hold(copy, now + cfg_.delay)) {
                    out[k++] = copy;
                }
            }
        }
        Nanos until = cfg_.delay > 0 ? now + cfg_.delay : 0;
        if (chance(reorder_)) {
            ++stats_.reordered;
            until = now + cfg_.delay + cfg_.reorder_gap;
        }
        if (until != 0) {
            if (hold(m, until)) {
                if (until == now + cfg_.delay) {
                    ++stats_.delayed;
                }
                continue;
            }
        }
        out[k++] = m;
    }
    return k;
}

std::uint16_t Impairment::release(Nanos now, rte_mbuf** out, std::uint16_t max) noexcept {
    std::uint16_t k = 0;
    // Release every due packet; a reordered one at the head does not block later ones that are
    // due (they overtake it, which is the point).
    std::size_t scanned = 0;
    while (k < max && scanned < count_) {
        Held& h = held_[(head_ + scanned) % kHeld];
        if (h.m != nullptr && h.until <= now) {
            out[k++] = h.m;
            h.m = nullptr;
        }
        ++scanned;
        if (scanned > 64 && h.until > now) {
            break; // bounded scan per call
        }
    }
    while (count_ > 0 && held_[head_].m == nullptr) {
        head_ = (head_ + 1) % kHeld;
        --count_;
    }
    return k;
}

} // namespace tcpterm::engine
