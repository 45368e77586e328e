// TCP option parsing and writing. Parsing is strict where Linux is lenient (a known option with
// the wrong length drops the segment rather than being ignored): a malformed option is counted as
// bad_tcp_option instead of being half-understood. Writing follows Linux's tcp_options_write()
// word by word (net/ipv4/tcp_output.c), so every option starts at the offset Linux uses and
// packetdrill scripts written against Linux match byte for byte.
#include "net/tcp_options.hpp"

#include <algorithm>

namespace tcpterm::net {

namespace {

inline constexpr std::uint8_t kLenMss = 4;
inline constexpr std::uint8_t kLenWscale = 3;
inline constexpr std::uint8_t kLenSackPerm = 2;
inline constexpr std::uint8_t kLenTimestamp = 10;
inline constexpr std::uint8_t kLenSackBase = 2;
inline constexpr std::uint8_t kLenSackBlock = 8;

std::uint16_t load16(const std::uint8_t* p) noexcept {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

std::uint32_t load32(const std::uint8_t* p) noexcept {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

std::uint8_t* put4(std::uint8_t* out, std::uint8_t a, std::uint8_t b, std::uint8_t c,
                   std::uint8_t d) noexcept {
    out[0] = a;
    out[1] = b;
    out[2] = c;
    out[3] = d;
    return out + 4;
}

std::uint8_t* put32(std::uint8_t* out, std::uint32_t v) noexcept {
    return put4(out, static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v));
}

} // namespace

NetDrop parse_tcp_options(const std::uint8_t* p, std::size_t len, bool syn,
                          TcpOptions& out) noexcept {
    out = TcpOptions{};
    std::size_t i = 0;
    while (i < len) {
        const std::uint8_t kind = p[i];
        if (kind == kOptEol) {
            break; // the rest is padding
        }
        if (kind == kOptNop) {
            ++i;
            continue;
        }
        if (i + 1 >= len) {
            return NetDrop::bad_tcp_option; // kind byte without its length byte
        }
        const std::uint8_t olen = p[i + 1];
        if (olen < 2 || olen > len - i) {
            return NetDrop::bad_tcp_option; // would loop forever or run past the header
        }
        const std::uint8_t* v = p + i + 2;
        switch (kind) {
        case kOptMss:
            if (olen != kLenMss) {
                return NetDrop::bad_tcp_option;
            }
            if (syn) {
                out.has_mss = true;
                out.mss = load16(v);
            }
            break;
        case kOptWscale:
            if (olen != kLenWscale) {
                return NetDrop::bad_tcp_option;
            }
            if (syn) {
                out.has_wscale = true;
                out.wscale = v[0];
            }
            break;
        case kOptSackPerm:
            if (olen != kLenSackPerm) {
                return NetDrop::bad_tcp_option;
            }
            if (syn) {
                out.sack_permitted = true;
            }
            break;
        case kOptSack: {
            if (olen < kLenSackBase + kLenSackBlock || (olen - kLenSackBase) % kLenSackBlock != 0) {
                return NetDrop::bad_tcp_option;
            }
            const std::size_t blocks = (olen - kLenSackBase) / kLenSackBlock;
            const std::size_t keep = std::min<std::size_t>(blocks, std::size(out.sack));
            for (std::size_t b = 0; b < keep; ++b) {
                out.sack[b].left = load32(v + b * kLenSackBlock);
                out.sack[b].right = load32(v + b * kLenSackBlock + 4);
            }
            out.sack_count = static_cast<std::uint8_t>(keep);
            break;
        }
        case kOptTimestamp:
            if (olen != kLenTimestamp) {
                return NetDrop::bad_tcp_option;
            }
            out.has_ts = true;
            out.ts_val = load32(v);
            out.ts_ecr = load32(v + 4);
            break;
        default:
            break; // unknown: skipped by its length
        }
        i += olen;
    }
    return NetDrop::none;
}

std::size_t write_syn_options(std::uint8_t* out, const TcpOptions& o) noexcept {
    std::uint8_t* p = out;
    if (o.has_mss) {
        p = put4(p, kOptMss, kLenMss, static_cast<std::uint8_t>(o.mss >> 8),
                 static_cast<std::uint8_t>(o.mss));
    }
    if (o.has_ts) {
        // Linux folds SACK-permitted into the two bytes that would otherwise pad TS.
        p = o.sack_permitted ? put4(p, kOptSackPerm, kLenSackPerm, kOptTimestamp, kLenTimestamp)
                             : put4(p, kOptNop, kOptNop, kOptTimestamp, kLenTimestamp);
        p = put32(p, o.ts_val);
        p = put32(p, o.ts_ecr);
    } else if (o.sack_permitted) {
        p = put4(p, kOptNop, kOptNop, kOptSackPerm, kLenSackPerm);
    }
    if (o.has_wscale) {
        p = put4(p, kOptNop, kOptWscale, kLenWscale, o.wscale);
    }
    return static_cast<std::size_t>(p - out);
}

std::size_t write_options(std::uint8_t* out, const TcpOptions& o) noexcept {
    std::uint8_t* p = out;
    if (o.has_ts) {
        p = put4(p, kOptNop, kOptNop, kOptTimestamp, kLenTimestamp);
        p = put32(p, o.ts_val);
        p = put32(p, o.ts_ecr);
    }
    const std::size_t room = (kMaxOptionBytes - static_cast<std::size_t>(p - out) - 4) / 8;
    const std::size_t n = std::min<std::size_t>({o.sack_count, std::size(o.sack), room});
    if (n > 0) {
        p = put4(p, kOptNop, kOptNop, kOptSack,
                 static_cast<std::uint8_t>(kLenSackBase + n * kLenSackBlock));
        for (std::size_t b = 0; b < n; ++b) {
            p = put32(p, o.sack[b].left);
            p = put32(p, o.sack[b].right);
        }
    }
    return static_cast<std::size_t>(p - out);
}

} // namespace tcpterm::net
