// Load-balancer counters, each list defined once (X-macros, as lib/tcp/stats.hpp): names for
// telemetry and tcpterm-ctl, descriptions for docs/load-balancer.md. A worker is the only writer
// of its counters (a relaxed load and store: no locked instruction); telemetry sums them across
// workers with relaxed loads.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace tcpterm::lb {

#define TCPTERM_VS_COUNTERS(X)                                                                     \
    X(accepted, "client connections accepted")                                                     \
    X(active, "sessions open now (client leg alive)")                                              \
    X(completed, "sessions ended with both directions closed in order")                            \
    X(bytes_in, "bytes relayed client -> backend")                                                 \
    X(bytes_out, "bytes relayed backend -> client")                                                \
    X(refused_no_member, "clients reset: no member up")                                            \
    X(refused_member_limit, "clients reset: every eligible member at its max_connections")         \
    X(refused_no_session, "clients reset: session pool exhausted")                                 \
    X(refused_no_port, "backend connects impossible: source port range exhausted")                 \
    X(refused_no_memory, "backend connects impossible: control blocks exhausted")                  \
    X(refused_no_route, "backend connects impossible: no port routes to the member")               \
    X(over_limit, "handshakes completed past max_connections, then reset (SYNs met by the closed " \
                  "gate count in the TCP stats syn_gate_*)")                                       \
    X(connect_retries, "backend connects retried on another member")                               \
    X(connect_refused, "backend connects refused (RST)")                                           \
    X(connect_timeout, "backend connects not answered within connect_timeout")                     \
    X(connect_failed, "clients reset after every connect attempt failed")                          \
    X(client_resets, "client legs reset by the client; backend leg closed per on_reset")           \
    X(server_resets, "backend legs reset by the backend; client leg closed per on_reset")          \
    X(client_timeouts, "client legs timed out (idle, keepalive, user timeout)")                    \
    X(server_timeouts, "backend legs timed out (idle, keepalive, user timeout)")                   \
    X(resets_on_down, "sessions reset because their member went down (reset_on_down)")

#define TCPTERM_MEMBER_COUNTERS(X)                                                                 \
    X(active, "sessions open to the member now")                                                   \
    X(total, "backend connections opened to the member")                                           \
    X(connect_refused, "connects refused (RST)")                                                   \
    X(connect_timeout, "connects not answered within connect_timeout")                             \
    X(bytes_in, "bytes sent to the member")                                                        \
    X(bytes_out, "bytes received from the member")                                                 \
    X(resets_on_down, "sessions reset when the member went down")

#define TCPTERM_LB_ENUM_OF(n, d) n,
enum class VsCounter : std::uint8_t { TCPTERM_VS_COUNTERS(TCPTERM_LB_ENUM_OF) count };
enum class MemberCounter : std::uint8_t { TCPTERM_MEMBER_COUNTERS(TCPTERM_LB_ENUM_OF) count };
#undef TCPTERM_LB_ENUM_OF

#define TCPTERM_LB_NAME_OF(n, d) #n,
#define TCPTERM_LB_DESC_OF(n, d) d,
inline constexpr std::array<std::string_view, static_cast<std::size_t>(VsCounter::count)>
    kVsCounterNames{TCPTERM_VS_COUNTERS(TCPTERM_LB_NAME_OF)};
inline constexpr std::array<std::string_view, static_cast<std::size_t>(VsCounter::count)>
    kVsCounterDescs{TCPTERM_VS_COUNTERS(TCPTERM_LB_DESC_OF)};
inline constexpr std::array<std::string_view, static_cast<std::size_t>(MemberCounter::count)>
    kMemberCounterNames{TCPTERM_MEMBER_COUNTERS(TCPTERM_LB_NAME_OF)};
inline constexpr std::array<std::string_view, static_cast<std::size_t>(MemberCounter::count)>
    kMemberCounterDescs{TCPTERM_MEMBER_COUNTERS(TCPTERM_LB_DESC_OF)};
#undef TCPTERM_LB_NAME_OF
#undef TCPTERM_LB_DESC_OF

/// Counters with one writer (the owning worker) and any number of readers.
template <class E>
class CounterSet {
public:
    static constexpr std::size_t kSize = static_cast<std::size_t>(E::count);

    void add(E e, std::uint64_t n = 1) noexcept {
        auto& v = v_[static_cast<std::size_t>(e)];
        v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void sub(E e, std::uint64_t n = 1) noexcept {
        auto& v = v_[static_cast<std::size_t>(e)];
        v.store(v.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t get(E e) const noexcept {
        return v_[static_cast<std::size_t>(e)].load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t get(std::size_t i) const noexcept {
        return v_[i].load(std::memory_order_relaxed);
    }

private:
    std::array<std::atomic<std::uint64_t>, kSize> v_{};
};

using VsCounters = CounterSet<VsCounter>;
using MemberCounters = CounterSet<MemberCounter>;

} // namespace tcpterm::lb
