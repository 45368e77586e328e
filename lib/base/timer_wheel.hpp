// TimerWheel: the per-core hierarchical hashed timing wheel that carries every TCP timer.
//
// Design (Varghese & Lauck, as in VPP's tw_timer and the pre-4.8 Linux wheel): 4 levels of 256
// slots, so 2^32 ticks (49.7 days at the default 1 ms tick) are covered by the levels; timers
// further out wait on an overflow list that is re-examined each time the top level wraps. A timer
// is placed by the highest byte in which its expiry tick differs from the wheel's current tick, so
// a cascade moves it to exactly the slot of its own expiry tick: timers never fire early, and never
// later than the first advance() whose tick reaches theirs (the DPVS bug of a 17 ms timer firing at
// 22 ms cannot happen, because nothing is rounded to a slot of a coarser level).
//
// Timers are intrusive (Boost.Intrusive list hooks embedded in the owner): start and cancel are
// O(1) list operations, nothing is allocated. A 256-bit occupancy bitmap per level lets advance()
// skip empty stretches, so a clock jump of hours costs a handful of bitmap scans, not a loop per
// tick. advance() fires at most `max_expiries` timers per call (the rest stay due and fire on the
// next call, in order), so one loop iteration of a worker never stalls on a burst of expiries.
//
// The wheel never reads a clock: advance(now) takes the time, in nanoseconds, from the caller.
#pragma once

#include "base/clock.hpp"

#include <boost/intrusive/list.hpp>

#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace tcpterm {

class TimerWheel;

/// A timer embedded in its owner (24 bytes). `kind` is a free byte for the owner, typically to
/// tell which of its timers fired. A Timer must be cancelled (or have fired) before it is
/// destroyed.
class Timer {
public:
    Timer() noexcept : expiry_(0), where_(kIdle), kind_(0) {}
    explicit Timer(std::uint8_t kind) noexcept : expiry_(0), where_(kIdle), kind_(kind) {}
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;
    ~Timer() { assert(!armed() && "Timer destroyed while armed"); }

    [[nodiscard]] bool armed() const noexcept { return where_ != kIdle; }
    [[nodiscard]] std::uint8_t kind() const noexcept { return static_cast<std::uint8_t>(kind_); }
    void set_kind(std::uint8_t k) noexcept { kind_ = k; }
    /// Expiry in wheel ticks (meaningful while armed).
    [[nodiscard]] std::uint64_t expiry_tick() const noexcept { return expiry_; }

private:
    friend class TimerWheel;
    static constexpr std::uint32_t kIdle = 0xFFF;
    static constexpr std::uint32_t kOverflow = 0xFFE;

    using Hook = boost::intrusive::list_member_hook<
        boost::intrusive::link_mode<boost::intrusive::normal_link>>;
    Hook hook_;
    std::uint64_t expiry_ : 44; // absolute tick since the wheel's origin
    std::uint64_t where_ : 12;  // level * 256 + slot, kOverflow, or kIdle
    std::uint64_t kind_ : 8;
};
static_assert(sizeof(Timer) == 24, "Timer must stay 24 bytes (TIME_WAIT record budget)");

class TimerWheel {
public:
    static constexpr unsigned kLevels = 4;
    static constexpr unsigned kSlotBits = 8;
    static constexpr unsigned kSlots = 1u << kSlotBits;
    static constexpr std::uint64_t kMaxTick = (std::uint64_t{1} << 44) - 1;

    /// `tick` is the wheel's resolution in ns (>= 1 us); `origin` is the time that maps to tick 0,
    /// normally the clock's value when the wheel is created.
    TimerWheel(Nanos tick, Nanos origin);
    TimerWheel(const TimerWheel&) = delete;
    TimerWheel& operator=(const TimerWheel&) = delete;

    /// Arms (or re-arms) `t` to fire at the first advance() whose time is >= `deadline`
    /// (rounded up to a tick). A deadline already passed fires on the next tick.
    void start(Timer& t, Nanos deadline) noexcept;
    /// Disarms `t`; a no-op if it is not armed.
    void cancel(Timer& t) noexcept;

    /// Fires every timer whose tick is <= now's tick, in tick order, calling `fire(Timer&)` for
    /// each after unlinking it (so the callback may re-arm it, or start and cancel any other
    /// timer). Stops after `max_expiries`; the remainder fire on the next call. Returns the count.
    template <class Fire>
    std::size_t advance(Nanos now, Fire&& fire,
                        std::size_t max_expiries = std::numeric_limits<std::size_t>::max());

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] Nanos tick_ns() const noexcept { return tick_; }
    /// The next tick advance() will process.
    [[nodiscard]] std::uint64_t current_tick() const noexcept { return cur_; }
    /// Converts a time to the tick it belongs to (floor).
    [[nodiscard]] std::uint64_t tick_of(Nanos t) const noexcept {
        return t <= origin_ ? 0 : (t - origin_) / tick_;
    }
    /// Cascade operations done so far (timers moved to a lower level), for statistics.
    [[nodiscard]] std::uint64_t cascaded() const noexcept { return cascaded_count_; }

private:
    using List =
        boost::intrusive::list<Timer,
                               boost::intrusive::member_hook<Timer, Timer::Hook, &Timer::hook_>,
                               boost::intrusive::constant_time_size<false>>;
    using Bitmap = std::array<std::uint64_t, kSlots / 64>;

    void place(Timer& t) noexcept;
    void cascade(std::uint64_t tick) noexcept;
    [[nodiscard]] std::uint64_t next_event(std::uint64_t from) const noexcept;
    List& list_of(std::uint32_t where) noexcept {
        return where == Timer::kOverflow ? overflow_
                                         : slots_[where >> kSlotBits][where & (kSlots - 1)];
    }
    void set_bit(unsigned level, unsigned slot) noexcept {
        bits_[level][slot >> 6] |= std::uint64_t{1} << (slot & 63);
    }
    void clear_bit(unsigned level, unsigned slot) noexcept {
        bits_[level][slot >> 6] &= ~(std::uint64_t{1} << (slot & 63));
    }
    static int find_next(const Bitmap& b, unsigned from) noexcept;

    Nanos tick_;
    Nanos origin_;
    std::uint64_t cur_ = 0;     // next tick to process
    bool cur_cascaded_ = false; // cascades for cur_ already done (cap hit mid-tick)
    std::size_t size_ = 0;
    std::uint64_t cascaded_count_ = 0;
    std::array<std::array<List, kSlots>, kLevels> slots_;
    std::array<Bitmap, kLevels> bits_{};
    List overflow_;
};

template <class Fire>
std::size_t TimerWheel::advance(Nanos now, Fire&& fire, std::size_t max_expiries) {
    const std::uint64_t target = tick_of(now);
    std::size_t fired = 0;
    while (cur_ <= target) {
        if (!cur_cascaded_) {
            cascade(cur_);
            cur_cascaded_ = true;
        }
        const unsigned idx = static_cast<unsigned>(cur_ & (kSlots - 1));
        List& slot = slots_[0][idx];
        while (!slot.empty()) {
            if (fired >= max_expiries) {
                return fired;
            }
            Timer& t = slot.front();
            slot.pop_front();
            t.where_ = Timer::kIdle;
            --size_;
            ++fired;
            fire(t); // may start/cancel timers, including into this slot (tick <= cur_)
        }
        clear_bit(0, idx);
        const std::uint64_t next = next_event(cur_ + 1);
        cur_ = next < target + 1 ? next : target + 1;
        cur_cascaded_ = false;
    }
    return fired;
}

} // namespace tcpterm
