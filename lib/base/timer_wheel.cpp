#include "base/timer_wheel.hpp"

#include <stdexcept>

namespace tcpterm {

TimerWheel::TimerWheel(Nanos tick, Nanos origin) : tick_(tick), origin_(origin) {
    if (tick < kNsPerUs) {
        throw std::invalid_argument("TimerWheel: tick must be >= 1 us");
    }
}

void TimerWheel::start(Timer& t, Nanos deadline) noexcept {
    if (t.armed()) {
        cancel(t);
    }
    std::uint64_t e = deadline <= origin_ ? 0 : (deadline - origin_ + tick_ - 1) / tick_;
    if (e > kMaxTick) {
        e = kMaxTick;
    }
    t.expiry_ = e;
    place(t);
    ++size_;
}

void TimerWheel::cancel(Timer& t) noexcept {
    if (!t.armed()) {
        return;
    }
    const std::uint32_t where = static_cast<std::uint32_t>(t.where_);
    List& l = list_of(where);
    l.erase(l.iterator_to(t));
    if (where != Timer::kOverflow && l.empty()) {
        clear_bit(where >> kSlotBits, where & (kSlots - 1));
    }
    t.where_ = Timer::kIdle;
    --size_;
}

// Places t relative to cur_: level = highest byte in which expiry and cur_ differ. A tick that is
// already due (<= cur_) goes to cur_'s own level-0 slot and fires when cur_ is processed.
void TimerWheel::place(Timer& t) noexcept {
    const std::uint64_t e = t.expiry_;
    unsigned level;
    unsigned slot;
    if (e <= cur_) {
        level = 0;
        slot = static_cast<unsigned>(cur_ & (kSlots - 1));
    } else {
        const std::uint64_t diff = e ^ cur_;
        if (diff >> (kLevels * kSlotBits)) {
            t.where_ = Timer::kOverflow;
            overflow_.push_back(t);
            return;
        }
        level = diff < (1u << 8) ? 0 : diff < (1u << 16) ? 1 : diff < (1u << 24) ? 2 : 3;
        slot = static_cast<unsigned>((e >> (level * kSlotBits)) & (kSlots - 1));
    }
    t.where_ = (level << kSlotBits) | slot;
    slots_[level][slot].push_back(t);
    set_bit(level, slot);
}

// At tick `tick`, every level whose lower bits just wrapped hands its slot for `tick` down; the
// top first, so a timer may fall through several levels in one call and still land on its slot.
void TimerWheel::cascade(std::uint64_t tick) noexcept {
    if ((tick & 0xFFFFFFFFull) == 0 && !overflow_.empty()) {
        List pending;
        pending.splice(pending.end(), overflow_);
        while (!pending.empty()) {
            Timer& t = pending.front();
            pending.pop_front();
            place(t);
        }
    }
    for (unsigned level = kLevels - 1; level >= 1; --level) {
        const unsigned shift = level * kSlotBits;
        if ((tick & ((std::uint64_t{1} << shift) - 1)) != 0) {
            continue;
        }
        const unsigned slot = static_cast<unsigned>((tick >> shift) & (kSlots - 1));
        List& l = slots_[level][slot];
        if (l.empty()) {
            continue;
        }
        List moving;
        moving.splice(moving.end(), l);
        clear_bit(level, slot);
        while (!moving.empty()) {
            Timer& t = moving.front();
            moving.pop_front();
            place(t);
            ++cascaded_count_;
        }
    }
}

int TimerWheel::find_next(const Bitmap& b, unsigned from) noexcept {
    for (unsigned w = from >> 6; w < b.size(); ++w) {
        std::uint64_t word = b[w];
        if (w == (from >> 6)) {
            word &= ~std::uint64_t{0} << (from & 63);
        }
        if (word != 0) {
            return static_cast<int>(w * 64 + static_cast<unsigned>(__builtin_ctzll(word)));
        }
    }
    return -1;
}

// The first tick >= from at which the wheel has work: a non-empty level-0 slot, or a non-empty
// higher-level slot's cascade boundary, or the top-level wrap with timers on the overflow list.
// Levels are checked bottom-up: any event of level L precedes every event of level L+1.
std::uint64_t TimerWheel::next_event(std::uint64_t from) const noexcept {
    if (size_ == 0) {
        return std::numeric_limits<std::uint64_t>::max();
    }
    if ((from & 0xFFFFFFFFull) == 0 && !overflow_.empty()) {
        return from;
    }
    for (unsigned level = 0; level < kLevels; ++level) {
        const unsigned shift = level * kSlotBits;
        unsigned idx = static_cast<unsigned>((from >> shift) & (kSlots - 1));
        if (level > 0 && (from & ((std::uint64_t{1} << shift) - 1)) != 0) {
            ++idx; // this slot's boundary has passed; its timers were cascaded then
            if (idx >= kSlots) {
                continue;
            }
        }
        const int s = find_next(bits_[level], idx);
        if (s >= 0) {
            const unsigned up = shift + kSlotBits;
            const std::uint64_t base = up >= 64 ? 0 : (from >> up) << up;
            const std::uint64_t t = base | (static_cast<std::uint64_t>(s) << shift);
            return t < from ? from : t;
        }
    }
    if (!overflow_.empty()) {
        return ((from >> 32) + 1) << 32;
    }
    return std::numeric_limits<std::uint64_t>::max();
}

} // namespace tcpterm
