// The load balancer's part of the configuration schema: the rows of [lb], [[pool]], [[profile]]
// and [[virtual_server]], their rules, and the pool member syntax. keys() in config_schema.cpp
// serves these rows and the core ones as one table. Design choice: a member is one string,
// "ADDR:PORT [weight=N] [state=up|down|drain] [max_connections=N]", as in HAProxy's `server` and
// nginx's `upstream` lines, so a pool reads as a list of servers and each bad member gets its own
// file:line:column; its options are spelled key=value like the TOML around it.
#include "engine/config_schema.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace tcpterm::engine::schema {

namespace {

template <auto M>
void lbs(const Target& t, const Value& v) {
    store(t.engine->lb.*M, v);
}
template <auto M>
void pool(const Target& t, const Value& v) {
    store(t.pool->*M, v);
}
template <auto M>
void prof(const Target& t, const Value& v) {
    store(t.profile->*M, v);
}
template <auto M>
void vs(const Target& t, const Value& v) {
    store(t.virtual_server->*M, v);
}

using S = Section;
using B = LbConfig;
using PC = PoolConfig;
using PR = ProfileConfig;
using V = VirtualServerConfig;

// Enumerations, in the C++ enums' order.
constexpr std::string_view kAlgorithms[] = {"round_robin", "least_connections", "maglev"};
constexpr std::string_view kHealthChecks[] = {"none", "tcp", "http"};
constexpr std::string_view kLimitActions[] = {"reset", "drop"};
constexpr std::string_view kResetActions[] = {"reset", "fin"};
constexpr std::string_view kMemberStates[] = {"up", "down", "drain"};
static_assert(static_cast<int>(PoolAlgorithm::round_robin) == 0 &&
              static_cast<int>(PoolAlgorithm::least_connections) == 1 &&
              static_cast<int>(PoolAlgorithm::maglev) == 2);
static_assert(static_cast<int>(HealthCheckType::none) == 0 &&
              static_cast<int>(HealthCheckType::tcp) == 1 &&
              static_cast<int>(HealthCheckType::http) == 2);
static_assert(static_cast<int>(LimitAction::reset) == 0 &&
              static_cast<int>(LimitAction::drop) == 1);
static_assert(static_cast<int>(ResetAction::reset) == 0 && static_cast<int>(ResetAction::fin) == 1);
static_assert(static_cast<int>(MemberAdmin::up) == 0 && static_cast<int>(MemberAdmin::down) == 1 &&
              static_cast<int>(MemberAdmin::drain) == 2);

// The member syntax; kOptions below holds the same ranges as numbers.
constexpr std::string_view kMemberSyntax =
    "ADDR:PORT [weight=1..65535] [state=up|down|drain] [max_connections=0..16777216]";
constexpr std::string_view kMemberOptions =
    "weight=1..65535, state=up|down|drain, max_connections=0..16777216";

// A profile key's range and description are its [tcp] key's (a test compares them).
// clang-format off
constexpr Key kLbKeys[] = {
    // [lb]
    integer(S::lb, "source_port_min", "10000", 1024, 65535, "",
            "lowest local TCP port of the connections to pool members", &lbs<&B::source_port_min>),
    integer(S::lb, "source_port_max", "60999", 1024, 65535, "",
            "highest local TCP port of the connections to pool members", &lbs<&B::source_port_max>),

    // [[pool]]
    no_default(other(S::pool, "name", Type::string, "",
                     "the name virtual servers use for the pool (letters, digits, '-', '_'); unique",
                     &pool<&PC::name>),
               true, "\"web\""),
    choice(S::pool, "algorithm", "\"round_robin\"", kAlgorithms,
           "how a member is picked: weighted round robin, weighted least connections, or Maglev "
           "consistent hashing of the client address",
           &pool<&PC::algorithm>),
    no_default(other(S::pool, "members", Type::member_array, "",
                     "the backend servers, one string each: address:port, then options (see Pool "
                     "members)",
                     &pool<&PC::members>),
               true, "[\"198.18.1.2:8080\", \"198.18.1.3:8080 weight=2\"]"),
    choice(S::pool, "health_check", "\"none\"", kHealthChecks,
           "how each member is checked: not at all (always healthy), a TCP connect, or an HTTP "
           "GET of health_path",
           &pool<&PC::health_check>),
    duration(S::pool, "health_interval", "\"2s\"", ms(100), sec(3600),
             "time between two checks of a member", &pool<&PC::health_interval>),
    duration(S::pool, "health_timeout", "\"1s\"", ms(10), sec(3600),
             "a check not answered within this long fails (at most health_interval)",
             &pool<&PC::health_timeout>),
    integer(S::pool, "health_rise", "2", 1, 100, "checks",
            "consecutive successful checks that mark a down member up", &pool<&PC::health_rise>),
    integer(S::pool, "health_fall", "3", 1, 100, "checks",
            "consecutive failed checks that mark an up member down", &pool<&PC::health_fall>),
    other(S::pool, "health_path", Type::string, "\"/\"",
          "path the HTTP check requests; a 2xx or 3xx status is success",
          &pool<&PC::health_path>),
    other(S::pool, "reset_on_down", Type::boolean, "false",
          "reset the existing connections of a member marked down (false: they run on)",
          &pool<&PC::reset_on_down>),

    // [[profile]]
    no_default(other(S::profile, "name", Type::string, "",
                     "the name virtual servers use for the profile (letters, digits, '-', '_'); "
                     "unique",
                     &prof<&PR::name>),
               true, "\"client\""),
    unset_means(duration(S::profile, "idle_timeout", "", 0, sec(86400),
                         "end a connection with no traffic either way for this long (0 = off)",
                         &prof<&PR::idle_timeout>),
                "inherits [tcp] idle_timeout", "\"300s\""),
    unset_means(duration(S::profile, "user_timeout", "", 0, sec(86400),
                         "drop a connection whose data stays unacknowledged this long "
                         "(TCP_USER_TIMEOUT; 0 = off)",
                         &prof<&PR::user_timeout>),
                "inherits [tcp] user_timeout", "\"30s\""),
    unset_means(duration(S::profile, "linger", "", 0, sec(3600),
                         "close() lingers this long for unsent data (SO_LINGER; 0 = abortive "
                         "close: a RST at once)",
                         &prof<&PR::linger>),
                "no linger (close() returns at once; the FIN follows the data)", "\"5s\""),
    unset_means(other(S::profile, "keepalive", Type::boolean, "",
                      "enable keepalive (SO_KEEPALIVE) on the connections", &prof<&PR::keepalive>),
                "off", "true"),
    unset_means(duration(S::profile, "keepalive_time", "", sec(1), sec(86400),
                         "idle time before the first keepalive probe (tcp_keepalive_time)",
                         &prof<&PR::keepalive_time>),
                "inherits [tcp] keepalive_time", "\"10m\""),
    unset_means(duration(S::profile, "keepalive_intvl", "", sec(1), sec(3600),
                         "interval between keepalive probes (tcp_keepalive_intvl)",
                         &prof<&PR::keepalive_intvl>),
                "inherits [tcp] keepalive_intvl", "\"15s\""),
    unset_means(integer(S::profile, "keepalive_probes", "", 1, 127, "probes",
                        "unanswered probes before the connection is reset (tcp_keepalive_probes)",
                        &prof<&PR::keepalive_probes>),
                "inherits [tcp] keepalive_probes", "4"),
    unset_means(other(S::profile, "nodelay", Type::boolean, "",
                      "turn Nagle's algorithm off (TCP_NODELAY)", &prof<&PR::nodelay>),
                "inherits [tcp] nodelay", "true"),
    unset_means(other(S::profile, "reset_on_timeout", Type::boolean, "",
                      "idle and close-wait timeouts send a RST (true) or drop silently (false)",
                      &prof<&PR::reset_on_timeout>),
                "inherits [tcp] reset_on_timeout", "true"),
    unset_means(integer(S::profile, "rcv_buf", "", 4096, 1 << 30, "bytes",
                        "receive buffer per connection; sets the window scale", &prof<&PR::rcv_buf>),
                "inherits [tcp] rcv_buf", "131072"),
    unset_means(integer(S::profile, "snd_buf", "", 4096, 1 << 30, "bytes",
                        "send buffer per connection", &prof<&PR::snd_buf>),
                "inherits [tcp] snd_buf", "131072"),

    // [[virtual_server]]
    no_default(other(S::virtual_server, "name", Type::string, "",
                     "the virtual server's name (letters, digits, '-', '_'); unique",
                     &vs<&V::name>),
               true, "\"web\""),
    other(S::virtual_server, "address", Type::ipv4, "\"0.0.0.0\"",
          "local address; \"0.0.0.0\" = every owned address", &vs<&V::address>),
    no_default(integer(S::virtual_server, "port", "", 1, 65535, "", "local TCP port",
                       &vs<&V::port>),
               true, "8080"),
    no_default(other(S::virtual_server, "pool", Type::string, "",
                     "name of the [[pool]] whose members get the connections", &vs<&V::pool>),
               true, "\"web\""),
    other(S::virtual_server, "client_profile", Type::string, "\"\"",
          "name of the [[profile]] for the client side (accepted connections); empty = [tcp]",
          &vs<&V::client_profile>),
    other(S::virtual_server, "server_profile", Type::string, "\"\"",
          "name of the [[profile]] for the server side (connections to members); empty = [tcp]",
          &vs<&V::server_profile>),
    integer(S::virtual_server, "backlog", "0", 0, 1'048'576, "connections",
            "accept queue (0 = [tcp] backlog)", &vs<&V::backlog>),
    integer(S::virtual_server, "max_connections", "0", 0, 16'777'216, "connections",
            "client connections at most, per worker; beyond, over_limit applies (0 = no limit)",
            &vs<&V::max_connections>),
    choice(S::virtual_server, "over_limit", "\"reset\"", kLimitActions,
           "a SYN past max_connections: answer with a RST, or drop it silently",
           &vs<&V::over_limit>),
    integer(S::virtual_server, "connect_retries", "2", 0, 16, "retries",
            "other members tried after a connection to a member fails", &vs<&V::connect_retries>),
    duration(S::virtual_server, "connect_timeout", "\"3s\"", ms(100), sec(60),
             "a connection to a member not established within this long fails",
             &vs<&V::connect_timeout>),
    choice(S::virtual_server, "on_reset", "\"reset\"", kResetActions,
           "when one side sends a RST, reset the other side too, or close it with a FIN",
           &vs<&V::on_reset>),
    unset_means(other(S::virtual_server, "source_address", Type::ipv4, "",
                      "local address of the connections to members; one of the ports' addresses",
                      &vs<&V::source_address>),
                "the address of the port that routes to the member", "\"198.18.0.2\""),
};
// clang-format on

constexpr std::string_view kLbRules[] = {
    "`lb.source_port_min` <= `lb.source_port_max`.",
    "`pool.name`, `profile.name` and `virtual_server.name` have only letters, digits, '-' and "
    "'_', and no two pools, profiles or virtual servers share a name.",
    "A pool's members are unicast addresses, each address and port once.",
    "`pool.health_timeout` <= `pool.health_interval`.",
    "`pool.health_path` starts with '/' and has no spaces or control characters.",
    "`virtual_server.pool` names a pool; `virtual_server.client_profile` and "
    "`virtual_server.server_profile`, unless empty, name a profile.",
    "`virtual_server.address`, unless 0.0.0.0, and `virtual_server.source_address`, when set, "
    "are addresses of the ports.",
    "No virtual server shares its address and port with another virtual server or a listener; "
    "0.0.0.0 shares the port with every address.",
};

bool blank(char c) {
    return c == ' ' || c == '\t';
}

struct MemberOption {
    std::string_view name;
    std::string_view valid; // for messages
    std::uint32_t lo = 0;   // numeric options
    std::uint32_t hi = 0;
};
constexpr MemberOption kOptions[] = {
    {"weight", "weight=1..65535", 1, 65535},
    {"state", "state=up|down|drain"},
    {"max_connections", "max_connections=0..16777216", 0, 16'777'216},
};

/// The decimal number of "token" (name=value) in lo..hi; otherwise `why` says what is wrong.
std::optional<std::uint32_t> option_number(std::string_view token, std::string_view value,
                                           std::string_view valid, std::uint32_t lo,
                                           std::uint32_t hi, std::string& why) {
    if (value.empty() || value.find_first_not_of("0123456789") != value.npos) {
        why = fmt::format("\"{}\" is not a number (valid: {})", token, valid);
        return std::nullopt;
    }
    std::uint64_t n = 0;
    const auto r = std::from_chars(value.data(), value.data() + value.size(), n);
    if (r.ec != std::errc{} || n < lo || n > hi) {
        why = fmt::format("\"{}\" is out of range (valid: {})", token, valid);
        return std::nullopt;
    }
    return static_cast<std::uint32_t>(n);
}

std::optional<std::pair<std::uint32_t, std::uint16_t>> member_endpoint(std::string_view token,
                                                                       std::string& why) {
    const std::size_t colon = token.find(':');
    if (colon == std::string_view::npos) {
        why = fmt::format("\"{}\" has no port (valid: ADDR:PORT first, e.g. \"198.18.1.2:8080\")",
                          token);
        return std::nullopt;
    }
    const std::string_view addr_text = token.substr(0, colon);
    const std::string_view port_text = token.substr(colon + 1);
    const auto addr = parse_ipv4(addr_text);
    if (!addr) {
        why = fmt::format("bad IPv4 address \"{}\" (valid: a dotted quad such as \"198.18.1.2\")",
                          addr_text);
        return std::nullopt;
    }
    if (*addr == 0 || *addr >= 0xE0000000u) {
        why = fmt::format("{} is not a unicast address (valid: 0.0.0.1 .. 223.255.255.255)",
                          addr_text);
        return std::nullopt;
    }
    if (port_text.empty() || port_text.find_first_not_of("0123456789") != port_text.npos) {
        why = fmt::format("bad port \"{}\" in \"{}\" (valid: 1..65535)", port_text, token);
        return std::nullopt;
    }
    std::uint64_t port = 0;
    const auto r = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (r.ec != std::errc{} || port < 1 || port > 65535) {
        why = fmt::format("port {} is out of range (valid: 1..65535)", port_text);
        return std::nullopt;
    }
    return std::pair{*addr, static_cast<std::uint16_t>(port)};
}

} // namespace

std::span<const Key> lb_keys() {
    return kLbKeys;
}

std::span<const std::string_view> lb_rules() {
    return kLbRules;
}

std::string_view member_syntax() {
    return kMemberSyntax;
}

std::optional<MemberConfig> parse_member(std::string_view s, std::string& why) {
    std::vector<std::string_view> tokens;
    for (std::size_t i = 0; i < s.size();) {
        if (blank(s[i])) {
            ++i;
            continue;
        }
        const std::size_t start = i;
        while (i < s.size() && !blank(s[i])) {
            ++i;
        }
        tokens.push_back(s.substr(start, i - start));
    }
    if (tokens.empty()) {
        why = fmt::format("empty member (valid: \"{}\", e.g. \"198.18.1.2:8080 weight=2\")",
                          kMemberSyntax);
        return std::nullopt;
    }
    const auto endpoint = member_endpoint(tokens.front(), why);
    if (!endpoint) {
        return std::nullopt;
    }
    MemberConfig m;
    m.address = endpoint->first;
    m.port = endpoint->second;

    bool seen[std::size(kOptions)] = {};
    for (std::size_t t = 1; t < tokens.size(); ++t) {
        const std::string_view token = tokens[t];
        const std::size_t eq = token.find('=');
        const std::string_view name = token.substr(0, eq);
        const std::string_view value = eq == token.npos ? "" : token.substr(eq + 1);
        const auto opt = std::find_if(std::begin(kOptions), std::end(kOptions),
                                      [&](const MemberOption& o) { return o.name == name; });
        if (opt == std::end(kOptions)) {
            std::string_view best;
            std::size_t best_d = 3; // suggest only close names
            for (const MemberOption& o : kOptions) {
                if (const std::size_t d = edit_distance(name, o.name); d < best_d) {
                    best_d = d;
                    best = o.name;
                }
            }
            why = best.empty()
                      ? fmt::format("unknown option \"{}\" (valid: {})", token, kMemberOptions)
                      : fmt::format("unknown option \"{}\" (did you mean {}?)", token, best);
            return std::nullopt;
        }
        bool& once = seen[static_cast<std::size_t>(opt - std::begin(kOptions))];
        if (once) {
            why = fmt::format("\"{}\" repeats {} (valid: each option once)", token, name);
            return std::nullopt;
        }
        once = true;
        if (eq == token.npos) {
            why = fmt::format("\"{}\" has no value (valid: {})", token, opt->valid);
            return std::nullopt;
        }
        if (opt->name == "state") {
            const auto it = std::find(std::begin(kMemberStates), std::end(kMemberStates), value);
            if (it == std::end(kMemberStates)) {
                why = fmt::format("\"{}\" is not a state (valid: {})", token, opt->valid);
                return std::nullopt;
            }
            m.state = static_cast<MemberAdmin>(it - std::begin(kMemberStates));
            continue;
        }
        const auto n = option_number(token, value, opt->valid, opt->lo, opt->hi, why);
        if (!n) {
            return std::nullopt;
        }
        (opt->name == "weight" ? m.weight : m.max_connections) = *n;
    }
    return m;
}

} // namespace tcpterm::engine::schema
