#include "lb/balancer.hpp"

#include "lb/proxy.hpp"

#include "engine/engine.hpp"

#include <fmt/core.h>
#include <rte_telemetry.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstring>
#include <mutex>
#include <string_view>

namespace tcpterm::lb {

namespace {

std::atomic<LoadBalancer*> g_lb{nullptr};

std::string addr_str(std::uint32_t a, std::uint16_t port) {
    return fmt::format("{}.{}.{}.{}:{}", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, port);
}

std::uint64_t member_key(std::uint32_t addr, std::uint16_t port) {
    return (std::uint64_t{addr} << 16) | port;
}

std::string_view admin_name(engine::MemberAdmin a) {
    switch (a) {
    case engine::MemberAdmin::up:
        return "up";
    case engine::MemberAdmin::down:
        return "down";
    case engine::MemberAdmin::drain:
        return "drain";
    }
    return "?";
}

std::string_view state_name(MemberState s) {
    switch (s) {
    case MemberState::up:
        return "up";
    case MemberState::down:
        return "down";
    case MemberState::drain:
        return "drain";
    }
    return "?";
}

std::string_view algo_name(engine::PoolAlgorithm a) {
    switch (a) {
    case engine::PoolAlgorithm::round_robin:
        return "round_robin";
    case engine::PoolAlgorithm::least_connections:
        return "least_connections";
    case engine::PoolAlgorithm::maglev:
        return "maglev";
    }
    return "?";
}

std::string_view check_name(engine::HealthCheckType t) {
    switch (t) {
    case engine::HealthCheckType::none:
        return "none";
    case engine::HealthCheckType::tcp:
        return "tcp";
    case engine::HealthCheckType::http:
        return "http";
    }
    return "?";
}

int handle_vs(const char* /*cmd*/, const char* /*params*/, rte_tel_data* d) {
    LoadBalancer* lb = g_lb.load(std::memory_order_acquire);
    if (lb == nullptr) {
        return -1;
    }
    lb->fill_vs(d);
    return 0;
}

int handle_pool(const char* /*cmd*/, const char* params, rte_tel_data* d) {
    LoadBalancer* lb = g_lb.load(std::memory_order_acquire);
    if (lb == nullptr) {
        return -1;
    }
    return lb->fill_pool(params == nullptr ? "" : params, d);
}

int handle_member(const char* /*cmd*/, const char* params, rte_tel_data* d) {
    LoadBalancer* lb = g_lb.load(std::memory_order_acquire);
    if (lb == nullptr || params == nullptr) {
        return -EINVAL;
    }
    // POOL,ADDR:PORT,STATE
    const std::string_view p = params;
    const auto c1 = p.find(',');
    const auto c2 = c1 == std::string_view::npos ? c1 : p.find(',', c1 + 1);
    if (c2 == std::string_view::npos) {
        return -EINVAL;
    }
    const std::string pool(p.substr(0, c1));
    const std::string member(p.substr(c1 + 1, c2 - c1 - 1));
    const std::string_view st = p.substr(c2 + 1);
    engine::MemberAdmin admin;
    if (st == "up") {
        admin = engine::MemberAdmin::up;
    } else if (st == "down") {
        admin = engine::MemberAdmin::down;
    } else if (st == "drain") {
        admin = engine::MemberAdmin::drain;
    } else {
        return -EINVAL;
    }
    const std::string err = lb->set_member(pool, member, admin);
    rte_tel_data_start_dict(d);
    if (!err.empty()) {
        rte_tel_data_add_dict_string(d, "error", err.c_str());
        return 0;
    }
    rte_tel_data_add_dict_string(d, "pool", pool.c_str());
    rte_tel_data_add_dict_string(d, "member", member.c_str());
    rte_tel_data_add_dict_string(d, "admin", std::string(st).c_str());
    return 0;
}

} // namespace

LoadBalancer::LoadBalancer(const engine::EngineConfig& cfg)
    : cfg_(&cfg), states_(make_member_states(cfg)), shared_(std::make_unique<Shared>()) {}

LoadBalancer::~LoadBalancer() {
    LoadBalancer* self = this;
    g_lb.compare_exchange_strong(self, nullptr);
}

engine::AppFactory LoadBalancer::factory() {
    return [this](engine::WorkerHost& host) -> std::unique_ptr<engine::WorkerApp> {
        std::lock_guard<std::mutex> g(mu_);
        cfg_ = &host.config(); // the engine's own copy (same pools as the one states_ came from)
        std::vector<MemberShared*> states;
        for (auto& a : states_) {
            states.push_back(a.get());
        }
        auto w = std::make_unique<LbWorker>(host, *shared_, states);
        workers_.push_back(w.get());
        return w;
    };
}

std::string LoadBalancer::set_member(const std::string& pool, const std::string& addr_port,
                                     engine::MemberAdmin state) {
    std::lock_guard<std::mutex> g(mu_);
    const auto& pools = cfg_->pools;
    for (std::size_t p = 0; p < pools.size(); ++p) {
        if (pools[p].name != pool) {
            continue;
        }
        for (std::size_t m = 0; m < pools[p].members.size(); ++m) {
            if (addr_str(pools[p].members[m].address, pools[p].members[m].port) == addr_port) {
                states_[p][m].admin.store(static_cast<std::uint8_t>(state));
                shared_->publish();
                return {};
            }
        }
        return fmt::format("pool {} has no member {}", pool, addr_port);
    }
    return fmt::format("no pool {}", pool);
}

void LoadBalancer::fill_vs(rte_tel_data* d) {
    std::lock_guard<std::mutex> g(mu_);
    rte_tel_data_start_dict(d);
    const auto& vss = cfg_->virtual_servers;
    for (std::size_t v = 0; v < vss.size(); ++v) {
        rte_tel_data* c = rte_tel_data_alloc();
        if (c == nullptr) {
            return;
        }
        rte_tel_data_start_dict(c);
        rte_tel_data_add_dict_string(c, "address", addr_str(vss[v].address, vss[v].port).c_str());
        rte_tel_data_add_dict_string(c, "pool", vss[v].pool.c_str());
        rte_tel_data_add_dict_u64(c, "cps", v < vs_cps_.size() ? vs_cps_[v] : 0);
        for (std::size_t k = 0; k < VsCounters::kSize; ++k) {
            std::uint64_t sum = 0;
            for (const LbWorker* w : workers_) {
                if (v < w->virtual_servers().size()) { // never changes after construction
                    sum += w->virtual_servers()[v]->counters.get(k);
                }
            }
            rte_tel_data_add_dict_u64(c, std::string(kVsCounterNames[k]).c_str(), sum);
        }
        if (rte_tel_data_add_dict_container(d, vss[v].name.c_str(), c, 0) != 0) {
            rte_tel_data_free(c);
        }
    }
}

int LoadBalancer::fill_pool(const std::string& want, rte_tel_data* d) {
    std::lock_guard<std::mutex> g(mu_);
    const auto& pools = cfg_->pools;
    rte_tel_data_start_dict(d);
    if (want.empty()) {
        for (std::size_t p = 0; p < pools.size(); ++p) {
            rte_tel_data* c = rte_tel_data_alloc();
            if (c == nullptr) {
                return -ENOMEM;
            }
            rte_tel_data_start_dict(c);
            rte_tel_data_add_dict_string(c, "algorithm",
                                         std::string(algo_name(pools[p].algorithm)).c_str());
            rte_tel_data_add_dict_string(c, "health_check",
                                         std::string(check_name(pools[p].health_check)).c_str());
            std::uint64_t up = 0;
            for (std::size_t m = 0; m < pools[p].members.size(); ++m) {
                up += effective(states_[p][m]) == MemberState::up ? 1 : 0;
            }
            rte_tel_data_add_dict_u64(c, "members", pools[p].members.size());
            rte_tel_data_add_dict_u64(c, "members_up", up);
            if (rte_tel_data_add_dict_container(d, pools[p].name.c_str(), c, 0) != 0) {
                rte_tel_data_free(c);
            }
        }
        return 0;
    }
    std::size_t p = 0;
    while (p < pools.size() && pools[p].name != want) {
        ++p;
    }
    if (p == pools.size()) {
        return -EINVAL;
    }
    const std::vector<std::vector<MemberSnapshot>> snaps = snapshot_pool(p);
    const std::uint64_t clock = shared_->clock_ns.load(std::memory_order_relaxed);
    rte_tel_data_add_dict_string(d, "algorithm",
                                 std::string(algo_name(pools[p].algorithm)).c_str());
    rte_tel_data_add_dict_string(d, "health_check",
                                 std::string(check_name(pools[p].health_check)).c_str());
    for (std::size_t m = 0; m < pools[p].members.size(); ++m) {
        const engine::MemberConfig& mc = pools[p].members[m];
        const MemberShared& ms = states_[p][m];
        rte_tel_data* c = rte_tel_data_alloc();
        if (c == nullptr) {
            return -ENOMEM;
        }
        rte_tel_data_start_dict(c);
        rte_tel_data_add_dict_string(c, "address", addr_str(mc.address, mc.port).c_str());
        rte_tel_data_add_dict_u64(c, "weight", mc.weight);
        rte_tel_data_add_dict_string(
            c, "admin",
            std::string(admin_name(static_cast<engine::MemberAdmin>(ms.admin.load()))).c_str());
        rte_tel_data_add_dict_string(c, "health", ms.healthy.load() ? "up" : "down");
        rte_tel_data_add_dict_string(c, "state", std::string(state_name(effective(ms))).c_str());
        for (std::size_t k = 0; k < MemberCounters::kSize; ++k) {
            std::uint64_t sum = 0;
            for (const auto& snap : snaps) {
                for (const MemberSnapshot& x : snap) {
                    if (x.address == mc.address && x.port == mc.port) {
                        sum += x.counters[k];
                    }
                }
            }
            rte_tel_data_add_dict_u64(c, std::string(kMemberCounterNames[k]).c_str(), sum);
        }
        std::uint64_t cps = 0;
        if (p < member_cps_.size()) {
            for (const auto& [key, rate] : member_cps_[p]) {
                cps = key == member_key(mc.address, mc.port) ? rate : cps;
            }
        }
        rte_tel_data_add_dict_u64(c, "cps", cps);
        rte_tel_data_add_dict_u64(c, "checks_ok", ms.checks_ok.load());
        rte_tel_data_add_dict_u64(c, "checks_failed", ms.checks_failed.load());
        rte_tel_data_add_dict_string(
            c, "last_check",
            std::string(check_result_name(static_cast<CheckResult>(ms.last.load()))).c_str());
        const std::uint64_t at = ms.last_check_ns.load();
        rte_tel_data_add_dict_u64(c, "last_check_age_ms",
                                  at == 0 || clock < at ? 0 : (clock - at) / 1'000'000);
        // Keyed by index: telemetry names allow letters, digits, '_', '/' and '.' only.
        if (rte_tel_data_add_dict_container(d, fmt::format("{}", m).c_str(), c, 0) != 0) {
            rte_tel_data_free(c);
        }
    }
    return 0;
}

// Member counters: a snapshot taken by each worker on its own lcore (caller holds mu_).
std::vector<std::vector<MemberSnapshot>> LoadBalancer::snapshot_pool(std::size_t p) {
    std::vector<std::vector<MemberSnapshot>> snaps(workers_.size());
    for (std::size_t i = 0; i < workers_.size() && engine_ != nullptr; ++i) {
        engine::Command c;
        c.kind = engine::Command::Kind::call;
        LbWorker* w = workers_[i];
        std::vector<MemberSnapshot>* out = &snaps[i];
        c.fn = [w, p, out] { w->snapshot(p, *out); };
        engine_->run_command(i, c, sec(1));
    }
    return snaps;
}

void LoadBalancer::tick() {
    std::lock_guard<std::mutex> g(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (now - rate_at_ < std::chrono::seconds(1)) {
        return;
    }
    const bool first = rate_at_ == std::chrono::steady_clock::time_point{};
    const double dt = std::chrono::duration<double>(now - rate_at_).count();
    rate_at_ = now;
    const auto rate = [&](std::uint64_t now_total, std::uint64_t before) -> std::uint64_t {
        return first || now_total < before
                   ? 0
                   : static_cast<std::uint64_t>(static_cast<double>(now_total - before) / dt + 0.5);
    };
    const std::size_t nvs = cfg_->virtual_servers.size();
    vs_accepted_.resize(nvs, 0);
    vs_cps_.resize(nvs, 0);
    for (std::size_t v = 0; v < nvs; ++v) {
        std::uint64_t sum = 0;
        for (const LbWorker* w : workers_) {
            if (v < w->virtual_servers().size()) {
                sum += w->virtual_servers()[v]->counters.get(VsCounter::accepted);
            }
        }
        vs_cps_[v] = rate(sum, vs_accepted_[v]);
        vs_accepted_[v] = sum;
    }
    member_total_.resize(cfg_->pools.size());
    member_cps_.assign(cfg_->pools.size(), {});
    for (std::size_t p = 0; p < cfg_->pools.size(); ++p) {
        std::vector<std::pair<std::uint64_t, std::uint64_t>> totals;
        for (const auto& snap : snapshot_pool(p)) {
            for (const MemberSnapshot& x : snap) {
                const std::uint64_t key = member_key(x.address, x.port);
                const std::uint64_t t = x.counters[static_cast<std::size_t>(MemberCounter::total)];
                auto it = std::find_if(totals.begin(), totals.end(),
                                       [&](const auto& e) { return e.first == key; });
                if (it == totals.end()) {
                    totals.emplace_back(key, t);
                } else {
                    it->second += t;
                }
            }
        }
        for (const auto& [key, t] : totals) {
            std::uint64_t before = t;
            for (const auto& [k2, b] : member_total_[p]) {
                before = k2 == key ? b : before;
            }
            const bool known = std::any_of(member_total_[p].begin(), member_total_[p].end(),
                                           [&](const auto& e) { return e.first == key; });
            member_cps_[p].emplace_back(key, known ? rate(t, before) : 0);
        }
        member_total_[p] = std::move(totals);
    }
}

namespace {

bool same_virtual_server(const engine::VirtualServerConfig& a,
                         const engine::VirtualServerConfig& b) {
    return a.name == b.name && a.address == b.address && a.port == b.port && a.pool == b.pool &&
           a.client_profile == b.client_profile && a.server_profile == b.server_profile &&
           a.backlog == b.backlog && a.max_connections == b.max_connections &&
           a.over_limit == b.over_limit && a.connect_retries == b.connect_retries &&
           a.connect_timeout == b.connect_timeout && a.on_reset == b.on_reset &&
           a.source_address == b.source_address;
}

} // namespace

bool LoadBalancer::reload(const std::string& path) {
    std::vector<engine::ConfigError> errors;
    auto next = std::make_unique<engine::EngineConfig>(engine::load_config(path, errors));
    if (!errors.empty()) {
        for (const auto& e : errors) {
            fmt::print("{}\n", e.message);
        }
        fmt::print("tcpterm: reload of {} rejected ({} error(s)); the running configuration "
                   "stays\n",
                   path, errors.size());
        return false;
    }
    std::lock_guard<std::mutex> g(mu_);
    // Pools are matched by name: the virtual servers refer to them.
    std::vector<std::string> problems;
    for (const engine::PoolConfig& p : cfg_->pools) {
        if (std::none_of(next->pools.begin(), next->pools.end(),
                         [&](const engine::PoolConfig& q) { return q.name == p.name; })) {
            problems.push_back(fmt::format("pool {} removed", p.name));
        }
    }
    for (const engine::PoolConfig& q : next->pools) {
        if (std::none_of(cfg_->pools.begin(), cfg_->pools.end(),
                         [&](const engine::PoolConfig& p) { return q.name == p.name; })) {
            problems.push_back(fmt::format("pool {} added", q.name));
        }
    }
    if (!problems.empty()) {
        for (const auto& p : problems) {
            fmt::print("{}: {} (pools can be changed by a reload, not added or removed)\n", path,
                       p);
        }
        fmt::print("tcpterm: reload of {} rejected; the running configuration stays\n", path);
        return false;
    }
    bool vs_same = cfg_->virtual_servers.size() == next->virtual_servers.size();
    for (std::size_t i = 0; vs_same && i < cfg_->virtual_servers.size(); ++i) {
        vs_same = same_virtual_server(cfg_->virtual_servers[i], next->virtual_servers[i]);
    }
    if (!vs_same) {
        fmt::print("tcpterm: {}: [[virtual_server]] changes are not applied by a reload "
                   "(restart to apply them)\n",
                   path);
    }
    // New member states in the running configuration's pool order; health carries over for
    // members that stay (same address:port), admin comes from the file.
    std::vector<std::unique_ptr<MemberShared[]>> states;
    std::vector<MemberShared*> by_new_index(next->pools.size(), nullptr);
    auto fresh = make_member_states(*next);
    std::size_t added = 0;
    std::size_t removed = 0;
    for (std::size_t q = 0; q < next->pools.size(); ++q) {
        std::size_t p = 0;
        while (cfg_->pools[p].name != next->pools[q].name) {
            ++p;
        }
        const auto& om = cfg_->pools[p].members;
        const auto& nm = next->pools[q].members;
        for (std::size_t j = 0; j < nm.size(); ++j) {
            bool found = false;
            for (std::size_t i = 0; i < om.size(); ++i) {
                if (om[i].address == nm[j].address && om[i].port == nm[j].port) {
                    found = true;
                    fresh[q][j].healthy.store(states_[p][i].healthy.load());
                    fresh[q][j].last.store(states_[p][i].last.load());
                    fresh[q][j].last_check_ns.store(states_[p][i].last_check_ns.load());
                    fresh[q][j].checks_ok.store(states_[p][i].checks_ok.load());
                    fresh[q][j].checks_failed.store(states_[p][i].checks_failed.load());
                }
            }
            added += found ? 0 : 1;
        }
        for (const auto& o : om) {
            removed += std::none_of(nm.begin(), nm.end(),
                                    [&](const engine::MemberConfig& x) {
                                        return x.address == o.address && x.port == o.port;
                                    })
                           ? 1
                           : 0;
        }
        by_new_index[q] = fresh[q].get();
    }
    // Each worker switches on its own lcore, between bursts.
    std::size_t done = 0;
    for (std::size_t i = 0; i < workers_.size() && engine_ != nullptr; ++i) {
        engine::Command c;
        c.kind = engine::Command::Kind::call;
        LbWorker* w = workers_[i];
        const engine::EngineConfig* cfg = next.get();
        c.fn = [w, cfg, &by_new_index] { w->reload(*cfg, by_new_index); };
        done += engine_->run_command(i, c, sec(5)) ? 1 : 0;
    }
    // The pools in force are now the file's, in the running order of names.
    std::vector<std::unique_ptr<MemberShared[]>> ordered(cfg_->pools.size());
    for (std::size_t q = 0; q < next->pools.size(); ++q) {
        std::size_t p = 0;
        while (cfg_->pools[p].name != next->pools[q].name) {
            ++p;
        }
        ordered[p] = std::move(fresh[q]);
    }
    for (auto& a : states_) {
        retired_.push_back(std::move(a));
    }
    states_ = std::move(ordered);
    // Telemetry reads pool p of cfg_ with states_[p]: keep the running pool order.
    auto merged = std::make_unique<engine::EngineConfig>(*cfg_);
    for (engine::PoolConfig& p : merged->pools) {
        for (const engine::PoolConfig& q : next->pools) {
            if (q.name == p.name) {
                p = q;
            }
        }
    }
    loaded_.push_back(std::move(next));
    cfg_ = merged.get();
    loaded_.push_back(std::move(merged));
    shared_->publish();
    fmt::print("tcpterm: reloaded pools from {}: {} member(s) added, {} removed, {} of {} "
               "worker(s) switched\n",
               path, added, removed, done, workers_.size());
    return done == workers_.size();
}

bool LoadBalancer::register_telemetry(engine::Engine& engine) {
    engine_ = &engine;
    g_lb.store(this, std::memory_order_release);
    static std::once_flag once;
    static bool ok = false;
    std::call_once(once, [] {
        ok = rte_telemetry_register_cmd("/tcpterm/vs", handle_vs,
                                        "Virtual servers with their counters, summed over "
                                        "workers") == 0 &&
             rte_telemetry_register_cmd("/tcpterm/pool", handle_pool,
                                        "Pools; parameter: a pool name for its members, states "
                                        "and counters") == 0 &&
             rte_telemetry_register_cmd("/tcpterm/member", handle_member,
                                        "Set a member's admin state. Parameter: "
                                        "POOL,ADDR:PORT,up|down|drain") == 0;
    });
    return ok;
}

} // namespace tcpterm::lb
