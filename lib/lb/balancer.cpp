#include "lb/balancer.hpp"

#include "lb/proxy.hpp"

#include <fmt/core.h>
#include <rte_telemetry.h>

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
    rte_tel_data_start_dict(d);
    const auto& vss = lb->config().virtual_servers;
    for (std::size_t v = 0; v < vss.size(); ++v) {
        rte_tel_data* c = rte_tel_data_alloc();
        if (c == nullptr) {
            return -ENOMEM;
        }
        rte_tel_data_start_dict(c);
        rte_tel_data_add_dict_string(c, "address", addr_str(vss[v].address, vss[v].port).c_str());
        rte_tel_data_add_dict_string(c, "pool", vss[v].pool.c_str());
        for (std::size_t k = 0; k < VsCounters::kSize; ++k) {
            std::uint64_t sum = 0;
            for (const LbWorker* w : lb->workers()) {
                if (v < w->virtual_servers().size()) {
                    sum += w->virtual_servers()[v]->counters.get(k);
                }
            }
            rte_tel_data_add_dict_u64(c, std::string(kVsCounterNames[k]).c_str(), sum);
        }
        if (rte_tel_data_add_dict_container(d, vss[v].name.c_str(), c, 0) != 0) {
            rte_tel_data_free(c);
        }
    }
    return 0;
}

int handle_pool(const char* /*cmd*/, const char* params, rte_tel_data* d) {
    LoadBalancer* lb = g_lb.load(std::memory_order_acquire);
    if (lb == nullptr) {
        return -1;
    }
    const auto& pools = lb->config().pools;
    rte_tel_data_start_dict(d);
    const std::string_view want = params == nullptr ? "" : params;
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
                up += lb->shared().effective(p, m) == MemberState::up ? 1 : 0;
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
    const Shared& sh = lb->shared();
    const std::uint64_t clock = sh.clock_ns.load(std::memory_order_relaxed);
    rte_tel_data_add_dict_string(d, "algorithm",
                                 std::string(algo_name(pools[p].algorithm)).c_str());
    rte_tel_data_add_dict_string(d, "health_check",
                                 std::string(check_name(pools[p].health_check)).c_str());
    for (std::size_t m = 0; m < pools[p].members.size(); ++m) {
        const engine::MemberConfig& mc = pools[p].members[m];
        const MemberShared& ms = sh.pools[p][m];
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
        rte_tel_data_add_dict_string(c, "state",
                                     std::string(state_name(sh.effective(p, m))).c_str());
        for (std::size_t k = 0; k < MemberCounters::kSize; ++k) {
            std::uint64_t sum = 0;
            for (const LbWorker* w : lb->workers()) {
                sum += w->pools()[p]->counters[m].get(k);
            }
            rte_tel_data_add_dict_u64(c, std::string(kMemberCounterNames[k]).c_str(), sum);
        }
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
    : cfg_(&cfg), shared_(std::make_unique<Shared>(cfg)) {}

LoadBalancer::~LoadBalancer() {
    LoadBalancer* self = this;
    g_lb.compare_exchange_strong(self, nullptr);
}

engine::AppFactory LoadBalancer::factory() {
    return [this](engine::WorkerHost& host) -> std::unique_ptr<engine::WorkerApp> {
        cfg_ = &host.config(); // the engine's own copy: names for telemetry
        auto w = std::make_unique<LbWorker>(host, *shared_);
        workers_.push_back(w.get());
        return w;
    };
}

std::string LoadBalancer::set_member(const std::string& pool, const std::string& addr_port,
                                     engine::MemberAdmin state) {
    const auto& pools = cfg_->pools;
    for (std::size_t p = 0; p < pools.size(); ++p) {
        if (pools[p].name != pool) {
            continue;
        }
        for (std::size_t m = 0; m < pools[p].members.size(); ++m) {
            if (addr_str(pools[p].members[m].address, pools[p].members[m].port) == addr_port) {
                shared_->pools[p][m].admin.store(static_cast<std::uint8_t>(state));
                shared_->publish();
                return {};
            }
        }
        return fmt::format("pool {} has no member {}", pool, addr_port);
    }
    return fmt::format("no pool {}", pool);
}

bool LoadBalancer::register_telemetry() {
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
