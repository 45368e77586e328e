// Congestion control: slow start and congestion avoidance on each ACK outside recovery, and the
// reduction at a congestion event (fast retransmit or RTO).
//
// NewReno (RFC 5681 / 6582): +1 SMSS per ACK in slow start, +SMSS*SMSS/cwnd per ACK in
// congestion avoidance, ssthresh = max(FlightSize / 2, 2 * SMSS).
//
// CUBIC (RFC 9438), the default as in Linux: beta 0.7, C 0.4, fast convergence, the
// Reno-friendly region (W_est), the cubic target clamped to [cwnd, 1.5 * cwnd] (4.2). Windows are
// in bytes; the formulas are in segments, so W_cubic(t) = C * (t - K)^3 * SMSS + W_max. The state
// lives in the connection's LossState, taken at the first congestion event: a connection that
// never lost a segment never leaves slow start (ssthresh is infinite) and needs none. Without one
// (pool empty) the connection uses NewReno. Floating point is fine on a worker (no kernel here);
// cbrt is called once per epoch. Not implemented: HyStart (Linux's slow-start exit) and
// spurious-loss undo (RFC 9438 4.9).
#include "tcp/stack.hpp"

#include <algorithm>
#include <cmath>

namespace tcpterm::tcp {

namespace {

constexpr double kBeta = 0.7; // beta_cubic
constexpr double kC = 0.4;    // C, segments / s^3
// alpha_cubic = 3 * (1 - beta) / (1 + beta): Reno's average rate with CUBIC's reduction (4.3).
constexpr double kAlpha = 3.0 * (1.0 - kBeta) / (1.0 + kBeta);

void reno_avoidance(Tcb& c) noexcept {
    c.cwnd += std::max<std::uint32_t>(1, c.mss * c.mss / std::max<std::uint32_t>(c.cwnd, 1));
}

void cubic_avoidance(Tcb& c, LossState& L, std::uint32_t acked, Nanos now) noexcept {
    const double mss = c.mss;
    const double cwnd = c.cwnd;
    if (L.epoch_start == 0) {
        // A new epoch (the first ACK in congestion avoidance after a reduction), 4.2.
        L.epoch_start = now;
        L.w_est = cwnd;
        L.cwnd_frac = 0;
        if (cwnd < L.w_max) {
            L.k = std::cbrt((L.w_max - cwnd) / mss / kC);
            L.origin = L.w_max;
        } else {
            L.k = 0;
            L.origin = cwnd;
        }
    }
    // t is the time since the epoch plus one RTT: the window cwnd should reach one RTT from now.
    const double t = static_cast<double>(now - L.epoch_start + c.srtt) / 1e9;
    const double d = t - L.k;
    double target = L.origin + kC * d * d * d * mss;
    target = std::clamp(target, cwnd, 1.5 * cwnd);
    // Reno-friendly estimate (4.3): alpha_cubic until W_est reaches the window before the last
    // reduction, then 1.
    const double alpha = L.w_est >= L.cwnd_prior ? 1.0 : kAlpha;
    L.w_est += alpha * mss * static_cast<double>(acked) / cwnd;
    double grow;
    if (L.w_est > target) {
        grow = L.w_est - cwnd; // Reno-friendly region: follow W_est
    } else {
        grow = (target - cwnd) * static_cast<double>(acked) / cwnd; // concave or convex (4.4, 4.5)
    }
    L.cwnd_frac += std::max(grow, 0.0);
    const double whole = std::floor(L.cwnd_frac);
    if (whole >= 1.0) {
        const double room = static_cast<double>(0xFFFFFFFFu - c.cwnd);
        c.cwnd += static_cast<std::uint32_t>(std::min(whole, room));
        L.cwnd_frac -= whole;
    }
}

} // namespace

void TcpStack::cc_on_ack(Tcb& c, std::uint32_t acked) noexcept {
    if (c.cwnd < c.ssthresh) {
        c.cwnd += std::min<std::uint32_t>(acked, c.mss); // slow start (RFC 5681 3.1)
        return;
    }
    if (cfg_.tcp.congestion_control == CongestionControl::cubic && c.loss != nullptr) {
        cubic_avoidance(c, *c.loss, acked, now_);
        return;
    }
    reno_avoidance(c);
}

std::uint32_t TcpStack::cc_on_congestion(Tcb& c) noexcept {
    const std::uint32_t two = 2u * c.mss;
    if (cfg_.tcp.congestion_control == CongestionControl::cubic) {
        if (LossState* L = loss_state(c)) {
            // RFC 9438 4.6-4.7. The window in use is the flight: cwnd is not validated while
            // the application sends less than it allows (RFC 9438 4.6's note on flight_size).
            const std::uint32_t w = std::max(std::min(c.cwnd, c.flight()), two);
            // Fast convergence: a flow whose plateau keeps falling releases bandwidth sooner.
            if (w < L->w_max) {
                L->w_max = static_cast<std::uint32_t>(w * (1.0 + kBeta) / 2.0);
            } else {
                L->w_max = w;
            }
            L->cwnd_prior = w;
            L->epoch_start = 0;
            return std::max(static_cast<std::uint32_t>(w * kBeta), two);
        }
    }
    return std::max(c.flight() / 2, two);
}

} // namespace tcpterm::tcp
