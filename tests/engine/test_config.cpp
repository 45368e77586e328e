// Configuration layer: defaults (schema = C++ structs), every key reaching its field, value
// syntaxes (durations, IPv4). Design choice: defaults are compared field by field against
// default-constructed structs, so a schema default that drifts from the code fails here.
#include "engine/config.hpp"
#include "engine/config_schema.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

using namespace tcpterm;
using namespace tcpterm::engine;

namespace {

EngineConfig parse_ok(const std::string& text) {
    std::vector<ConfigError> errors;
    EngineConfig c = parse_config(text, "t.toml", errors);
    for (const ConfigError& e : errors) {
        UNSCOPED_INFO(e.message);
    }
    CHECK(errors.empty());
    return c;
}

void require_tcp_equal(const tcp::TcpConfig& a, const tcp::TcpConfig& b) {
    CHECK(a.fin_timeout == b.fin_timeout);
    CHECK(a.time_wait == b.time_wait);
    CHECK(a.max_tw_buckets == b.max_tw_buckets);
    CHECK(a.orphan_retries == b.orphan_retries);
    CHECK(a.close_wait_timeout == b.close_wait_timeout);
    CHECK(a.idle_timeout == b.idle_timeout);
    CHECK(a.reset_on_timeout == b.reset_on_timeout);
    CHECK(a.tw_reuse == b.tw_reuse);
    CHECK(a.keepalive_time == b.keepalive_time);
    CHECK(a.keepalive_intvl == b.keepalive_intvl);
    CHECK(a.keepalive_probes == b.keepalive_probes);
    CHECK(a.syn_retries == b.syn_retries);
    CHECK(a.synack_retries == b.synack_retries);
    CHECK(a.retries2 == b.retries2);
    CHECK(a.rto_initial == b.rto_initial);
    CHECK(a.rto_min == b.rto_min);
    CHECK(a.rto_max == b.rto_max);
    CHECK(a.user_timeout == b.user_timeout);
    CHECK(a.zero_window_timeout == b.zero_window_timeout);
    CHECK(a.delayed_ack == b.delayed_ack);
    CHECK(a.quickack == b.quickack);
    CHECK(a.nodelay == b.nodelay);
    CHECK(a.initial_cwnd == b.initial_cwnd);
    CHECK(a.backlog == b.backlog);
    CHECK(a.syn_backlog == b.syn_backlog);
    CHECK(a.syncookies == b.syncookies);
    CHECK(a.invalid_ratelimit == b.invalid_ratelimit);
    CHECK(a.mss == b.mss);
    CHECK(a.rcv_buf == b.rcv_buf);
    CHECK(a.snd_buf == b.snd_buf);
    CHECK(a.timestamps == b.timestamps);
    CHECK(a.window_scaling == b.window_scaling);
    CHECK(a.challenge_ack_limit == b.challenge_ack_limit);
    CHECK(a.ttl == b.ttl);
}

void require_port_equal(const PortConfig& a, const PortConfig& b) {
    CHECK(a.device == b.device);
    REQUIRE(a.addresses.size() == b.addresses.size());
    for (std::size_t i = 0; i < a.addresses.size(); ++i) {
        CHECK(a.addresses[i].addr == b.addresses[i].addr);
        CHECK(a.addresses[i].len == b.addresses[i].len);
    }
    CHECK(a.gateway == b.gateway);
    CHECK(a.mtu == b.mtu);
    CHECK(a.rx_desc == b.rx_desc);
    CHECK(a.tx_desc == b.tx_desc);
    CHECK(a.checksum_offload == b.checksum_offload);
    CHECK(a.rss == b.rss);
    CHECK(a.promiscuous == b.promiscuous);
}

void require_listener_equal(const ListenerConfig& a, const ListenerConfig& b) {
    CHECK(a.address == b.address);
    CHECK(a.port == b.port);
    CHECK(a.service == b.service);
    CHECK(a.backlog == b.backlog);
    CHECK(a.http_response_size == b.http_response_size);
    CHECK(a.http_closer == b.http_closer);
    CHECK(a.keepalive == b.keepalive);
}

void require_member_equal(const MemberConfig& a, const MemberConfig& b) {
    CHECK(a.address == b.address);
    CHECK(a.port == b.port);
    CHECK(a.weight == b.weight);
    CHECK(a.state == b.state);
    CHECK(a.max_connections == b.max_connections);
}

void require_pool_equal(const PoolConfig& a, const PoolConfig& b) {
    CHECK(a.name == b.name);
    CHECK(a.algorithm == b.algorithm);
    REQUIRE(a.members.size() == b.members.size());
    for (std::size_t i = 0; i < a.members.size(); ++i) {
        INFO("member " << i);
        require_member_equal(a.members[i], b.members[i]);
    }
    CHECK(a.health_check == b.health_check);
    CHECK(a.health_interval == b.health_interval);
    CHECK(a.health_timeout == b.health_timeout);
    CHECK(a.health_rise == b.health_rise);
    CHECK(a.health_fall == b.health_fall);
    CHECK(a.health_path == b.health_path);
    CHECK(a.reset_on_down == b.reset_on_down);
}

void require_profile_equal(const ProfileConfig& a, const ProfileConfig& b) {
    CHECK(a.name == b.name);
    CHECK(a.idle_timeout == b.idle_timeout);
    CHECK(a.user_timeout == b.user_timeout);
    CHECK(a.linger == b.linger);
    CHECK(a.keepalive == b.keepalive);
    CHECK(a.keepalive_time == b.keepalive_time);
    CHECK(a.keepalive_intvl == b.keepalive_intvl);
    CHECK(a.keepalive_probes == b.keepalive_probes);
    CHECK(a.nodelay == b.nodelay);
    CHECK(a.reset_on_timeout == b.reset_on_timeout);
    CHECK(a.rcv_buf == b.rcv_buf);
    CHECK(a.snd_buf == b.snd_buf);
}

void require_virtual_server_equal(const VirtualServerConfig& a, const VirtualServerConfig& b) {
    CHECK(a.name == b.name);
    CHECK(a.address == b.address);
    CHECK(a.port == b.port);
    CHECK(a.pool == b.pool);
    CHECK(a.client_profile == b.client_profile);
    CHECK(a.server_profile == b.server_profile);
    CHECK(a.backlog == b.backlog);
    CHECK(a.max_connections == b.max_connections);
    CHECK(a.over_limit == b.over_limit);
    CHECK(a.connect_retries == b.connect_retries);
    CHECK(a.connect_timeout == b.connect_timeout);
    CHECK(a.on_reset == b.on_reset);
    CHECK(a.source_address == b.source_address);
}

void require_engine_equal(const EngineConfig& a, const EngineConfig& b) {
    CHECK(a.eal_args == b.eal_args);
    CHECK(a.file_prefix == b.file_prefix);
    CHECK(a.workers == b.workers);
    CHECK(a.mbufs == b.mbufs);
    CHECK(a.mbuf_cache == b.mbuf_cache);
    CHECK(a.rx_burst == b.rx_burst);
    CHECK(a.max_connections == b.max_connections);
    CHECK(a.max_time_wait == b.max_time_wait);
    CHECK(a.timer_tick == b.timer_tick);
    CHECK(a.max_expiries == b.max_expiries);
    CHECK(a.drain_timeout == b.drain_timeout);
    CHECK(a.arp_timeout == b.arp_timeout);
    CHECK(a.pdump == b.pdump);
    CHECK(a.ports.size() == b.ports.size());
    CHECK(a.listeners.size() == b.listeners.size());
    require_tcp_equal(a.tcp, b.tcp);
    CHECK(a.lb.source_port_min == b.lb.source_port_min);
    CHECK(a.lb.source_port_max == b.lb.source_port_max);
    CHECK(a.pools.size() == b.pools.size());
    CHECK(a.profiles.size() == b.profiles.size());
    CHECK(a.virtual_servers.size() == b.virtual_servers.size());
}

MemberConfig member(std::uint32_t address, std::uint16_t port, std::uint32_t weight = 1,
                    MemberAdmin state = MemberAdmin::up, std::uint32_t max_connections = 0) {
    return MemberConfig{address, port, weight, state, max_connections};
}

std::string member_error(std::string_view s) {
    std::string why;
    const auto m = schema::parse_member(s, why);
    INFO(s);
    CHECK_FALSE(m.has_value());
    return why;
}

std::vector<std::string> messages(const std::string& text) {
    std::vector<ConfigError> errors;
    (void)parse_config(text, "t.toml", errors);
    std::vector<std::string> out;
    for (const ConfigError& e : errors) {
        out.push_back(e.message);
    }
    return out;
}

Nanos dur(std::string_view s) {
    std::string why;
    const auto d = schema::parse_duration(s, why);
    INFO(s << ": " << why);
    REQUIRE(d.has_value());
    return *d;
}

std::string dur_error(std::string_view s) {
    std::string why;
    const auto d = schema::parse_duration(s, why);
    INFO(s);
    CHECK_FALSE(d.has_value());
    return why;
}

} // namespace

TEST_CASE("config: an empty file gives the C++ defaults, field by field", "[config]") {
    const EngineConfig c = parse_ok("");
    require_engine_equal(c, EngineConfig{});
    require_tcp_equal(c.tcp, tcp::TcpConfig{});
    CHECK(c.source == "t.toml");
}

TEST_CASE("config: a [[port]] and [[listener]] with only required keys get the defaults",
          "[config]") {
    const EngineConfig c = parse_ok("[[port]]\ndevice = \"net_null0\"\n"
                                    "addresses = [\"10.0.0.1/8\"]\n"
                                    "[[listener]]\nport = 9\n");
    REQUIRE(c.ports.size() == 1);
    REQUIRE(c.listeners.size() == 1);
    PortConfig p;
    p.device = "net_null0";
    p.addresses = {Ipv4Prefix{0x0A000001u, 8}};
    require_port_equal(c.ports[0], p);
    ListenerConfig l;
    l.port = 9;
    require_listener_equal(c.listeners[0], l);
}

TEST_CASE("config: every key reaches its field", "[config]") {
    const EngineConfig c = parse_ok(R"(
[eal]
args = ["--no-huge", "-m", "512"]
file_prefix = "lb_1"

[engine]
workers = 4
mbufs = 65535
mbuf_cache = 128
rx_burst = 64
max_connections = 1000
max_time_wait = 2000
timer_tick = "100us"
max_expiries = 100
drain_timeout = "5s"
arp_timeout = "2m"
pdump = false

[[port]]
device = "net_tap0,iface=t0"
addresses = ["198.18.0.2/24", "198.19.0.2/16"]
gateway = "198.18.0.1"
mtu = 9000
rx_desc = 512
tx_desc = 2048
checksum_offload = false
rss = false
promiscuous = true

[[listener]]
address = "198.19.0.2"
port = 8080
service = "http"
backlog = 77
http_response_size = 4096
http_closer = "server"
keepalive = true

[tcp]
fin_timeout = "10s"
time_wait = "2m"
max_tw_buckets = 1000
orphan_retries = 3
close_wait_timeout = "5s"
idle_timeout = "300s"
reset_on_timeout = false
tw_reuse = true
keepalive_time = "10m"
keepalive_intvl = "10s"
keepalive_probes = 4
syn_retries = 2
synack_retries = 3
retries2 = 8
rto_initial = "500ms"
rto_min = "50ms"
rto_max = "30s"
user_timeout = "20s"
zero_window_timeout = "40s"
delayed_ack = "10ms"
quickack = true
nodelay = true
initial_cwnd = 4
backlog = 100
syn_backlog = 200
mss = 1400
rcv_buf = 65536
snd_buf = 131072
timestamps = true
window_scaling = false
challenge_ack_limit = 10
ttl = 32
)");
    EngineConfig e;
    e.eal_args = {"--no-huge", "-m", "512"};
    e.file_prefix = "lb_1";
    e.workers = 4;
    e.mbufs = 65535;
    e.mbuf_cache = 128;
    e.rx_burst = 64;
    e.max_connections = 1000;
    e.max_time_wait = 2000;
    e.timer_tick = us(100);
    e.max_expiries = 100;
    e.drain_timeout = sec(5);
    e.arp_timeout = sec(120);
    e.pdump = false;
    e.ports.resize(1);
    e.listeners.resize(1);
    tcp::TcpConfig& t = e.tcp;
    t.fin_timeout = sec(10);
    t.time_wait = sec(120);
    t.max_tw_buckets = 1000;
    t.orphan_retries = 3;
    t.close_wait_timeout = sec(5);
    t.idle_timeout = sec(300);
    t.reset_on_timeout = false;
    t.tw_reuse = true;
    t.keepalive_time = sec(600);
    t.keepalive_intvl = sec(10);
    t.keepalive_probes = 4;
    t.syn_retries = 2;
    t.synack_retries = 3;
    t.retries2 = 8;
    t.rto_initial = ms(500);
    t.rto_min = ms(50);
    t.rto_max = sec(30);
    t.user_timeout = sec(20);
    t.zero_window_timeout = sec(40);
    t.delayed_ack = ms(10);
    t.quickack = true;
    t.nodelay = true;
    t.initial_cwnd = 4;
    t.backlog = 100;
    t.syn_backlog = 200;
    t.mss = 1400;
    t.rcv_buf = 65536;
    t.snd_buf = 131072;
    t.timestamps = true;
    t.window_scaling = false;
    t.challenge_ack_limit = 10;
    t.ttl = 32;
    require_engine_equal(c, e);

    REQUIRE(c.ports.size() == 1);
    PortConfig p;
    p.device = "net_tap0,iface=t0";
    p.addresses = {Ipv4Prefix{0xC6120002u, 24}, Ipv4Prefix{0xC6130002u, 16}};
    p.gateway = 0xC6120001u;
    p.mtu = 9000;
    p.rx_desc = 512;
    p.tx_desc = 2048;
    p.checksum_offload = false;
    p.rss = false;
    p.promiscuous = true;
    require_port_equal(c.ports[0], p);

    REQUIRE(c.listeners.size() == 1);
    ListenerConfig l;
    l.address = 0xC6130002u;
    l.port = 8080;
    l.service = Service::http;
    l.backlog = 77;
    l.http_response_size = 4096;
    l.http_closer = Closer::server;
    l.keepalive = true;
    require_listener_equal(c.listeners[0], l);
}

TEST_CASE("config: the schema covers every field once, with sane rows", "[config]") {
    std::set<std::string> seen;
    std::size_t tcp_keys = 0;
    for (const schema::Key& k : schema::keys()) {
        const std::string full =
            std::string(schema::section(k.section).name) + "." + std::string(k.name);
        INFO(full);
        CHECK(seen.insert(full).second);
        CHECK_FALSE(k.description.empty());
        CHECK(k.set != nullptr);
        CHECK_FALSE(k.reloadable); // nothing is reloadable yet
        if (k.required) {
            CHECK(k.default_toml.empty());
        }
        if (k.default_toml.empty()) {
            CHECK_FALSE(k.example.empty());
        }
        if (k.type == schema::Type::integer || k.type == schema::Type::duration) {
            CHECK(k.min >= 0);
            CHECK(k.min <= k.max);
        }
        if (k.section == schema::Section::tcp) {
            ++tcp_keys;
        }
    }
    CHECK(tcp_keys == 36); // every tcp::TcpConfig field but the packetdrill adapter's two
    // [eal], [engine], [[port]], [[listener]], [tcp], [impair]; [lb], [[pool]], [[profile]]
    // (name and the 11 optional ProfileConfig fields), [[virtual_server]].
    CHECK(seen.size() == 2 + 12 + 9 + 7 + 36 + 12 + 2 + 10 + 12 + 13);
    CHECK(schema::find_key(schema::Section::tcp, "mss") != nullptr);
    CHECK(schema::find_key(schema::Section::engine, "mss") == nullptr);
}

TEST_CASE("config: durations with units", "[config][duration]") {
    CHECK(dur("0") == 0);
    CHECK(dur("0s") == 0);
    CHECK(dur("1ns") == 1);
    CHECK(dur("10us") == us(10));
    CHECK(dur("200ms") == ms(200));
    CHECK(dur("60s") == sec(60));
    CHECK(dur("1m") == sec(60));
    CHECK(dur("2h") == sec(7200));
    CHECK(dur("1d") == sec(86400));
    CHECK(dur("1.5s") == ms(1500));
    CHECK(dur("0.25ms") == us(250));
    CHECK(dur("1.000000001s") == sec(1) + 1);
    CHECK(dur("1.50000s") == ms(1500));
    CHECK(dur("1h30m") == sec(5400));
    CHECK(dur("1s500ms") == ms(1500));
    CHECK(dur("0.5m") == sec(30));
    CHECK(dur("9223372036854775807ns") == 9223372036854775807ull);

    CHECK(dur_error("") == "empty");
    CHECK(dur_error("60") == "missing unit after 60");
    CHECK(dur_error("1.5") == "missing unit after 1.5");
    CHECK(dur_error("1h30") == "missing unit after 30");
    CHECK(dur_error("-1s") == "durations cannot be negative");
    CHECK(dur_error("5x") == "unknown unit \"x\"");
    CHECK(dur_error("5 s") == "unknown unit \" s\"");
    CHECK(dur_error("5S") == "unknown unit \"S\"");
    CHECK(dur_error("s") == "expected a number at \"s\"");
    CHECK(dur_error(".5s") == "a digit must precede '.'");
    CHECK(dur_error("1.s") == "a digit must follow '.'");
    CHECK(dur_error("1.5ns") == "finer than 1ns");
    CHECK(dur_error("0.0000000001s") == "finer than 1ns");
    CHECK(dur_error("9223372036854775808ns") == "too large");
    CHECK(dur_error("99999999999999999999s") == "too large");
    CHECK(dur_error("300000000000h") == "too large");
}

TEST_CASE("config: durations print in their largest exact unit", "[config][duration]") {
    CHECK(schema::format_duration(0) == "0");
    CHECK(schema::format_duration(1) == "1ns");
    CHECK(schema::format_duration(us(10)) == "10us");
    CHECK(schema::format_duration(ms(1500)) == "1500ms");
    CHECK(schema::format_duration(sec(60)) == "1m");
    CHECK(schema::format_duration(sec(90)) == "90s");
    CHECK(schema::format_duration(sec(86400)) == "24h");
}

TEST_CASE("config: IPv4 addresses and prefixes are strict", "[config][ipv4]") {
    CHECK(schema::parse_ipv4("198.18.0.2") == 0xC6120002u);
    CHECK(schema::parse_ipv4("0.0.0.0") == 0u);
    CHECK(schema::parse_ipv4("255.255.255.255") == 0xFFFFFFFFu);
    for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ",
                            "a.b.c.d", "1..2.3", "1.2.3.1000"}) {
        INFO(bad);
        CHECK_FALSE(schema::parse_ipv4(bad).has_value());
    }
    const auto p = schema::parse_ipv4_prefix("198.18.0.2/24");
    REQUIRE(p.has_value());
    CHECK(p->addr == 0xC6120002u);
    CHECK(p->len == 24);
    CHECK(schema::parse_ipv4_prefix("10.0.0.1/32")->len == 32);
    for (const char* bad : {"198.18.0.2", "198.18.0.2/", "198.18.0.2/0", "198.18.0.2/33",
                            "198.18.0.2/024", "198.18.0.2/2x", "1.2.3/8"}) {
        INFO(bad);
        CHECK_FALSE(schema::parse_ipv4_prefix(bad).has_value());
    }
    CHECK(schema::format_ipv4(0xC6120002u) == "198.18.0.2");
}

TEST_CASE("config: range and type text for docs and messages", "[config]") {
    using schema::Section;
    CHECK(schema::range_text(*schema::find_key(Section::tcp, "mss")) == "536..9000");
    CHECK(schema::range_text(*schema::find_key(Section::engine, "timer_tick")) == "10us..100ms");
    CHECK(schema::range_text(*schema::find_key(Section::listener, "service")) ==
          "\"echo\", \"discard\", \"http\"");
    CHECK(schema::type_text(*schema::find_key(Section::tcp, "rcv_buf")) == "integer (bytes)");
    CHECK(schema::type_text(*schema::find_key(Section::port, "addresses")) ==
          "array of IPv4 prefixes");
}

TEST_CASE("config: parse_config clears earlier errors; messages are deterministic", "[config]") {
    std::vector<ConfigError> errors{ConfigError{"stale"}};
    (void)parse_config("", "t.toml", errors);
    CHECK(errors.empty());
    CHECK(messages("[tcp]\nmss = 1\nttl = 0\n") == messages("[tcp]\nmss = 1\nttl = 0\n"));
}

TEST_CASE("config: [[pool]], [[profile]] and [[virtual_server]] with only required keys get the "
          "defaults",
          "[config][lb]") {
    const EngineConfig c = parse_ok("[[pool]]\nname = \"web\"\nmembers = [\"10.1.0.2:80\"]\n"
                                    "[[profile]]\nname = \"p\"\n"
                                    "[[virtual_server]]\nname = \"vs\"\nport = 80\n"
                                    "pool = \"web\"\n");
    PoolConfig p;
    p.name = "web";
    p.members = {member(0x0A010002u, 80)};
    REQUIRE(c.pools.size() == 1);
    require_pool_equal(c.pools[0], p);
    ProfileConfig r;
    r.name = "p";
    REQUIRE(c.profiles.size() == 1);
    require_profile_equal(c.profiles[0], r); // every optional key left unset
    VirtualServerConfig v;
    v.name = "vs";
    v.port = 80;
    v.pool = "web";
    REQUIRE(c.virtual_servers.size() == 1);
    require_virtual_server_equal(c.virtual_servers[0], v);
    CHECK_FALSE(c.virtual_servers[0].source_address.has_value());
    CHECK(c.lb.source_port_min == LbConfig{}.source_port_min);
    CHECK(c.lb.source_port_max == LbConfig{}.source_port_max);
}

TEST_CASE("config: a full load-balancer configuration reaches every field", "[config][lb]") {
    const EngineConfig c = parse_ok(R"(
[[port]]
device = "net_tap0,iface=t0"
addresses = ["198.18.0.2/24", "198.18.0.3/24"]
gateway = "198.18.0.1"

[[listener]]
port = 7

[lb]
source_port_min = 20000
source_port_max = 29999

[[pool]]
name = "web"
algorithm = "maglev"
members = [
    "198.18.1.2:8080",
    "198.18.1.3:8081 weight=3",
    "  198.18.1.4:8080	state=drain   max_connections=100 weight=65535 ",
    "198.18.1.5:1 state=down max_connections=0",
    "198.18.1.6:65535 max_connections=16777216 state=up weight=1",
]
health_check = "http"
health_interval = "5s"
health_timeout = "5s"
health_rise = 1
health_fall = 100
health_path = "/health?full=1"
reset_on_down = true

[[pool]]
name = "unused_pool-2"
algorithm = "least_connections"
members = ["198.18.1.2:8080"]
health_check = "tcp"

[[profile]]
name = "client"
idle_timeout = "0"
user_timeout = "20s"
linger = "0"
keepalive = true
keepalive_time = "1m"
keepalive_intvl = "5s"
keepalive_probes = 3
nodelay = false
reset_on_timeout = false
rcv_buf = 65536
snd_buf = 4096

[[profile]]
name = "server"
linger = "2s"
nodelay = true

[[virtual_server]]
name = "web"
address = "198.18.0.3"
port = 80
pool = "web"
client_profile = "client"
server_profile = "server"
backlog = 128
max_connections = 1000
over_limit = "drop"
connect_retries = 0
connect_timeout = "500ms"
on_reset = "fin"
source_address = "198.18.0.2"

[[virtual_server]]
name = "web-alt"
port = 8080
pool = "web"
server_profile = "server"
)");
    CHECK(c.lb.source_port_min == 20000);
    CHECK(c.lb.source_port_max == 29999);

    REQUIRE(c.pools.size() == 2);
    PoolConfig web;
    web.name = "web";
    web.algorithm = PoolAlgorithm::maglev;
    web.members = {
        member(0xC6120102u, 8080),
        member(0xC6120103u, 8081, 3),
        member(0xC6120104u, 8080, 65535, MemberAdmin::drain, 100),
        member(0xC6120105u, 1, 1, MemberAdmin::down, 0),
        member(0xC6120106u, 65535, 1, MemberAdmin::up, 16'777'216),
    };
    web.health_check = HealthCheckType::http;
    web.health_interval = sec(5);
    web.health_timeout = sec(5);
    web.health_rise = 1;
    web.health_fall = 100;
    web.health_path = "/health?full=1";
    web.reset_on_down = true;
    require_pool_equal(c.pools[0], web);
    PoolConfig unused;
    unused.name = "unused_pool-2";
    unused.algorithm = PoolAlgorithm::least_connections;
    unused.members = {member(0xC6120102u, 8080)};
    unused.health_check = HealthCheckType::tcp;
    require_pool_equal(c.pools[1], unused);

    REQUIRE(c.profiles.size() == 2);
    ProfileConfig client;
    client.name = "client";
    client.idle_timeout = 0;
    client.user_timeout = sec(20);
    client.linger = 0;
    client.keepalive = true;
    client.keepalive_time = sec(60);
    client.keepalive_intvl = sec(5);
    client.keepalive_probes = 3;
    client.nodelay = false;
    client.reset_on_timeout = false;
    client.rcv_buf = 65536;
    client.snd_buf = 4096;
    require_profile_equal(c.profiles[0], client);
    ProfileConfig server;
    server.name = "server";
    server.linger = sec(2);
    server.nodelay = true;
    require_profile_equal(c.profiles[1], server);
    // Set to zero or false is not the same as unset.
    CHECK(c.profiles[0].linger.has_value());
    CHECK(c.profiles[0].nodelay.has_value());
    CHECK_FALSE(c.profiles[1].idle_timeout.has_value());
    CHECK_FALSE(c.profiles[1].keepalive.has_value());
    CHECK_FALSE(c.profiles[1].rcv_buf.has_value());

    REQUIRE(c.virtual_servers.size() == 2);
    VirtualServerConfig v;
    v.name = "web";
    v.address = 0xC6120003u;
    v.port = 80;
    v.pool = "web";
    v.client_profile = "client";
    v.server_profile = "server";
    v.backlog = 128;
    v.max_connections = 1000;
    v.over_limit = LimitAction::drop;
    v.connect_retries = 0;
    v.connect_timeout = ms(500);
    v.on_reset = ResetAction::fin;
    v.source_address = 0xC6120002u;
    require_virtual_server_equal(c.virtual_servers[0], v);
    VirtualServerConfig alt;
    alt.name = "web-alt";
    alt.port = 8080;
    alt.pool = "web";
    alt.server_profile = "server";
    require_virtual_server_equal(c.virtual_servers[1], alt);
}

TEST_CASE("config: profile keys have the type, range and unit of their [tcp] keys",
          "[config][lb]") {
    std::size_t compared = 0;
    for (const schema::Key& k : schema::keys()) {
        if (k.section != schema::Section::profile || k.name == "name") {
            continue;
        }
        INFO(k.name);
        CHECK_FALSE(k.required);
        CHECK(k.default_toml.empty()); // unset = inherit
        CHECK_FALSE(k.unset.empty());  // and the docs say what unset means
        const schema::Key* t = schema::find_key(schema::Section::tcp, k.name);
        if (t == nullptr) {
            continue; // linger and keepalive have no [tcp] key
        }
        CHECK(k.type == t->type);
        CHECK(k.min == t->min);
        CHECK(k.max == t->max);
        CHECK(k.unit == t->unit);
        CHECK(k.description == t->description);
        CHECK(k.unset == "inherits [tcp] " + std::string(k.name));
        ++compared;
    }
    CHECK(compared == 9);
}

TEST_CASE("config: pool member syntax", "[config][lb]") {
    std::string why;
    const auto m = schema::parse_member("198.18.1.2:8080", why);
    REQUIRE(m.has_value());
    require_member_equal(*m, member(0xC6120102u, 8080));
    const auto o =
        schema::parse_member("\t10.0.0.1:1  max_connections=7\tstate=drain weight=9 ", why);
    REQUIRE(o.has_value());
    require_member_equal(*o, member(0x0A000001u, 1, 9, MemberAdmin::drain, 7));

    const std::string syntax = "(valid: \"ADDR:PORT [weight=1..65535] [state=up|down|drain] "
                               "[max_connections=0..16777216]\", e.g. \"198.18.1.2:8080 "
                               "weight=2\")";
    CHECK(member_error("") == "empty member " + syntax);
    CHECK(member_error("  \t") == "empty member " + syntax);
    CHECK(member_error("198.18.1.2") ==
          "\"198.18.1.2\" has no port (valid: ADDR:PORT first, e.g. \"198.18.1.2:8080\")");
    CHECK(member_error("weight=2 198.18.1.2:80") ==
          "\"weight=2\" has no port (valid: ADDR:PORT first, e.g. \"198.18.1.2:8080\")");
    CHECK(member_error("198.18.1:80") ==
          "bad IPv4 address \"198.18.1\" (valid: a dotted quad such as \"198.18.1.2\")");
    CHECK(member_error("web1:80") ==
          "bad IPv4 address \"web1\" (valid: a dotted quad such as \"198.18.1.2\")");
    CHECK(member_error("0.0.0.0:80") ==
          "0.0.0.0 is not a unicast address (valid: 0.0.0.1 .. 223.255.255.255)");
    CHECK(member_error("239.1.1.1:80") ==
          "239.1.1.1 is not a unicast address (valid: 0.0.0.1 .. 223.255.255.255)");
    CHECK(member_error("10.0.0.1:") == "bad port \"\" in \"10.0.0.1:\" (valid: 1..65535)");
    CHECK(member_error("10.0.0.1:http") ==
          "bad port \"http\" in \"10.0.0.1:http\" (valid: 1..65535)");
    CHECK(member_error("10.0.0.1:-1") == "bad port \"-1\" in \"10.0.0.1:-1\" (valid: 1..65535)");
    CHECK(member_error("10.0.0.1:0") == "port 0 is out of range (valid: 1..65535)");
    CHECK(member_error("10.0.0.1:65536") == "port 65536 is out of range (valid: 1..65535)");
    CHECK(member_error("10.0.0.1:99999999999999999999") ==
          "port 99999999999999999999 is out of range (valid: 1..65535)");
    CHECK(member_error("10.0.0.1:80 weight=0") ==
          "\"weight=0\" is out of range (valid: weight=1..65535)");
    CHECK(member_error("10.0.0.1:80 weight=65536") ==
          "\"weight=65536\" is out of range (valid: weight=1..65535)");
    CHECK(member_error("10.0.0.1:80 weight=-1") ==
          "\"weight=-1\" is not a number (valid: weight=1..65535)");
    CHECK(member_error("10.0.0.1:80 weight=") ==
          "\"weight=\" is not a number (valid: weight=1..65535)");
    CHECK(member_error("10.0.0.1:80 weight") == "\"weight\" has no value (valid: weight=1..65535)");
    CHECK(member_error("10.0.0.1:80 max_connections=16777217") ==
          "\"max_connections=16777217\" is out of range (valid: max_connections=0..16777216)");
    CHECK(member_error("10.0.0.1:80 state=off") ==
          "\"state=off\" is not a state (valid: state=up|down|drain)");
    CHECK(member_error("10.0.0.1:80 state=UP") ==
          "\"state=UP\" is not a state (valid: state=up|down|drain)");
    CHECK(member_error("10.0.0.1:80 wieght=2") ==
          "unknown option \"wieght=2\" (did you mean weight?)");
    CHECK(member_error("10.0.0.1:80 drain") ==
          "unknown option \"drain\" (valid: weight=1..65535, state=up|down|drain, "
          "max_connections=0..16777216)");
    CHECK(member_error("10.0.0.1:80 weight=2 weight=3") ==
          "\"weight=3\" repeats weight (valid: each option once)");
    CHECK(member_error("10.0.0.1:80,10.0.0.2:80") ==
          "bad port \"80,10.0.0.2:80\" in \"10.0.0.1:80,10.0.0.2:80\" (valid: 1..65535)");
}
