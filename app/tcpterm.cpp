// tcpterm: the engine. `tcpterm [EAL args] -- --config FILE` or `tcpterm --config FILE` (EAL
// arguments may come from the config's [eal] section); `tcpterm --check-config FILE` validates a
// configuration without starting DPDK (exit 2 on errors, each printed as file:line:column).
#include "engine/config.hpp"
#include "engine/engine.hpp"
#include "lb/balancer.hpp"

#include <fmt/core.h>

#include <memory>
#include <string>
#include <vector>

namespace {

int usage() {
    fmt::print(stderr, "usage: tcpterm [EAL args --] --config FILE\n"
                       "       tcpterm --check-config FILE\n");
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string> eal;
    std::vector<std::string> args;
    bool saw_sep = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--" && !saw_sep) {
            saw_sep = true;
            eal = args;
            args.clear();
            continue;
        }
        args.push_back(a);
    }
    std::string config;
    bool check_only = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if ((args[i] == "--config" || args[i] == "--check-config") && i + 1 < args.size()) {
            check_only = args[i] == "--check-config";
            config = args[++i];
        } else if (args[i] == "-h" || args[i] == "--help") {
            usage();
            return 0;
        } else {
            fmt::print(stderr, "tcpterm: unknown argument '{}'\n", args[i]);
            return usage();
        }
    }
    if (config.empty()) {
        return usage();
    }
    std::vector<tcpterm::engine::ConfigError> errors;
    tcpterm::engine::EngineConfig cfg = tcpterm::engine::load_config(config, errors);
    if (!errors.empty()) {
        for (const auto& e : errors) {
            fmt::print(stderr, "{}\n", e.message);
        }
        return 2;
    }
    if (check_only) {
        fmt::print("{}: OK\n", config);
        return 0;
    }
    // The load balancer runs when the configuration has virtual servers; it reads the engine's
    // own copy of the configuration through its workers.
    std::unique_ptr<tcpterm::lb::LoadBalancer> balancer;
    if (!cfg.virtual_servers.empty()) {
        balancer = std::make_unique<tcpterm::lb::LoadBalancer>(cfg);
    }
    tcpterm::engine::Engine engine(std::move(cfg));
    if (balancer) {
        engine.add_app(balancer->factory());
    }
    if (!engine.init(argv[0], eal)) {
        return 1;
    }
    if (balancer) {
        if (!balancer->register_telemetry(engine)) {
            fmt::print(stderr, "tcpterm: load-balancer telemetry registration failed\n");
        }
        // SIGHUP: pools and members from the same file, validated before anything changes.
        engine.add_reload_hook([&balancer, config] { balancer->reload(config); });
        engine.add_control_tick([&balancer] { balancer->tick(); });
    }
    return engine.run();
}
