// Wrap-safe sequence-number arithmetic (RFC 9293 3.4: comparisons are modulo 2^32). Every
// comparison of SND.* / RCV.* / SEG.* values in lib/tcp goes through these; a plain `<` on
// sequence numbers is a bug.
#pragma once

#include <cstdint>

namespace tcpterm::tcp {

using Seq = std::uint32_t;

constexpr bool seq_lt(Seq a, Seq b) noexcept {
    return static_cast<std::int32_t>(a - b) < 0;
}
constexpr bool seq_leq(Seq a, Seq b) noexcept {
    return static_cast<std::int32_t>(a - b) <= 0;
}
constexpr bool seq_gt(Seq a, Seq b) noexcept {
    return static_cast<std::int32_t>(a - b) > 0;
}
constexpr bool seq_geq(Seq a, Seq b) noexcept {
    return static_cast<std::int32_t>(a - b) >= 0;
}
/// a <= x < b, modulo 2^32.
constexpr bool seq_in(Seq x, Seq a, Seq b) noexcept {
    return seq_leq(a, x) && seq_lt(x, b);
}
constexpr Seq seq_max(Seq a, Seq b) noexcept {
    return seq_gt(a, b) ? a : b;
}
constexpr Seq seq_min(Seq a, Seq b) noexcept {
    return seq_lt(a, b) ? a : b;
}

static_assert(seq_lt(0xFFFFFFF0u, 0x10u), "wraps");
static_assert(seq_gt(0x10u, 0xFFFFFFF0u), "wraps");
static_assert(seq_in(0u, 0xFFFFFFFFu, 1u), "window across the wrap");

} // namespace tcpterm::tcp
