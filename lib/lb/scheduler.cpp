#include "lb/scheduler.hpp"

#include <rte_hash_crc.h>

#include <stdexcept>

namespace tcpterm::lb {

std::string_view algorithm_name(Algorithm a) noexcept {
    switch (a) {
    case Algorithm::round_robin:
        return "round_robin";
    case Algorithm::least_connections:
        return "least_connections";
    case Algorithm::maglev:
        return "maglev";
    }
    return "?";
}

Scheduler::Scheduler(Algorithm a, std::vector<Member> members)
    : algo_(a), members_(std::move(members)), current_(members_.size(), 0) {
    if (members_.empty()) {
        throw std::invalid_argument("a pool needs at least one member");
    }
    rebuild();
}

void Scheduler::set_state(std::size_t i, MemberState s) {
    const bool was = eligible(i);
    members_.at(i).state = s;
    if (was != eligible(i)) {
        rebuild();
    }
}

// Maglev's population (NSDI 2016, Pseudocode 1): each member i walks its own permutation of the
// M slots, (offset + j * skip) mod M, and members take turns claiming their next free slot until
// the table is full. Weights are honoured by giving a member `weight` turns per round.
void Scheduler::rebuild() {
    if (algo_ != Algorithm::maglev) {
        return;
    }
    const std::uint32_t m = kMaglevSize;
    table_.assign(m, -1);
    std::vector<std::uint32_t> offset(members_.size()), skip(members_.size()),
        next(members_.size(), 0);
    bool any = false;
    for (std::size_t i = 0; i < members_.size(); ++i) {
        const std::uint64_t key = (std::uint64_t{members_[i].addr} << 16) | members_[i].port;
        offset[i] = rte_hash_crc_8byte(key, 0x2545F491u) % m;
        skip[i] = rte_hash_crc_8byte(key, 0x9E3779B9u) % (m - 1) + 1;
        any = any || eligible(i);
    }
    if (!any) {
        return;
    }
    std::uint32_t filled = 0;
    while (true) {
        for (std::size_t i = 0; i < members_.size(); ++i) {
            if (!eligible(i)) {
                continue;
            }
            for (std::uint32_t turn = 0; turn < members_[i].weight; ++turn) {
                std::uint32_t c =
                    static_cast<std::uint32_t>((offset[i] + std::uint64_t{next[i]} * skip[i]) % m);
                while (table_[c] >= 0) {
                    ++next[i];
                    c = static_cast<std::uint32_t>((offset[i] + std::uint64_t{next[i]} * skip[i]) %
                                                   m);
                }
                table_[c] = static_cast<int>(i);
                ++next[i];
                if (++filled == m) {
                    return;
                }
            }
        }
    }
}

int Scheduler::pick(std::uint32_t client) noexcept {
    switch (algo_) {
    case Algorithm::round_robin: {
        // Smooth weighted round robin: add each weight, take the largest, subtract the total.
        std::int64_t total = 0;
        int best = -1;
        for (std::size_t i = 0; i < members_.size(); ++i) {
            if (!eligible(i)) {
                continue;
            }
            current_[i] += members_[i].weight;
            total += members_[i].weight;
            if (best < 0 || current_[i] > current_[static_cast<std::size_t>(best)]) {
                best = static_cast<int>(i);
            }
        }
        if (best >= 0) {
            current_[static_cast<std::size_t>(best)] -= total;
        }
        return best;
    }
    case Algorithm::least_connections: {
        int best = -1;
        for (std::size_t i = 0; i < members_.size(); ++i) {
            if (!eligible(i)) {
                continue;
            }
            // active_i / weight_i < active_best / weight_best, without division.
            if (best < 0 ||
                members_[i].active * members_[static_cast<std::size_t>(best)].weight <
                    members_[static_cast<std::size_t>(best)].active * members_[i].weight) {
                best = static_cast<int>(i);
            }
        }
        return best;
    }
    case Algorithm::maglev:
        if (table_.empty()) {
            return -1;
        }
        return table_[rte_hash_crc_4byte(client, 0x7F4A7C15u) % kMaglevSize];
    }
    return -1;
}

int Scheduler::pick_other(std::uint32_t client, int not_this) noexcept {
    for (std::size_t tries = 0; tries < members_.size() * 2; ++tries) {
        const int i = algo_ == Algorithm::maglev ? -1 : pick(client);
        if (i >= 0 && i != not_this) {
            return i;
        }
        if (algo_ == Algorithm::maglev) {
            break;
        }
    }
    // Maglev (or a pool of one): the next eligible member after the failed one.
    for (std::size_t k = 1; k <= members_.size(); ++k) {
        const std::size_t i =
            (static_cast<std::size_t>(not_this < 0 ? 0 : not_this) + k) % members_.size();
        if (eligible(i) && static_cast<int>(i) != not_this) {
            return static_cast<int>(i);
        }
    }
    return -1;
}

} // namespace tcpterm::lb
