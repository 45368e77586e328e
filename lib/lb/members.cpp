// LbWorker's member state (proxy.hpp): the shared per-member state and what a worker does when it
// changes (refresh_members, on a new generation), a reload of its pools (a control command) and
// the counter snapshot telemetry reads. Kept apart from proxy.cpp, which is the per-session data
// path.
#include "lb/health.hpp"
#include "lb/proxy.hpp"

namespace tcpterm::lb {

using engine::MemberAdmin;

std::string_view check_result_name(CheckResult r) noexcept {
    switch (r) {
    case CheckResult::none:
        return "none";
    case CheckResult::ok:
        return "ok";
    case CheckResult::refused:
        return "refused";
    case CheckResult::timeout:
        return "timeout";
    case CheckResult::reset:
        return "reset";
    case CheckResult::bad_status:
        return "bad_status";
    case CheckResult::no_port:
        return "no_port";
    }
    return "?";
}

std::vector<std::unique_ptr<MemberShared[]>> make_member_states(const engine::EngineConfig& cfg) {
    std::vector<std::unique_ptr<MemberShared[]>> out;
    for (const engine::PoolConfig& p : cfg.pools) {
        auto m = std::make_unique<MemberShared[]>(p.members.size());
        for (std::size_t i = 0; i < p.members.size(); ++i) {
            m[i].admin.store(static_cast<std::uint8_t>(p.members[i].state));
        }
        out.push_back(std::move(m));
    }
    return out;
}

MemberState effective(const MemberShared& m) noexcept {
    switch (static_cast<MemberAdmin>(m.admin.load(std::memory_order_relaxed))) {
    case MemberAdmin::down:
        return MemberState::down;
    case MemberAdmin::drain:
        return MemberState::drain;
    case MemberAdmin::up:
        break;
    }
    return m.healthy.load(std::memory_order_relaxed) ? MemberState::up : MemberState::down;
}

// ---- member state -------------------------------------------------------------------------

void LbWorker::refresh_members() noexcept {
    seen_generation_ = shared_.generation.load(std::memory_order_acquire);
    for (auto& p : pools_) {
        for (std::size_t i = 0; i < p->state.size(); ++i) {
            const MemberState now = effective(p->shared[i]);
            const MemberState was = p->state[i];
            if (now == was) {
                continue;
            }
            p->state[i] = now;
            // A control-plane event: the Maglev table may be rebuilt (allocation) here.
            p->sched.set_state(i, now);
            if (now == MemberState::down && p->cfg->reset_on_down) {
                MemberSessions& list = p->sessions[i];
                while (!list.empty()) {
                    Session& s = list.front();
                    s.member_hook.unlink();
                    p->counters[i].add(MemberCounter::resets_on_down);
                    s.vs->counters.add(VsCounter::resets_on_down);
                    abort_leg(s, false);
                    abort_leg(s, true);
                }
            }
        }
    }
}

// ---- reload ----------------------------------------------------------------------------------

void LbWorker::reload(const engine::EngineConfig& cfg, const std::vector<MemberShared*>& states) {
    for (std::size_t pi = 0; pi < pools_.size(); ++pi) {
        PoolRt& old = *pools_[pi];
        std::size_t ni = 0;
        while (ni < cfg.pools.size() && cfg.pools[ni].name != old.cfg->name) {
            ++ni;
        }
        if (ni == cfg.pools.size()) {
            continue; // the control plane refuses such a reload; keep the pool as it is
        }
        auto np = std::make_unique<PoolRt>(cfg.pools[ni], pi, states.at(ni));
        for (std::size_t i = 0; i < old.cfg->members.size(); ++i) {
            const engine::MemberConfig& om = old.cfg->members[i];
            int j = -1;
            for (std::size_t k = 0; k < np->cfg->members.size(); ++k) {
                if (np->cfg->members[k].address == om.address &&
                    np->cfg->members[k].port == om.port) {
                    j = static_cast<int>(k);
                }
            }
            MemberSessions& list = old.sessions[i];
            if (j < 0) {
                // Removed: its sessions finish without a member to account them to.
                while (!list.empty()) {
                    Session& s = list.front();
                    s.member_hook.unlink();
                    s.member = -1;
                }
                continue;
            }
            for (std::size_t k = 0; k < MemberCounters::kSize; ++k) {
                np->counters[j].add(static_cast<MemberCounter>(k), old.counters[i].get(k));
            }
            np->sched.members()[static_cast<std::size_t>(j)].active = old.sched.members()[i].active;
            while (!list.empty()) {
                Session& s = list.front();
                s.member_hook.unlink();
                s.member = j;
                np->sessions[j].push_back(s);
            }
        }
        for (auto& vs : vs_) {
            if (vs->pool == &old) {
                vs->pool = np.get();
            }
        }
        retired_.push_back(std::move(pools_[pi]));
        pools_[pi] = std::move(np);
    }
    if (health_) {
        health_->stop();
        retired_checkers_.push_back(std::move(health_));
        health_ = std::make_unique<HealthChecker>(*this, shared_, ports_);
    }
    refresh_members();
}

void LbWorker::snapshot(std::size_t pool, std::vector<MemberSnapshot>& out) const {
    out.clear();
    if (pool >= pools_.size()) {
        return;
    }
    const PoolRt& p = *pools_[pool];
    for (std::size_t m = 0; m < p.cfg->members.size(); ++m) {
        MemberSnapshot x;
        x.address = p.cfg->members[m].address;
        x.port = p.cfg->members[m].port;
        for (std::size_t k = 0; k < MemberCounters::kSize; ++k) {
            x.counters[k] = p.counters[m].get(k);
        }
        out.push_back(x);
    }
}

} // namespace tcpterm::lb
