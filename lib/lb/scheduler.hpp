// Backend selection for a pool, per core and lock-free: every worker holds its own copy of the
// pool's members and scheduler state; member changes arrive as messages and rebuild the copy.
//
//   - RoundRobin: smooth weighted round robin (nginx's algorithm): over any window of W picks,
//     a member of weight w is picked w times, interleaved rather than in bursts.
//   - LeastConnections: weighted least connections (active / weight, ties to the earlier).
//   - Maglev: consistent hashing on the client address (Eisenbud et al., NSDI 2016): a lookup
//     table of a prime size M filled by each member's (offset, skip) permutation, so adding or
//     removing a member moves about 1/N of the clients, and lookup is one table read.
//
// Members that are down or draining are never picked.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tcpterm::lb {

enum class MemberState : std::uint8_t { up, down, drain };
enum class Algorithm : std::uint8_t { round_robin, least_connections, maglev };

struct Member {
    std::uint32_t addr = 0; // host order
    std::uint16_t port = 0;
    std::uint32_t weight = 1;
    MemberState state = MemberState::up;
    std::uint64_t active = 0; // connections open to it (this core)
};

class Scheduler {
public:
    static constexpr std::uint32_t kMaglevSize = 65537; // prime, >> members * 100

    Scheduler(Algorithm a, std::vector<Member> members);

    /// Index of the chosen member, or -1 if none is up. `client` (host order) is used by Maglev.
    [[nodiscard]] int pick(std::uint32_t client) noexcept;
    /// Index of another member than `not_this` (connect retry), or -1.
    [[nodiscard]] int pick_other(std::uint32_t client, int not_this) noexcept;

    /// Replaces the state of member i (rebuilds the Maglev table when eligibility changes).
    void set_state(std::size_t i, MemberState s);
    [[nodiscard]] std::vector<Member>& members() noexcept { return members_; }
    [[nodiscard]] const std::vector<Member>& members() const noexcept { return members_; }
    [[nodiscard]] Algorithm algorithm() const noexcept { return algo_; }
    /// The Maglev lookup table (member index per slot, -1 when nobody is up).
    [[nodiscard]] const std::vector<int>& maglev_table() const noexcept { return table_; }

private:
    void rebuild();
    [[nodiscard]] bool eligible(std::size_t i) const noexcept {
        return members_[i].state == MemberState::up && members_[i].weight > 0;
    }

    Algorithm algo_;
    std::vector<Member> members_;
    std::vector<std::int64_t> current_; // smooth WRR state
    std::vector<int> table_;            // Maglev
};

[[nodiscard]] std::string_view algorithm_name(Algorithm a) noexcept;

} // namespace tcpterm::lb
