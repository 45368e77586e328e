// The engine's configuration: what tcpterm.toml says, after validation. The schema in
// config_schema.cpp is the single source for every key (type, unit, default, range, whether it
// can be reloaded, description): it validates files and generates docs/configuration.md.
#pragma once

#include "base/clock.hpp"
#include "tcp/config.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tcpterm::engine {

struct Ipv4Prefix {
    std::uint32_t addr = 0; // host order
    std::uint8_t len = 32;
};

struct PortConfig {
    std::string device;                   // vdev spec ("net_tap0,iface=tcpterm0") or PCI address
    std::vector<Ipv4Prefix> addresses;    // owned addresses with their subnet
    std::optional<std::uint32_t> gateway; // host order; next hop outside the subnets
    std::uint16_t mtu = 1500;
    std::uint16_t rx_desc = 1024;
    std::uint16_t tx_desc = 1024;
    bool checksum_offload = true; // use the NIC's checksum offload when it has it
    bool rss = true;              // use RSS (symmetric key) when the NIC has it and workers > 1
    bool promiscuous = false;
};

enum class Service : std::uint8_t { echo, discard, http };
enum class Closer : std::uint8_t { server, client };

struct ListenerConfig {
    std::uint32_t address = 0; // host order; 0 = any owned address
    std::uint16_t port = 0;
    Service service = Service::echo;
    std::uint32_t backlog = 0;              // 0 = [tcp] backlog
    std::uint32_t http_response_size = 128; // body bytes of the fixed HTTP response
    Closer http_closer = Closer::client;    // who closes first after the response
    bool keepalive = false;                 // SO_KEEPALIVE on accepted connections
};

/// [impair]: fault injection for one direction (engine/impair.hpp), probabilities in ppm.
struct ImpairSpec {
    std::uint32_t drop_ppm = 0;
    std::uint32_t duplicate_ppm = 0;
    std::uint32_t reorder_ppm = 0;
    std::uint32_t corrupt_ppm = 0;
    Nanos delay = 0;
    Nanos reorder_gap = ms(1);
};

// ---- load balancer (lib/lb reads these; the engine only carries them) ----------------------

enum class PoolAlgorithm : std::uint8_t { round_robin, least_connections, maglev };
enum class MemberAdmin : std::uint8_t { up, down, drain };
enum class HealthCheckType : std::uint8_t { none, tcp, http };
enum class ResetAction : std::uint8_t { reset, fin };  // RST on one leg -> RST or FIN on the other
enum class LimitAction : std::uint8_t { reset, drop }; // past a connection limit: RST or drop SYN

/// One pool member, from "ADDR:PORT [weight=N] [state=up|down|drain] [max_connections=N]".
struct MemberConfig {
    std::uint32_t address = 0; // host order
    std::uint16_t port = 0;
    std::uint32_t weight = 1;            // 1..65535
    MemberAdmin state = MemberAdmin::up; // administrative state
    std::uint32_t max_connections = 0;   // 0 = no limit (per worker, see load-balancer.md)
};

/// [[pool]]: backends and how to pick and check them.
struct PoolConfig {
    std::string name;
    PoolAlgorithm algorithm = PoolAlgorithm::round_robin;
    std::vector<MemberConfig> members;
    HealthCheckType health_check = HealthCheckType::none;
    Nanos health_interval = sec(2);
    Nanos health_timeout = sec(1);
    std::uint32_t health_rise = 2; // consecutive successes to mark a member up
    std::uint32_t health_fall = 3; // consecutive failures to mark it down
    std::string health_path = "/"; // HTTP check: GET this; 2xx or 3xx is success
    bool reset_on_down = false;    // a member marked down gets its existing connections reset
};

/// [[profile]]: per-connection TCP settings for one leg of a virtual server. Unset values take
/// the [tcp] section's.
struct ProfileConfig {
    std::string name;
    std::optional<Nanos> idle_timeout;
    std::optional<Nanos> user_timeout;
    std::optional<Nanos> linger; // set: close() lingers this long (0 = abortive close, RST)
    std::optional<bool> keepalive;
    std::optional<Nanos> keepalive_time;
    std::optional<Nanos> keepalive_intvl;
    std::optional<std::uint32_t> keepalive_probes;
    std::optional<bool> nodelay;
    std::optional<bool> reset_on_timeout;
    std::optional<std::uint32_t> rcv_buf;
    std::optional<std::uint32_t> snd_buf;
};

/// [[virtual_server]]: an address:port whose connections are proxied to a pool.
struct VirtualServerConfig {
    std::string name;
    std::uint32_t address = 0; // host order; 0 = every owned address
    std::uint16_t port = 0;
    std::string pool;
    std::string client_profile;        // empty = [tcp]
    std::string server_profile;        // empty = [tcp]
    std::uint32_t backlog = 0;         // 0 = [tcp] backlog
    std::uint32_t max_connections = 0; // 0 = no limit (per worker)
    LimitAction over_limit = LimitAction::reset;
    std::uint32_t connect_retries = 2; // other members tried after a failed backend connect
    Nanos connect_timeout = sec(3);
    ResetAction on_reset = ResetAction::reset;
    std::optional<std::uint32_t> source_address; // host order; unset = the port's address
};

/// [lb]: settings shared by every virtual server.
struct LbConfig {
    std::uint16_t source_port_min = 10000; // local ports of backend connections
    std::uint16_t source_port_max = 60999;
};

struct EngineConfig {
    std::string source; // file it was read from (for messages)

    // [eal]
    std::vector<std::string> eal_args; // extra EAL arguments (e.g. "--no-huge", "-m", "512")
    std::string file_prefix;           // --file-prefix; empty = "tcpterm"

    // [engine]
    std::uint32_t workers = 1;   // worker lcores (each owns RX/TX queue i of every port)
    std::uint32_t mbufs = 32767; // per socket mbuf pool size
    std::uint32_t mbuf_cache = 256;
    std::uint16_t rx_burst = 32;
    std::uint32_t max_connections = 65536; // control blocks per worker
    std::uint32_t max_time_wait = 262144;  // TIME_WAIT record pool per worker
    std::uint32_t max_loss_states = 16384; // LossState pool per worker (tcp/loss.hpp)
    Nanos timer_tick = ms(1);
    std::uint32_t max_expiries = 4096; // timers fired per loop iteration at most
    Nanos drain_timeout = sec(30);     // graceful stop: established connections get this long
    Nanos arp_timeout = sec(60);       // ARP cache entry lifetime
    bool pdump = true;                 // initialise rte_pdump so dpdk-dumpcap can attach

    // [[port]], [[listener]], [tcp]
    std::vector<PortConfig> ports;
    std::vector<ListenerConfig> listeners;
    tcp::TcpConfig tcp;

    // [lb], [[pool]], [[profile]], [[virtual_server]]
    LbConfig lb;
    std::vector<PoolConfig> pools;
    std::vector<ProfileConfig> profiles;
    std::vector<VirtualServerConfig> virtual_servers;

    // [impair]
    ImpairSpec impair_rx;
    ImpairSpec impair_tx;
    std::uint64_t impair_seed = 1;
};

/// A configuration error: file:line:column: key: what is wrong (and the valid range).
struct ConfigError {
    std::string message;
};

/// Parses and validates a TOML file. Unknown keys and out-of-range values are errors; every error
/// found is returned (not only the first). On success `errors` is empty.
EngineConfig load_config(const std::string& path, std::vector<ConfigError>& errors);
/// Same, from a string (tests); `name` is used in messages.
EngineConfig parse_config(const std::string& text, const std::string& name,
                          std::vector<ConfigError>& errors);
/// docs/configuration.md, generated from the schema.
std::string config_reference_markdown();
/// config/tcpterm.toml: every key with its default and a comment, generated from the schema.
std::string config_defaults_toml();

} // namespace tcpterm::engine
