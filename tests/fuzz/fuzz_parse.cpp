// fuzz_parse: every lib/net parser on arbitrary bytes, in one mbuf and in a 2-3 segment chain.
//
// Input: [ctrl][cut1][cut2][packet bytes...]
//   ctrl bits 0-1  segments of the chain copy: 0 = single segment only, 1 = 2, 2-3 = 3
//        bits 2-3  RX IP checksum flag:  UNKNOWN, GOOD, BAD, NONE
//        bits 4-5  RX L4 checksum flag:  UNKNOWN, GOOD, BAD, NONE
//        bit 6     fix the IPv4/TCP/ICMP checksums first (to get past them without offload)
//        bit 7     SYN flag for the direct parse_tcp_options() call
//   cut1, cut2     where the chain copy is cut (byte offsets, modulo the length)
//
// The packet is read two ways: as an IPv4 packet (parse_ipv4_tcp; parse_ipv4 then parse_tcp or
// icmp_echo_reply) and as an Ethernet frame (parse_ether, then parse_arp and arp_make_reply, or
// the IPv4 pipeline). Data sits in exact-size heap buffers, so ASan catches any read past the
// packet or a segment. Checked: the documented drop reasons against an independent reading of
// the bytes (RFC 1071 sums, header fields), the mbuf bookkeeping after trimming, the chain copy
// giving the same answer as the single copy (or not_contiguous), the option writers against the
// parser, and in-place replies (ICMP echo, ARP) being well formed.
#include "common.hpp"

#include "net/arp.hpp"
#include "net/ether.hpp"
#include "net/icmp.hpp"
#include "net/packet.hpp"
#include "net/tcp_options.hpp"

#include <rte_byteorder.h>
#include <rte_arp.h>
#include <rte_ether.h>

#include <algorithm>
#include <memory>

using namespace tcpterm::net;
using fuzz::load16;
using fuzz::load32;

namespace {

rte_mempool* g_mp = nullptr;

constexpr std::uint64_t kIpFlags[4] = {RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN, RTE_MBUF_F_RX_IP_CKSUM_GOOD,
                                       RTE_MBUF_F_RX_IP_CKSUM_BAD, RTE_MBUF_F_RX_IP_CKSUM_NONE};
constexpr std::uint64_t kL4Flags[4] = {RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN, RTE_MBUF_F_RX_L4_CKSUM_GOOD,
                                       RTE_MBUF_F_RX_L4_CKSUM_BAD, RTE_MBUF_F_RX_L4_CKSUM_NONE};

using Bytes = std::vector<std::uint8_t>;

const char* nm(NetDrop d) {
    return name(d).data(); // the names are string literals
}

// ---- reference readings of the bytes ------------------------------------------------------------

/// The option rules as docs/architecture.md and tcp_options.hpp state them.
NetDrop ref_options(const std::uint8_t* p, std::size_t len, bool syn, TcpOptions& o) {
    o = TcpOptions{};
    std::size_t i = 0;
    while (i < len) {
        const std::uint8_t kind = p[i];
        if (kind == kOptEol) {
            break;
        }
        if (kind == kOptNop) {
            ++i;
            continue;
        }
        if (len - i < 2) {
            return NetDrop::bad_tcp_option;
        }
        const std::size_t olen = p[i + 1];
        if (olen < 2 || olen > len - i) {
            return NetDrop::bad_tcp_option;
        }
        const std::uint8_t* v = p + i + 2;
        switch (kind) {
        case kOptMss:
            if (olen != 4) {
                return NetDrop::bad_tcp_option;
            }
            if (syn) {
                o.has_mss = true;
                o.mss = load16(v);
            }
            break;
        case kOptWscale:
            if (olen != 3) {
                return NetDrop::bad_tcp_option;
            }
            if (syn) {
                o.has_wscale = true;
                o.wscale = v[0];
            }
            break;
        case kOptSackPerm:
            if (olen != 2) {
                return NetDrop::bad_tcp_option;
            }
            if (syn) {
                o.sack_permitted = true;
            }
            break;
        case kOptSack: {
            if (olen < 10 || (olen - 2) % 8 != 0) {
                return NetDrop::bad_tcp_option;
            }
            const std::size_t keep = std::min<std::size_t>((olen - 2) / 8, 4);
            for (std::size_t b = 0; b < keep; ++b) {
                o.sack[b] = {load32(v + 8 * b), load32(v + 8 * b + 4)};
            }
            o.sack_count = static_cast<std::uint8_t>(keep);
            break;
        }
        case kOptTimestamp:
            if (olen != 10) {
                return NetDrop::bad_tcp_option;
            }
            o.has_ts = true;
            o.ts_val = load32(v);
            o.ts_ecr = load32(v + 4);
            break;
        default:
            break;
        }
        i += olen;
    }
    return NetDrop::none;
}

bool same_options(const TcpOptions& a, const TcpOptions& b) {
    if (a.has_mss != b.has_mss || a.has_wscale != b.has_wscale ||
        a.sack_permitted != b.sack_permitted || a.has_ts != b.has_ts ||
        a.sack_count != b.sack_count) {
        return false;
    }
    if ((a.has_mss && a.mss != b.mss) || (a.has_wscale && a.wscale != b.wscale) ||
        (a.has_ts && (a.ts_val != b.ts_val || a.ts_ecr != b.ts_ecr))) {
        return false;
    }
    for (std::size_t i = 0; i < a.sack_count && i < 4; ++i) {
        if (a.sack[i].left != b.sack[i].left || a.sack[i].right != b.sack[i].right) {
            return false;
        }
    }
    return true;
}

bool same_segment(const TcpSegment& a, const TcpSegment& b) {
    return a.tuple == b.tuple && a.seq == b.seq && a.ack == b.ack && a.window == b.window &&
           a.flags == b.flags && a.ttl == b.ttl && a.tos == b.tos &&
           a.payload_off == b.payload_off && a.payload_len == b.payload_len &&
           same_options(a.opts, b.opts);
}

bool ip_sum_ok(const std::uint8_t* ip, std::size_t hl) {
    return fuzz::fold(fuzz::sum16(ip, hl)) == 0xFFFF;
}

bool l4_sum_ok(const std::uint8_t* ip, std::size_t hl, std::size_t total, std::uint8_t proto) {
    const auto l4_len = static_cast<std::uint16_t>(total - hl);
    const std::uint32_t ph = proto == IPPROTO_TCP ? fuzz::pseudo_sum(ip, proto, l4_len) : 0;
    return fuzz::fold(fuzz::sum16(ip + hl, l4_len, ph)) == 0xFFFF;
}

/// Recomputes the IPv4 header checksum and the TCP or ICMP checksum of the packet at `off`, where
/// the lengths in the header allow it.
void fix_checksums(Bytes& b, std::size_t off) {
    if (b.size() < off + 20 || (b[off] >> 4) != 4) {
        return;
    }
    std::uint8_t* ip = b.data() + off;
    const std::size_t hl = (ip[0] & 0xF) * 4u;
    if (hl < 20 || off + hl > b.size()) {
        return;
    }
    ip[10] = ip[11] = 0;
    fuzz::store16(ip + 10, fuzz::cksum(ip, hl));
    const std::size_t total = load16(ip + 2);
    if (total < hl || off + total > b.size()) {
        return;
    }
    const auto l4_len = static_cast<std::uint16_t>(total - hl);
    if (ip[9] == IPPROTO_TCP && l4_len >= 20) {
        ip[hl + 16] = ip[hl + 17] = 0;
        fuzz::store16(ip + hl + 16,
                      fuzz::cksum(ip + hl, l4_len, fuzz::pseudo_sum(ip, IPPROTO_TCP, l4_len)));
    } else if (ip[9] == IPPROTO_ICMP && l4_len >= 8) {
        ip[hl + 2] = ip[hl + 3] = 0;
        fuzz::store16(ip + hl + 2, fuzz::cksum(ip + hl, l4_len));
    }
}

// ---- building the copies -----------------------------------------------------------------------

struct Layout {
    std::vector<std::size_t> cuts; // empty: one segment
    std::uint64_t ol = 0;
};

rte_mbuf* make(const Bytes& b, const Layout& l) {
    rte_mbuf* m = fuzz::ext_chain(g_mp, b.data(), b.size(), l.cuts);
    m->ol_flags |= l.ol;
    return m;
}

// ---- the checks --------------------------------------------------------------------------------

/// parse_ipv4's outcome against the bytes it was given.
void check_ipv4(const rte_mbuf* m, NetDrop r, const Ipv4Info& ip, const Bytes& flat, bool chain,
                std::uint64_t ol) {
    FUZZ_CHECK(chain || r != NetDrop::not_contiguous, "single segment reported not_contiguous");
    if (r != NetDrop::none) {
        FUZZ_CHECK(m->pkt_len == flat.size(), "parse_ipv4 failed (%s) but changed the mbuf",
                   nm(r));
        if (r == NetDrop::bad_ip_csum && (ol & RTE_MBUF_F_RX_IP_CKSUM_MASK) == 0) {
            const std::size_t hl = (flat[0] & 0xF) * 4u;
            FUZZ_CHECK(!ip_sum_ok(flat.data(), hl), "bad_ip_csum on a correct header checksum");
        }
        return;
    }
    const std::size_t hl = (flat[0] & 0xF) * 4u;
    const std::size_t total = load16(flat.data() + 2);
    FUZZ_CHECK((flat[0] >> 4) == 4 && hl >= 20 && hl <= 60 && total >= hl && total <= flat.size(),
               "accepted a bad IPv4 header (hl %zu total %zu size %zu)", hl, total, flat.size());
    FUZZ_CHECK(ip.hdr_len == hl && ip.total_len == total, "Ipv4Info lengths %u/%u, bytes say %zu/%zu",
               ip.hdr_len, ip.total_len, hl, total);
    FUZZ_CHECK(ip.proto == flat[9] && ip.ttl == flat[8] && ip.tos == flat[1], "Ipv4Info fields");
    FUZZ_CHECK(std::memcmp(&ip.src, &flat[12], 4) == 0 && std::memcmp(&ip.dst, &flat[16], 4) == 0,
               "Ipv4Info addresses");
    FUZZ_CHECK((load16(&flat[6]) & 0x3FFF) == 0, "accepted a fragment");
    const std::uint32_t src = load32(&flat[12]);
    const std::uint32_t dst = load32(&flat[16]);
    FUZZ_CHECK(src != 0 && (src >> 24) != 127 && (src >> 28) != 0xE && src != 0xFFFFFFFFu,
               "accepted source %08x", src);
    FUZZ_CHECK(dst != 0 && (dst >> 28) != 0xE && dst != 0xFFFFFFFFu, "accepted destination %08x",
               dst);
    if ((ol & RTE_MBUF_F_RX_IP_CKSUM_MASK) == 0) {
        FUZZ_CHECK(ip_sum_ok(flat.data(), hl), "accepted a wrong IPv4 header checksum");
    }
    FUZZ_CHECK((ol & RTE_MBUF_F_RX_IP_CKSUM_MASK) != RTE_MBUF_F_RX_IP_CKSUM_BAD,
               "accepted a packet the NIC marked IP_CKSUM_BAD");
    // Trimmed to the total length, bytes unchanged.
    const Bytes now = fuzz::flatten(m);
    FUZZ_CHECK(now.size() == total, "not trimmed to the IPv4 total length: %zu != %zu", now.size(),
               total);
    FUZZ_CHECK(std::equal(now.begin(), now.end(), flat.begin()), "parse_ipv4 changed the bytes");
}

/// parse_ipv4_tcp's (or parse_tcp's) outcome against the bytes.
void check_tcp(const rte_mbuf* m, NetDrop r, const TcpSegment& seg, const Bytes& flat, bool chain,
               std::uint64_t ol) {
    FUZZ_CHECK(chain || r != NetDrop::not_contiguous, "single segment reported not_contiguous");
    if (r == NetDrop::bad_tcp_csum && (ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) == 0) {
        const std::size_t hl = (flat[0] & 0xF) * 4u;
        FUZZ_CHECK(!l4_sum_ok(flat.data(), hl, load16(&flat[2]), IPPROTO_TCP),
                   "bad_tcp_csum on a correct checksum");
    }
    if (r == NetDrop::bad_tcp_option) {
        const std::size_t hl = (flat[0] & 0xF) * 4u;
        const std::size_t doff = (flat[hl + 12] >> 4) * 4u;
        TcpOptions o;
        FUZZ_CHECK(ref_options(&flat[hl + 20], doff - 20, flat[hl + 13] & kSyn, o) ==
                       NetDrop::bad_tcp_option,
                   "bad_tcp_option on options the rules accept");
    }
    if (r != NetDrop::none) {
        return;
    }
    const std::size_t hl = (flat[0] & 0xF) * 4u;
    const std::size_t total = load16(&flat[2]);
    const std::uint8_t* t = &flat[hl];
    const std::size_t doff = (t[12] >> 4) * 4u;
    FUZZ_CHECK(flat[9] == IPPROTO_TCP, "accepted protocol %u as TCP", flat[9]);
    FUZZ_CHECK(doff >= 20 && hl + doff <= total, "accepted data offset %zu (l4 %zu)", doff,
               total - hl);
    FUZZ_CHECK(m->pkt_len == total, "pkt_len %u != IPv4 total length %zu", m->pkt_len, total);
    FUZZ_CHECK(seg.payload_off == hl + doff && seg.payload_len == total - hl - doff,
               "payload %u+%u, bytes say %zu+%zu", seg.payload_off, seg.payload_len, hl + doff,
               total - hl - doff);
    FUZZ_CHECK(std::size_t{seg.payload_off} + seg.payload_len == m->pkt_len,
               "payload_off + payload_len != pkt_len");
    FUZZ_CHECK(m->l3_len == hl && m->l4_len == doff, "l3_len/l4_len %u/%u", m->l3_len, m->l4_len);
    FUZZ_CHECK(seg.seq == load32(t + 4) && seg.ack == load32(t + 8) &&
                   seg.window == load16(t + 14) && seg.flags == t[13],
               "TCP header fields differ from the bytes");
    FUZZ_CHECK(seg.ttl == flat[8] && seg.tos == flat[1], "ttl/tos");
    FUZZ_CHECK(std::memcmp(&seg.tuple.raddr, &flat[12], 4) == 0 &&
                   std::memcmp(&seg.tuple.laddr, &flat[16], 4) == 0 &&
                   std::memcmp(&seg.tuple.rport, t, 2) == 0 &&
                   std::memcmp(&seg.tuple.lport, t + 2, 2) == 0,
               "four-tuple differs from the bytes");
    FUZZ_CHECK(seg.tuple.lport != 0 && seg.tuple.rport != 0, "accepted port 0");
    FUZZ_CHECK(seg.opts.sack_count <= 4, "sack_count %u", seg.opts.sack_count);
    if (!(seg.flags & kSyn)) {
        FUZZ_CHECK(!seg.opts.has_mss && !seg.opts.has_wscale && !seg.opts.sack_permitted,
                   "SYN-only options recorded on a non-SYN segment");
    }
    TcpOptions ref;
    FUZZ_CHECK(ref_options(t + 20, doff - 20, seg.flags & kSyn, ref) == NetDrop::none &&
                   same_options(ref, seg.opts),
               "options differ from the reference reading");
    if ((ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) == 0) {
        FUZZ_CHECK(l4_sum_ok(flat.data(), hl, total, IPPROTO_TCP),
                   "accepted a wrong TCP checksum (%s)", chain ? "chain" : "single segment");
    }
    FUZZ_CHECK((ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) != RTE_MBUF_F_RX_L4_CKSUM_BAD,
               "accepted a segment the NIC marked L4_CKSUM_BAD");
    const Bytes now = fuzz::flatten(m);
    FUZZ_CHECK(now.size() == total && std::equal(now.begin(), now.end(), flat.begin()),
               "bytes changed or not trimmed");
    // The payload is readable where the segment says.
    if (seg.payload_len > 0) {
        Bytes buf(seg.payload_len);
        const void* p = rte_pktmbuf_read(m, seg.payload_off, seg.payload_len, buf.data());
        FUZZ_CHECK(p != nullptr, "payload not readable");
        FUZZ_CHECK(std::memcmp(p, &flat[seg.payload_off], seg.payload_len) == 0, "payload bytes");
    }
    // Round trip: the writers produce what the parser reads back.
    TcpFields f;
    f.tuple.laddr = seg.tuple.raddr;
    f.tuple.raddr = seg.tuple.laddr;
    f.tuple.lport = seg.tuple.rport;
    f.tuple.rport = seg.tuple.lport;
    f.seq = seg.seq;
    f.ack = seg.ack;
    f.window = seg.window;
    f.flags = seg.flags;
    f.ttl = seg.ttl;
    f.tos = seg.tos;
    f.syn_options = seg.flags & kSyn;
    f.opts = seg.opts;
    rte_mbuf* b = build_ipv4_tcp(g_mp, f, Checksum::software);
    FUZZ_CHECK(b != nullptr, "build_ipv4_tcp failed");
    TcpSegment back;
    const NetDrop rb = parse_ipv4_tcp(b, back);
    FUZZ_CHECK(rb == NetDrop::none, "a segment built from parsed fields does not parse: %s",
               nm(rb));
    TcpOptions want;
    if (f.syn_options) {
        want.has_mss = seg.opts.has_mss;
        want.mss = seg.opts.mss;
        want.has_wscale = seg.opts.has_wscale;
        want.wscale = seg.opts.wscale;
        want.sack_permitted = seg.opts.sack_permitted;
    }
    want.has_ts = seg.opts.has_ts;
    want.ts_val = seg.opts.ts_val;
    want.ts_ecr = seg.opts.ts_ecr;
    if (!f.syn_options) {
        const std::size_t room = seg.opts.has_ts ? 3 : 4;
        want.sack_count = static_cast<std::uint8_t>(std::min<std::size_t>(seg.opts.sack_count, room));
        std::copy(seg.opts.sack, seg.opts.sack + 4, want.sack);
    }
    FUZZ_CHECK(back.seq == seg.seq && back.ack == seg.ack && back.window == seg.window &&
                   back.flags == seg.flags && back.tuple == seg.tuple && back.payload_len == 0 &&
                   same_options(back.opts, want),
               "round trip through prepend_ipv4_tcp changed the segment");
    rte_pktmbuf_free(b);
}

NetDrop check_icmp(rte_mbuf* m, const Ipv4Info& ip, bool chain) {
    const Bytes before = fuzz::flatten(m);
    const std::uint8_t ttl = static_cast<std::uint8_t>(before[8] ^ 0x5A);
    const NetDrop r = icmp_echo_reply(m, ip, ttl);
    const Bytes after = fuzz::flatten(m);
    const std::size_t hl = ip.hdr_len;
    const std::size_t total = ip.total_len;
    FUZZ_CHECK(chain || r != NetDrop::not_contiguous, "single segment reported not_contiguous");
    if (r != NetDrop::none) {
        FUZZ_CHECK(after == before, "icmp_echo_reply failed (%s) but changed the packet", nm(r));
        if (r == NetDrop::bad_icmp) {
            FUZZ_CHECK(total - hl < 8 || !l4_sum_ok(before.data(), hl, total, IPPROTO_ICMP),
                       "bad_icmp on a complete message with a correct checksum");
        } else if (r == NetDrop::icmp_not_echo) {
            FUZZ_CHECK(before[hl] != 8 || before[hl + 1] != 0, "an echo request refused");
        }
        return r;
    }
    FUZZ_CHECK(total - hl >= 8 && before[hl] == 8 && before[hl + 1] == 0,
               "replied to something not an echo request");
    FUZZ_CHECK(l4_sum_ok(before.data(), hl, total, IPPROTO_ICMP),
               "replied to a request with a wrong checksum");
    FUZZ_CHECK(after.size() == before.size(), "reply length changed");
    FUZZ_CHECK(std::memcmp(&after[12], &before[16], 4) == 0 &&
                   std::memcmp(&after[16], &before[12], 4) == 0,
               "addresses not swapped");
    FUZZ_CHECK(after[8] == ttl && ip_sum_ok(after.data(), hl), "reply IPv4 header (ttl/checksum)");
    FUZZ_CHECK(after[hl] == 0 && after[hl + 1] == 0, "reply type/code");
    FUZZ_CHECK(l4_sum_ok(after.data(), hl, total, IPPROTO_ICMP), "reply ICMP checksum wrong");
    FUZZ_CHECK(std::equal(after.begin() + static_cast<long>(hl) + 4, after.end(),
                          before.begin() + static_cast<long>(hl) + 4),
               "reply changed the identifier, sequence or data");
    return r;
}

/// What a pipeline saw, to compare the single-segment copy with the chain.
struct Outcome {
    std::vector<NetDrop> stages;
    Bytes bytes; // the packet at the end
    TcpSegment seg;
    std::uint8_t proto = 0; // IPv4 protocol, once parse_ipv4 accepted the header
};

void compare(const Outcome& single, const Outcome& chain, const char* what) {
    for (std::size_t i = 0; i < single.stages.size() && i < chain.stages.size(); ++i) {
        if (single.stages[i] == chain.stages[i]) {
            continue;
        }
        FUZZ_CHECK(chain.stages[i] == NetDrop::not_contiguous,
                   "%s: stage %zu is %s in one segment but %s in a chain", what, i,
                   nm(single.stages[i]), nm(chain.stages[i]));
        return;
    }
    FUZZ_CHECK(single.stages.size() == chain.stages.size(), "%s: pipelines diverged", what);
    FUZZ_CHECK(single.bytes == chain.bytes, "%s: chain and single segment end differently", what);
    FUZZ_CHECK(same_segment(single.seg, chain.seg), "%s: parsed segments differ", what);
}

/// IPv4 from a packet already at the L3 header (m owned and freed here).
void ipv4_pipeline(rte_mbuf* m, const Bytes& flat, bool chain, std::uint64_t ol, Outcome& out) {
    Ipv4Info ip;
    const NetDrop r = parse_ipv4(m, ip);
    check_ipv4(m, r, ip, flat, chain, ol);
    out.stages.push_back(r);
    if (r == NetDrop::none) {
        out.proto = ip.proto;
        const Bytes l3(flat.begin(), flat.begin() + ip.total_len);
        if (ip.proto == IPPROTO_TCP) {
            TcpSegment seg;
            const NetDrop rt = parse_tcp(m, ip, seg);
            check_tcp(m, rt, seg, l3, chain, ol);
            out.stages.push_back(rt);
            if (rt == NetDrop::none) {
                out.seg = seg;
            }
        } else if (ip.proto == IPPROTO_ICMP) {
            out.stages.push_back(check_icmp(m, ip, chain));
        }
    }
    out.bytes = fuzz::flatten(m);
    rte_pktmbuf_free(m);
}

void l3_path(const Bytes& b, const Layout& lay, Outcome& out) {
    const bool chain = !lay.cuts.empty();
    // parse_ipv4_tcp in one call.
    rte_mbuf* a = make(b, lay);
    TcpSegment seg;
    const NetDrop ra = parse_ipv4_tcp(a, seg);
    check_tcp(a, ra, seg, b.size() >= 20 ? Bytes(b.begin(), b.begin() + std::min<std::size_t>(
                                                                          b.size(), load16(&b[2])))
                                         : b,
              chain, lay.ol);
    // parse_ipv4 then parse_tcp (or ICMP): the same answer.
    Outcome two;
    ipv4_pipeline(make(b, lay), b, chain, lay.ol, two);
    const NetDrop rip = two.stages.front();
    if (rip != NetDrop::none) {
        FUZZ_CHECK(ra == rip, "parse_ipv4_tcp says %s, parse_ipv4 says %s", nm(ra), nm(rip));
    } else if (two.proto == IPPROTO_TCP) {
        FUZZ_CHECK(ra == two.stages[1], "parse_ipv4_tcp says %s, parse_ipv4 + parse_tcp say %s",
                   nm(ra), nm(two.stages[1]));
        if (ra == NetDrop::none) {
            FUZZ_CHECK(same_segment(seg, two.seg), "parse_ipv4_tcp and parse_tcp differ");
        }
    } else {
        FUZZ_CHECK(ra == NetDrop::not_tcp, "parse_ipv4_tcp says %s for protocol %u", nm(ra),
                   two.proto);
    }
    out = two;
    out.stages.insert(out.stages.begin(), ra);
    out.seg = ra == NetDrop::none ? seg : TcpSegment{};
    rte_pktmbuf_free(a);
}

void l2_path(const Bytes& b, const Layout& lay, Outcome& out) {
    const bool chain = !lay.cuts.empty();
    rte_mbuf* m = make(b, lay);
    EtherInfo eth;
    const NetDrop r = parse_ether(m, eth);
    out.stages.push_back(r);
    FUZZ_CHECK(chain || r != NetDrop::not_contiguous, "single segment reported not_contiguous");
    if (r != NetDrop::none) {
        FUZZ_CHECK(m->pkt_len == b.size(), "parse_ether failed but changed the mbuf");
        if (b.size() >= 14 && r == NetDrop::bad_ether_type) {
            const std::uint16_t type = load16(&b[12]);
            FUZZ_CHECK(type != RTE_ETHER_TYPE_IPV4 && type != RTE_ETHER_TYPE_ARP,
                       "refused EtherType %04x", type);
        }
        out.bytes = fuzz::flatten(m);
        rte_pktmbuf_free(m);
        return;
    }
    FUZZ_CHECK(b.size() >= 14 && m->pkt_len == b.size() - 14, "parse_ether did not strip 14 bytes");
    FUZZ_CHECK(eth.ether_type == load16(&b[12]) &&
                   (eth.ether_type == RTE_ETHER_TYPE_IPV4 || eth.ether_type == RTE_ETHER_TYPE_ARP),
               "EtherType %04x", eth.ether_type);
    FUZZ_CHECK(std::memcmp(&eth.dst, &b[0], 6) == 0 && std::memcmp(&eth.src, &b[6], 6) == 0,
               "MAC addresses");
    const Bytes l3(b.begin() + 14, b.end());
    if (eth.ether_type == RTE_ETHER_TYPE_IPV4) {
        ipv4_pipeline(m, l3, chain, lay.ol, out);
        return;
    }
    ArpInfo arp;
    const NetDrop ra = parse_arp(m, arp);
    out.stages.push_back(ra);
    FUZZ_CHECK(chain || ra != NetDrop::not_contiguous, "single segment reported not_contiguous");
    if (ra == NetDrop::none) {
        FUZZ_CHECK(l3.size() >= 28 && m->pkt_len == 28 && m->data_len == 28 && m->nb_segs == 1 &&
                       m->next == nullptr,
                   "ARP not trimmed to 28 bytes in one segment");
        FUZZ_CHECK(load16(&l3[0]) == 1 && l3[4] == 6 && load16(&l3[2]) == 0x0800 && l3[5] == 4,
                   "accepted ARP that is not Ethernet/IPv4");
        FUZZ_CHECK(arp.op == load16(&l3[6]) && std::memcmp(&arp.sha, &l3[8], 6) == 0 &&
                       std::memcmp(&arp.sip, &l3[14], 4) == 0 &&
                       std::memcmp(&arp.tha, &l3[18], 6) == 0 &&
                       std::memcmp(&arp.tip, &l3[24], 4) == 0,
                   "ArpInfo differs from the bytes");
        const rte_ether_addr me{{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30}};
        const bool ok = arp_make_reply(m, me);
        FUZZ_CHECK(ok == (arp.op == RTE_ARP_OP_REQUEST), "arp_make_reply %d for op %u", ok, arp.op);
        const Bytes f = fuzz::flatten(m);
        if (ok) {
            FUZZ_CHECK(f.size() == 42 && m->l2_len == 14, "ARP reply frame length %zu", f.size());
            FUZZ_CHECK(std::memcmp(&f[0], &l3[8], 6) == 0 && std::memcmp(&f[6], &me, 6) == 0 &&
                           load16(&f[12]) == RTE_ETHER_TYPE_ARP,
                       "ARP reply Ethernet header");
            FUZZ_CHECK(load16(&f[20]) == RTE_ARP_OP_REPLY && std::memcmp(&f[22], &me, 6) == 0 &&
                           std::memcmp(&f[28], &l3[24], 4) == 0 &&
                           std::memcmp(&f[32], &l3[8], 6) == 0 &&
                           std::memcmp(&f[38], &l3[14], 4) == 0,
                       "ARP reply body");
        } else {
            FUZZ_CHECK(f.size() == 28, "a refused ARP reply changed the packet");
        }
    } else {
        FUZZ_CHECK(m->pkt_len == l3.size(), "parse_arp failed but changed the mbuf");
    }
    out.bytes = fuzz::flatten(m);
    rte_pktmbuf_free(m);
}

void options_direct(const Bytes& b, bool syn) {
    // The parser on the raw bytes (as a header's option area, and unbounded), against the rules.
    for (const std::size_t len : {std::min<std::size_t>(b.size(), kMaxOptionBytes), b.size()}) {
        std::unique_ptr<std::uint8_t[]> copy(new std::uint8_t[len == 0 ? 1 : len]);
        if (len > 0) {
            std::memcpy(copy.get(), b.data(), len);
        }
        TcpOptions got;
        TcpOptions ref;
        const NetDrop r = parse_tcp_options(copy.get(), len, syn, got);
        const NetDrop rr = ref_options(copy.get(), len, syn, ref);
        FUZZ_CHECK(r == rr, "parse_tcp_options says %s, the rules %s", nm(r), nm(rr));
        if (r == NetDrop::none) {
            FUZZ_CHECK(same_options(got, ref), "parse_tcp_options fields differ from the rules");
            FUZZ_CHECK(got.sack_count <= 4, "sack_count %u", got.sack_count);
        }
    }
    // The writers, from option values taken from the input, read back by the parser.
    fuzz::Reader in{b.data(), b.size()};
    TcpOptions o;
    const std::uint8_t which = in.u8();
    o.has_mss = which & 1;
    o.has_wscale = which & 2;
    o.sack_permitted = which & 4;
    o.has_ts = which & 8;
    o.sack_count = static_cast<std::uint8_t>((which >> 4) % 6); // 5: more than the array holds
    o.mss = in.u16();
    o.wscale = in.u8();
    o.ts_val = in.u32();
    o.ts_ecr = in.u32();
    for (auto& s : o.sack) {
        s.left = in.u32();
        s.right = in.u32();
    }
    std::unique_ptr<std::uint8_t[]> out(new std::uint8_t[kMaxOptionBytes]);
    const std::size_t ns = write_syn_options(out.get(), o);
    FUZZ_CHECK(ns <= kMaxOptionBytes && ns % 4 == 0, "write_syn_options wrote %zu bytes", ns);
    TcpOptions back;
    FUZZ_CHECK(parse_tcp_options(out.get(), ns, true, back) == NetDrop::none,
               "write_syn_options output does not parse");
    TcpOptions want;
    want.has_mss = o.has_mss;
    want.mss = o.mss;
    want.has_wscale = o.has_wscale;
    want.wscale = o.wscale;
    want.sack_permitted = o.sack_permitted;
    want.has_ts = o.has_ts;
    want.ts_val = o.ts_val;
    want.ts_ecr = o.ts_ecr;
    FUZZ_CHECK(same_options(back, want), "SYN options round trip");
    const std::size_t n = write_options(out.get(), o);
    FUZZ_CHECK(n <= kMaxOptionBytes && n % 4 == 0, "write_options wrote %zu bytes", n);
    FUZZ_CHECK(parse_tcp_options(out.get(), n, false, back) == NetDrop::none,
               "write_options output does not parse");
    want = TcpOptions{};
    want.has_ts = o.has_ts;
    want.ts_val = o.ts_val;
    want.ts_ecr = o.ts_ecr;
    want.sack_count =
        static_cast<std::uint8_t>(std::min<std::size_t>({o.sack_count, 4, o.has_ts ? 3u : 4u}));
    std::copy(o.sack, o.sack + 4, want.sack);
    FUZZ_CHECK(same_options(back, want), "options round trip");
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
    g_mp = fuzz::init_eal_and_pool("fuzz_parse", 1023);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) {
        return 0;
    }
    const std::uint8_t ctrl = data[0];
    Bytes pkt(data + 3, data + std::min<std::size_t>(size, 3 + 65535));

    Layout single;
    single.ol = kIpFlags[(ctrl >> 2) & 3] | kL4Flags[(ctrl >> 4) & 3];
    Layout chained = single;
    const unsigned segs = std::min(3u, (ctrl & 3u) + 1);
    if (segs > 1 && pkt.size() > 1) {
        for (unsigned k = 0; k + 1 < segs; ++k) {
            const std::size_t c = data[1 + k] % pkt.size();
            if (c > 0 && std::find(chained.cuts.begin(), chained.cuts.end(), c) ==
                             chained.cuts.end()) {
                chained.cuts.push_back(c);
            }
        }
        std::sort(chained.cuts.begin(), chained.cuts.end());
    }

    Bytes l3 = pkt;
    Bytes l2 = pkt;
    if (ctrl & 0x40) {
        fix_checksums(l3, 0);
        fix_checksums(l2, 14);
    }

    Outcome s3, s2;
    l3_path(l3, single, s3);
    l2_path(l2, single, s2);
    if (!chained.cuts.empty()) {
        Outcome c3, c2;
        l3_path(l3, chained, c3);
        compare(s3, c3, "IPv4");
        l2_path(l2, chained, c2);
        compare(s2, c2, "Ethernet");
    }
    options_direct(pkt, ctrl & 0x80);
    FUZZ_CHECK(rte_mempool_in_use_count(g_mp) == 0, "mbufs leaked: %u in use",
               rte_mempool_in_use_count(g_mp));
    return 0;
}
