// Configuration files in the repository: config/echo.toml, config/http.toml and config/lb.toml
// load cleanly, config/tcpterm.toml and docs/configuration.md equal what the schema generates (so
// they cannot drift), and the defaults file, examples uncommented, loads too. Design choice: the
// source tree comes from TCPTERM_SOURCE_ROOT (set by meson's test()); without it these tests
// fail, not skip.
#include "engine/config.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace tcpterm::engine;

namespace {

std::string source_root() {
    const char* root = std::getenv("TCPTERM_SOURCE_ROOT");
    INFO("TCPTERM_SOURCE_ROOT must name the source tree (meson test sets it)");
    REQUIRE(root != nullptr);
    return root;
}

std::string read(const std::string& rel) {
    const std::string path = source_root() + "/" + rel;
    std::ifstream in(path, std::ios::binary);
    INFO(path);
    REQUIRE(in.good());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

EngineConfig load_ok(const std::string& rel) {
    std::vector<ConfigError> errors;
    EngineConfig c = load_config(source_root() + "/" + rel, errors);
    for (const ConfigError& e : errors) {
        UNSCOPED_INFO(e.message);
    }
    CHECK(errors.empty());
    return c;
}

// Removes "# " from the lines of each commented [[section]] example (from its header to the
// next blank line), as the file tells a reader to.
std::string uncomment_examples(const std::string& text) {
    std::istringstream in(text);
    std::string out;
    std::string line;
    bool inside = false;
    while (std::getline(in, line)) {
        if (line.starts_with("# [[")) {
            inside = true;
        } else if (line.empty()) {
            inside = false;
        }
        out += (inside ? line.substr(2) : line) + "\n";
    }
    return out;
}

} // namespace

TEST_CASE("config files: config/echo.toml loads with zero errors", "[config][files]") {
    const EngineConfig c = load_ok("config/echo.toml");
    CHECK(c.eal_args == std::vector<std::string>{"--no-huge", "-m", "512", "--no-pci"});
    REQUIRE(c.ports.size() == 1);
    CHECK(c.ports[0].device == "net_tap0,iface=tcpterm0");
    REQUIRE(c.ports[0].addresses.size() == 1);
    CHECK(c.ports[0].addresses[0].addr == 0xC6120002u);
    CHECK(c.ports[0].addresses[0].len == 24);
    CHECK_FALSE(c.ports[0].gateway.has_value());
    REQUIRE(c.listeners.size() == 1);
    CHECK(c.listeners[0].address == 0);
    CHECK(c.listeners[0].port == 7);
    CHECK(c.listeners[0].service == Service::echo);
}

TEST_CASE("config files: config/http.toml loads with zero errors", "[config][files]") {
    const EngineConfig c = load_ok("config/http.toml");
    CHECK(c.eal_args == std::vector<std::string>{"--no-huge", "-m", "512", "--no-pci"});
    REQUIRE(c.ports.size() == 1);
    CHECK(c.ports[0].device == "net_tap0,iface=tcpterm0");
    REQUIRE(c.listeners.size() == 1);
    CHECK(c.listeners[0].port == 80);
    CHECK(c.listeners[0].service == Service::http);
    CHECK(c.listeners[0].http_response_size == 128);
    CHECK(c.listeners[0].http_closer == Closer::client);
}

TEST_CASE("config files: config/lb.toml loads with zero errors", "[config][files][lb]") {
    const EngineConfig c = load_ok("config/lb.toml");
    REQUIRE(c.ports.size() == 1);
    CHECK(c.ports[0].device == "net_tap0,iface=tcpterm0");
    REQUIRE(c.ports[0].addresses.size() == 1);
    CHECK(c.ports[0].addresses[0].addr == 0xC6120002u);
    CHECK(c.ports[0].addresses[0].len == 24);
    CHECK(c.ports[0].gateway == 0xC6120001u);
    CHECK(c.listeners.empty());

    REQUIRE(c.pools.size() == 1);
    const PoolConfig& p = c.pools[0];
    CHECK(p.name == "web");
    REQUIRE(p.members.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        INFO(i);
        CHECK(p.members[i].address == 0xC6120102u + i); // 198.18.1.2, .3, .4
        CHECK(p.members[i].port == 8080);
        CHECK(p.members[i].state == MemberAdmin::up);
    }
    CHECK(p.health_check == HealthCheckType::http);
    CHECK(p.health_path == "/health");

    REQUIRE(c.profiles.size() == 2);
    CHECK(c.profiles[0].name == "client");
    CHECK(c.profiles[1].name == "server");
    CHECK_FALSE(c.profiles[1].linger.has_value()); // left to [tcp]

    REQUIRE(c.virtual_servers.size() == 1);
    const VirtualServerConfig& v = c.virtual_servers[0];
    CHECK(v.port == 80);
    CHECK(v.pool == "web");
    CHECK(v.client_profile == "client");
    CHECK(v.server_profile == "server");
}

TEST_CASE("config files: docs/configuration.md is the generated reference", "[config][files]") {
    // On failure: run scripts/gen-config-docs.sh and commit the result.
    CHECK(read("docs/configuration.md") == config_reference_markdown());
}

TEST_CASE("config files: config/tcpterm.toml is the generated defaults file", "[config][files]") {
    // On failure: run scripts/gen-config-docs.sh and commit the result.
    CHECK(read("config/tcpterm.toml") == config_defaults_toml());
}

TEST_CASE("config files: the defaults file loads to the defaults; its examples load too",
          "[config][files]") {
    const EngineConfig c = load_ok("config/tcpterm.toml");
    const EngineConfig d;
    CHECK(c.workers == d.workers);
    CHECK(c.tcp.keepalive_time == d.tcp.keepalive_time);
    CHECK(c.ports.empty());
    CHECK(c.listeners.empty());

    std::vector<ConfigError> errors;
    const EngineConfig e = parse_config(uncomment_examples(config_defaults_toml()), "x", errors);
    for (const ConfigError& x : errors) {
        UNSCOPED_INFO(x.message);
    }
    CHECK(errors.empty());
    REQUIRE(e.ports.size() == 1);
    CHECK(e.ports[0].gateway == 0xC6120001u);
    REQUIRE(e.listeners.size() == 1);
    CHECK(e.listeners[0].port == 80);
    REQUIRE(e.pools.size() == 1);
    CHECK(e.pools[0].members.size() == 2);
    REQUIRE(e.profiles.size() == 1);
    CHECK(e.profiles[0].linger.has_value()); // the example shows every optional key
    REQUIRE(e.virtual_servers.size() == 1);
    CHECK(e.virtual_servers[0].pool == e.pools[0].name);
}

TEST_CASE("config files: the reference documents every section, key and rule", "[config][files]") {
    const std::string md = config_reference_markdown();
    for (const char* s :
         {"## [eal]", "## [engine]", "## [[port]]", "## [[listener]]", "## [tcp]", "## [lb]",
          "## [[pool]]", "## [[profile]]", "## [[virtual_server]]", "## Rules between keys",
          "## Errors", "### Durations", "### Pool members"}) {
        INFO(s);
        CHECK(md.find(s) != std::string::npos);
    }
    for (const char* k :
         {"| `fin_timeout` | duration | `\"60s\"` | 1s..1h | no |",
          "| `mss` | integer (bytes) | `1460` | 536..9000 | no |",
          "| `device` | string | **required** |", "| `gateway` | IPv4 address | unset |",
          "| `idle_timeout` | duration | unset: inherits [tcp] idle_timeout | 0..24h | no |",
          "| `members` | array of members | **required** | ADDR:PORT [weight=1..65535] "
          "[state=up\\|down\\|drain] [max_connections=0..16777216] | no |",
          "bad.toml:6:1: tcp.fin_timout: unknown key (did you mean fin_timeout?)"}) {
        INFO(k);
        CHECK(md.find(k) != std::string::npos);
    }
}
