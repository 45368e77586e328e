// The configuration schema: one row per key (section, name, type, TOML default, range, unit,
// reloadable, description, setter), and the value syntaxes (durations with units, IPv4 addresses
// and prefixes). The load-balancer sections' rows live in config_schema_lb.cpp; keys() serves both
// as one table. Design choice: defaults are TOML literals that the loader parses like any file
// value, so a default that disagrees with its own range or with the C++ struct fails a test.
#include "engine/config_schema.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <numeric>

namespace tcpterm::engine::schema {

namespace {

template <auto M>
void eng(const Target& t, const Value& v) {
    store(t.engine->*M, v);
}
template <auto M>
void tcp(const Target& t, const Value& v) {
    store(t.engine->tcp.*M, v);
}
template <auto M>
void imp_rx(const Target& t, const Value& v) {
    store(t.engine->impair_rx.*M, v);
}
template <auto M>
void imp_tx(const Target& t, const Value& v) {
    store(t.engine->impair_tx.*M, v);
}
template <auto M>
void imp_both(const Target& t, const Value& v) {
    store(t.engine->impair_rx.*M, v);
    store(t.engine->impair_tx.*M, v);
}
template <auto M>
void port(const Target& t, const Value& v) {
    store(t.port->*M, v);
}
template <auto M>
void lis(const Target& t, const Value& v) {
    store(t.listener->*M, v);
}

using S = Section;
using E = EngineConfig;
using P = PortConfig;
using L = ListenerConfig;
using T = tcp::TcpConfig;
using I = ImpairSpec;

constexpr std::string_view kServices[] = {"echo", "discard", "http"};
constexpr std::string_view kClosers[] = {"server", "client"};
constexpr std::string_view kCongestion[] = {"newreno", "cubic"};
static_assert(static_cast<int>(tcp::CongestionControl::newreno) == 0 &&
              static_cast<int>(tcp::CongestionControl::cubic) == 1);
static_assert(static_cast<int>(Service::echo) == 0 && static_cast<int>(Service::http) == 2);
static_assert(static_cast<int>(Closer::server) == 0 && static_cast<int>(Closer::client) == 1);

// In the order of the Section enum (section() indexes this table).
constexpr SectionSpec kSections[] = {
    {S::eal, "eal", false, "DPDK's Environment Abstraction Layer, started once at boot."},
    {S::engine, "engine", false, "Worker cores, memory pools and the main loop."},
    {S::port, "port", true,
     "One table per NIC port. Worker i polls RX queue i and sends on TX queue i of every port."},
    {S::listener, "listener", true,
     "One table per listening socket; each worker accepts on every listener."},
    {S::tcp, "tcp", false,
     "TCP behaviour, under the Linux sysctl and load-balancer profile names operators know."},
    {S::lb, "lb", false,
     "Load balancer settings shared by every virtual server: the local ports of the connections "
     "to pool members."},
    {S::pool, "pool", true,
     "One table per pool: the backend servers (members) a virtual server proxies to, how one is "
     "picked for each connection and how their health is checked."},
    {S::profile, "profile", true,
     "One table per TCP profile, named by a virtual server for its client or server side. A key "
     "left out keeps the [tcp] behaviour."},
    {S::virtual_server, "virtual_server", true,
     "One table per virtual server: connections accepted on its address and port are proxied to "
     "a member of its pool."},
    {S::impair, "impair", false,
     "Fault injection on every port (netem is not available): off unless a probability or a "
     "delay is set. Probabilities are in parts per million (10000 = 1%)."},
};

// clang-format off
constexpr Key kKeys[] = {
    // [eal]
    other(S::eal, "args", Type::string_array, "[]",
          "extra EAL arguments after the program name, e.g. [\"--no-huge\", \"-m\", \"512\"]",
          &eng<&E::eal_args>),
    other(S::eal, "file_prefix", Type::string, "\"\"",
          "EAL --file-prefix (letters, digits, '-', '_'); empty = \"tcpterm\"",
          &eng<&E::file_prefix>),

    // [engine]
    integer(S::engine, "workers", "1", 1, 128, "lcores",
            "worker lcores; each owns RX/TX queue i of every port", &eng<&E::workers>),
    integer(S::engine, "mbufs", "32767", 1023, 16'777'215, "mbufs",
            "mbufs in the per-socket packet pool", &eng<&E::mbufs>),
    integer(S::engine, "mbuf_cache", "256", 0, 512, "mbufs",
            "per-lcore cache of the mbuf pool (0 = none)", &eng<&E::mbuf_cache>),
    integer(S::engine, "rx_burst", "32", 1, 512, "packets",
            "packets read per rte_eth_rx_burst call", &eng<&E::rx_burst>),
    integer(S::engine, "max_connections", "65536", 1, 16'777'216, "connections",
            "TCP control blocks per worker", &eng<&E::max_connections>),
    integer(S::engine, "max_time_wait", "262144", 1, 16'777'216, "records",
            "TIME_WAIT record pool per worker", &eng<&E::max_time_wait>),
    integer(S::engine, "max_loss_states", "16384", 0, 16'777'216, "connections",
            "per worker, connections that may hold loss state at once: out-of-order queue, SACK "
            "scoreboard, CUBIC (0 = none: out-of-order segments dropped, NewReno)",
            &eng<&E::max_loss_states>),
    duration(S::engine, "timer_tick", "\"1ms\"", us(10), ms(100),
             "timer wheel resolution; every TCP timer is rounded up to a tick",
             &eng<&E::timer_tick>),
    integer(S::engine, "max_expiries", "4096", 1, 1'048'576, "timers",
            "timers fired per loop iteration at most (the rest wait one iteration)",
            &eng<&E::max_expiries>),
    duration(S::engine, "drain_timeout", "\"30s\"", 0, sec(3600),
             "graceful stop: established connections get this long to finish (0 = none)",
             &eng<&E::drain_timeout>),
    duration(S::engine, "arp_timeout", "\"60s\"", sec(1), sec(3600),
             "lifetime of an ARP cache entry", &eng<&E::arp_timeout>),
    other(S::engine, "pdump", Type::boolean, "true",
          "initialise rte_pdump so dpdk-dumpcap can attach", &eng<&E::pdump>),

    // [[port]]
    no_default(other(S::port, "device", Type::string, "",
                     "DPDK vdev spec (\"net_tap0,iface=tcpterm0\") or PCI address",
                     &port<&P::device>),
               true, "\"net_tap0,iface=tcpterm0\""),
    no_default(other(S::port, "addresses", Type::ipv4_prefix_array, "",
                     "owned IPv4 addresses with their subnet, e.g. [\"198.18.0.2/24\"]",
                     &port<&P::addresses>),
               true, "[\"198.18.0.2/24\"]"),
    no_default(other(S::port, "gateway", Type::ipv4, "",
                     "next hop for destinations outside the subnets; unset = none",
                     &port<&P::gateway>),
               false, "\"198.18.0.1\""),
    integer(S::port, "mtu", "1500", 576, 9000, "bytes", "IP MTU of the port", &port<&P::mtu>),
    integer(S::port, "rx_desc", "1024", 64, 16384, "descriptors",
            "RX ring size per queue (a power of two)", &port<&P::rx_desc>),
    integer(S::port, "tx_desc", "1024", 64, 16384, "descriptors",
            "TX ring size per queue (a power of two)", &port<&P::tx_desc>),
    other(S::port, "checksum_offload", Type::boolean, "true",
          "use the NIC's IPv4/TCP checksum offload when it has it", &port<&P::checksum_offload>),
    other(S::port, "rss", Type::boolean, "true",
          "use RSS (symmetric key) when the NIC has it and workers > 1", &port<&P::rss>),
    other(S::port, "promiscuous", Type::boolean, "false", "receive every frame on the wire",
          &port<&P::promiscuous>),

    // [[listener]]
    other(S::listener, "address", Type::ipv4, "\"0.0.0.0\"",
          "local address; \"0.0.0.0\" = every owned address", &lis<&L::address>),
    no_default(integer(S::listener, "port", "", 1, 65535, "", "local TCP port",
                       &lis<&L::port>),
               true, "80"),
    choice(S::listener, "service", "\"echo\"", kServices,
           "built-in application: echo the bytes back, discard them, or send a fixed HTTP response",
           &lis<&L::service>),
    integer(S::listener, "backlog", "0", 0, 1'048'576, "connections",
            "accept queue (0 = [tcp] backlog)", &lis<&L::backlog>),
    integer(S::listener, "http_response_size", "128", 0, 1'048'576, "bytes",
            "body size of the fixed HTTP response (service \"http\")",
            &lis<&L::http_response_size>),
    choice(S::listener, "http_closer", "\"client\"", kClosers,
           "who closes first after an HTTP response: the server or the client",
           &lis<&L::http_closer>),
    other(S::listener, "keepalive", Type::boolean, "false",
          "enable keepalive (SO_KEEPALIVE) on accepted connections", &lis<&L::keepalive>),

    // [tcp]: close and teardown
    duration(S::tcp, "fin_timeout", "\"60s\"", sec(1), sec(3600),
             "FIN_WAIT2 lifetime of an orphaned connection (tcp_fin_timeout)",
             &tcp<&T::fin_timeout>),
    duration(S::tcp, "time_wait", "\"60s\"", sec(1), sec(600),
             "TIME_WAIT duration, 2MSL (fixed at 60s in Linux)", &tcp<&T::time_wait>),
    integer(S::tcp, "max_tw_buckets", "262144", 0, 16'777'216, "records",
            "TIME_WAIT records at most; beyond, a closing connection skips TIME_WAIT "
            "(tcp_max_tw_buckets; 0 = never keep one)", &tcp<&T::max_tw_buckets>),
    integer(S::tcp, "orphan_retries", "0", 0, 255, "retransmissions",
            "FIN retransmissions of an orphan (tcp_orphan_retries; 0 = 8, as Linux)",
            &tcp<&T::orphan_retries>),
    duration(S::tcp, "close_wait_timeout", "\"0\"", 0, sec(3600),
             "CLOSE_WAIT lifetime before the connection is ended (0 = off)",
             &tcp<&T::close_wait_timeout>),
    duration(S::tcp, "idle_timeout", "\"0\"", 0, sec(86400),
             "end a connection with no traffic either way for this long (0 = off)",
             &tcp<&T::idle_timeout>),
    other(S::tcp, "reset_on_timeout", Type::boolean, "true",
          "idle and close-wait timeouts send a RST (true) or drop silently (false)",
          &tcp<&T::reset_on_timeout>),
    other(S::tcp, "tw_reuse", Type::boolean, "false",
          "a new SYN may reuse a TIME_WAIT four-tuple (tcp_tw_reuse, RFC 6191; needs timestamps)",
          &tcp<&T::tw_reuse>),
    // keepalive
    duration(S::tcp, "keepalive_time", "\"2h\"", sec(1), sec(86400),
             "idle time before the first keepalive probe (tcp_keepalive_time)",
             &tcp<&T::keepalive_time>),
    duration(S::tcp, "keepalive_intvl", "\"75s\"", sec(1), sec(3600),
             "interval between keepalive probes (tcp_keepalive_intvl)",
             &tcp<&T::keepalive_intvl>),
    integer(S::tcp, "keepalive_probes", "9", 1, 127, "probes",
            "unanswered probes before the connection is reset (tcp_keepalive_probes)",
            &tcp<&T::keepalive_probes>),
    // retransmission
    integer(S::tcp, "syn_retries", "6", 1, 127, "retransmissions",
            "SYN retransmissions of an active open (tcp_syn_retries)", &tcp<&T::syn_retries>),
    integer(S::tcp, "synack_retries", "5", 1, 255, "retransmissions",
            "SYN-ACK retransmissions of a passive open (tcp_synack_retries)",
            &tcp<&T::synack_retries>),
    integer(S::tcp, "retries2", "15", 1, 255, "retransmissions",
            "data retransmissions before the connection is dropped (tcp_retries2)",
            &tcp<&T::retries2>),
    duration(S::tcp, "rto_initial", "\"1s\"", ms(10), sec(60),
             "retransmission timeout before the first RTT sample (RFC 6298)",
             &tcp<&T::rto_initial>),
    duration(S::tcp, "rto_min", "\"200ms\"", ms(1), sec(10), "lower bound of the RTO",
             &tcp<&T::rto_min>),
    duration(S::tcp, "rto_max", "\"120s\"", sec(1), sec(600),
             "upper bound of the RTO and of its backoff", &tcp<&T::rto_max>),
    duration(S::tcp, "user_timeout", "\"0\"", 0, sec(86400),
             "drop a connection whose data stays unacknowledged this long (TCP_USER_TIMEOUT; "
             "0 = off)", &tcp<&T::user_timeout>),
    duration(S::tcp, "zero_window_timeout", "\"0\"", 0, sec(86400),
             "reset a peer whose window stays zero this long (0 = probe forever while answered)",
             &tcp<&T::zero_window_timeout>),
    // acknowledgement and sending
    duration(S::tcp, "delayed_ack", "\"40ms\"", ms(1), ms(500),
             "delayed ACK timer (an ACK is also sent at once every second segment)",
             &tcp<&T::delayed_ack>),
    other(S::tcp, "quickack", Type::boolean, "false", "ACK every segment at once (TCP_QUICKACK)",
          &tcp<&T::quickack>),
    other(S::tcp, "nodelay", Type::boolean, "false", "turn Nagle's algorithm off (TCP_NODELAY)",
          &tcp<&T::nodelay>),
    integer(S::tcp, "initial_cwnd", "10", 1, 256, "segments",
            "initial congestion window (RFC 6928)", &tcp<&T::initial_cwnd>),
    choice(S::tcp, "congestion_control", "\"cubic\"", kCongestion,
           "congestion controller: CUBIC (RFC 9438, Linux's default) or NewReno (RFC 5681/6582)",
           &tcp<&T::congestion_control>),
    // listener
    integer(S::tcp, "backlog", "4096", 1, 1'048'576, "connections",
            "accept queue of a listener without its own backlog (somaxconn)",
            &tcp<&T::backlog>),
    integer(S::tcp, "syn_backlog", "4096", 1, 1'048'576, "connections",
            "half-open connections per listener (tcp_max_syn_backlog)", &tcp<&T::syn_backlog>),
    integer(S::tcp, "syncookies", "1", 0, 2, "",
            "SYN cookies (tcp_syncookies): 0 off, 1 when the SYN queue overflows or memory is "
            "short, 2 always", &tcp<&T::syncookies>),
    // buffers and options
    integer(S::tcp, "mss", "1460", 536, 9000, "bytes", "advertised maximum segment size",
            &tcp<&T::mss>),
    integer(S::tcp, "rcv_buf", "262144", 4096, 1 << 30, "bytes",
            "receive buffer per connection; sets the window scale", &tcp<&T::rcv_buf>),
    integer(S::tcp, "snd_buf", "262144", 4096, 1 << 30, "bytes", "send buffer per connection",
            &tcp<&T::snd_buf>),
    other(S::tcp, "timestamps", Type::boolean, "true", "offer and accept RFC 7323 timestamps",
          &tcp<&T::timestamps>),
    other(S::tcp, "window_scaling", Type::boolean, "true",
          "offer and accept RFC 7323 window scaling", &tcp<&T::window_scaling>),
    other(S::tcp, "sack", Type::boolean, "true",
          "offer and accept SACK (RFC 2018; tcp_sack): SACK blocks for held out-of-order data, "
          "SACK-based loss recovery (RFC 6675)", &tcp<&T::sack_permitted>),
    integer(S::tcp, "challenge_ack_limit", "1000", 0, kMax32, "per second",
            "challenge ACKs per second per worker (RFC 5961; 0 = none)",
            &tcp<&T::challenge_ack_limit>),
    duration(S::tcp, "invalid_ratelimit", "\"500ms\"", 0, sec(10),
             "at most one ACK per connection per this for out-of-window segments "
             "(tcp_invalid_ratelimit; 0 = no limit)", &tcp<&T::invalid_ratelimit>),
    integer(S::tcp, "ttl", "64", 1, 255, "hops", "IPv4 TTL of sent packets", &tcp<&T::ttl>),
    integer(S::impair, "rx_drop", "0", 0, 1'000'000, "per million",
            "probability of dropping received packets, before the stack sees them", &imp_rx<&I::drop_ppm>),
    integer(S::impair, "rx_duplicate", "0", 0, 1'000'000, "per million",
            "probability of duplicating received packets, before the stack sees them", &imp_rx<&I::duplicate_ppm>),
    integer(S::impair, "rx_reorder", "0", 0, 1'000'000, "per million",
            "probability of holding back (reordering) received packets, before the stack sees them", &imp_rx<&I::reorder_ppm>),
    integer(S::impair, "rx_corrupt", "0", 0, 1'000'000, "per million",
            "probability of flipping a bit in received packets, before the stack sees them (checksums must catch it)",
            &imp_rx<&I::corrupt_ppm>),
    duration(S::impair, "rx_delay", "\"0\"", 0, sec(10), "delay added to received packets, before the stack sees them",
             &imp_rx<&I::delay>),
    integer(S::impair, "tx_drop", "0", 0, 1'000'000, "per million",
            "probability of dropping sent packets, before the NIC", &imp_tx<&I::drop_ppm>),
    integer(S::impair, "tx_duplicate", "0", 0, 1'000'000, "per million",
            "probability of duplicating sent packets, before the NIC", &imp_tx<&I::duplicate_ppm>),
    integer(S::impair, "tx_reorder", "0", 0, 1'000'000, "per million",
            "probability of holding back (reordering) sent packets, before the NIC", &imp_tx<&I::reorder_ppm>),
    integer(S::impair, "tx_corrupt", "0", 0, 1'000'000, "per million",
            "probability of flipping a bit in sent packets, before the NIC (checksums must catch it)",
            &imp_tx<&I::corrupt_ppm>),
    duration(S::impair, "tx_delay", "\"0\"", 0, sec(10), "delay added to sent packets, before the NIC",
             &imp_tx<&I::delay>),
    duration(S::impair, "reorder_gap", "\"1ms\"", us(1), sec(1),
             "how long a reordered packet is held back", &imp_both<&I::reorder_gap>),
    integer(S::impair, "seed", "1", 0, std::numeric_limits<std::int64_t>::max(), "",
            "random seed, so a run can be replayed (worker i adds i)", &eng<&E::impair_seed>),
};
// clang-format on

constexpr std::string_view kRules[] = {
    "`tcp.rto_min` <= `tcp.rto_initial` <= `tcp.rto_max`.",
    "`tcp.delayed_ack` < `tcp.rto_min`, so a delayed ACK never triggers a retransmission.",
    "`tcp.mss` + 54 (Ethernet, IPv4 and TCP headers) fits an mbuf's 2048-byte data room: "
    "`tcp.mss` <= 1994.",
    "`tcp.mss` + 40 <= every `port.mtu`.",
    "`tcp.tw_reuse` needs `tcp.timestamps` (RFC 6191 tells incarnations apart by timestamp).",
    "`engine.rx_burst` <= every `port.rx_desc`.",
    "`port.rx_desc` and `port.tx_desc` are powers of two.",
    "`port.device` values are unique; every address is unicast (not 0.0.0.0, below 224.0.0.0) "
    "and belongs to one port only.",
    "`port.gateway` lies inside one of its port's subnets.",
    "`engine.mbufs` >= `engine.workers` x (`engine.mbuf_cache` + the sum of `rx_desc` + "
    "`tx_desc` over ports), so rings and caches cannot exhaust the pool.",
    "`listener.address`, unless 0.0.0.0, is one of the ports' addresses.",
    "No two listeners share an address and port.",
    "`eal.args` does not contain --file-prefix (use `eal.file_prefix`), and `eal.file_prefix` "
    "has only letters, digits, '-' and '_'.",
};

struct Unit {
    std::string_view name;
    Nanos ns;
};
// Largest first (format_duration picks the first that divides); names match whole, so "m" and
// "ms" never clash.
constexpr Unit kUnits[] = {{"d", sec(86400)}, {"h", sec(3600)}, {"m", sec(60)}, {"s", sec(1)},
                           {"ms", ms(1)},     {"us", us(1)},    {"ns", 1}};

bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
    return !__builtin_mul_overflow(a, b, &out);
}

/// The core rows, then the load-balancer rows: one contiguous table, so a row's index is stable
/// (the loader keys its parsed defaults by it).
std::span<const Key> all_keys() {
    static const std::vector<Key> all = [] {
        std::vector<Key> v(std::begin(kKeys), std::end(kKeys));
        v.insert(v.end(), lb_keys().begin(), lb_keys().end());
        return v;
    }();
    return all;
}

} // namespace

std::span<const SectionSpec> sections() {
    return kSections;
}

const SectionSpec& section(Section s) {
    return kSections[static_cast<std::size_t>(s)];
}

std::span<const Key> keys() {
    return all_keys();
}

const Key* find_key(Section s, std::string_view name) {
    for (const Key& k : keys()) {
        if (k.section == s && k.name == name) {
            return &k;
        }
    }
    return nullptr;
}

std::span<const std::string_view> rules() {
    static const std::vector<std::string_view> all = [] {
        std::vector<std::string_view> v(std::begin(kRules), std::end(kRules));
        v.insert(v.end(), lb_rules().begin(), lb_rules().end());
        return v;
    }();
    return all;
}

std::string type_text(const Key& k) {
    switch (k.type) {
    case Type::integer:
        return k.unit.empty() ? std::string("integer") : fmt::format("integer ({})", k.unit);
    case Type::boolean:
        return "boolean";
    case Type::duration:
        return "duration";
    case Type::string:
        return "string";
    case Type::string_array:
        return "array of strings";
    case Type::ipv4:
        return "IPv4 address";
    case Type::ipv4_prefix_array:
        return "array of IPv4 prefixes";
    case Type::enumeration:
        return "string";
    case Type::member_array:
        return "array of members";
    }
    return "?";
}

std::string range_text(const Key& k) {
    switch (k.type) {
    case Type::integer:
        return fmt::format("{}..{}", k.min, k.max);
    case Type::duration:
        return fmt::format("{}..{}", format_duration(static_cast<Nanos>(k.min)),
                           format_duration(static_cast<Nanos>(k.max)));
    case Type::boolean:
        return "true, false";
    case Type::ipv4:
        return "a.b.c.d";
    case Type::ipv4_prefix_array:
        return "a.b.c.d/1..32";
    case Type::member_array:
        return std::string(member_syntax());
    case Type::enumeration: {
        std::string out;
        for (std::string_view a : k.allowed) {
            out += out.empty() ? "" : ", ";
            out += fmt::format("\"{}\"", a);
        }
        return out;
    }
    default:
        return "";
    }
}

std::string format_duration(Nanos v) {
    if (v == 0) {
        return "0";
    }
    for (const Unit& u : kUnits) {
        if (u.name != "d" && v % u.ns == 0) {
            return fmt::format("{}{}", v / u.ns, u.name);
        }
    }
    return fmt::format("{}ns", v); // not reached: ns divides everything
}

std::optional<Nanos> parse_duration(std::string_view s, std::string& why) {
    if (s.empty()) {
        why = "empty";
        return std::nullopt;
    }
    if (s == "0") {
        return 0;
    }
    if (s.front() == '-') {
        why = "durations cannot be negative";
        return std::nullopt;
    }
    const auto digit = [](char c) { return c >= '0' && c <= '9'; };
    constexpr std::uint64_t kLimit = std::numeric_limits<std::int64_t>::max();
    std::uint64_t total = 0;
    std::size_t i = 0;
    while (i < s.size()) {
        const std::size_t start = i;
        while (i < s.size() && digit(s[i])) {
            ++i;
        }
        const std::string_view whole = s.substr(start, i - start);
        std::string_view frac;
        if (i < s.size() && s[i] == '.') {
            const std::size_t f = ++i;
            while (i < s.size() && digit(s[i])) {
                ++i;
            }
            frac = s.substr(f, i - f);
            if (frac.empty()) {
                why = "a digit must follow '.'";
                return std::nullopt;
            }
        }
        if (whole.empty()) {
            why = frac.empty() ? fmt::format("expected a number at \"{}\"", s.substr(start))
                               : "a digit must precede '.'";
            return std::nullopt;
        }
        const std::size_t u = i;
        while (i < s.size() && !digit(s[i]) && s[i] != '.') {
            ++i;
        }
        const std::string_view unit_name = s.substr(u, i - u);
        if (unit_name.empty()) {
            why = fmt::format("missing unit after {}", s.substr(start, u - start));
            return std::nullopt;
        }
        const Unit* unit = nullptr;
        for (const Unit& x : kUnits) {
            if (x.name == unit_name) {
                unit = &x;
            }
        }
        if (unit == nullptr) {
            why = fmt::format("unknown unit \"{}\"", unit_name);
            return std::nullopt;
        }
        std::uint64_t w = 0;
        if (std::from_chars(whole.data(), whole.data() + whole.size(), w).ec != std::errc{} ||
            !checked_mul(w, unit->ns, w)) {
            why = "too large";
            return std::nullopt;
        }
        while (!frac.empty() && frac.back() == '0') {
            frac.remove_suffix(1);
        }
        if (frac.size() > 18) {
            why = "finer than 1ns";
            return std::nullopt;
        }
        if (!frac.empty()) {
            // frac / 10^k units, exactly: reduce by the common factor of unit and 10^k.
            std::uint64_t f = 0;
            std::from_chars(frac.data(), frac.data() + frac.size(), f);
            std::uint64_t den = 1;
            for (std::size_t d = 0; d < frac.size(); ++d) {
                den *= 10;
            }
            const std::uint64_t g = std::gcd(unit->ns, den);
            if (f % (den / g) != 0) {
                why = "finer than 1ns";
                return std::nullopt;
            }
            std::uint64_t part = 0;
            if (!checked_mul(f / (den / g), unit->ns / g, part) ||
                __builtin_add_overflow(w, part, &w)) {
                why = "too large";
                return std::nullopt;
            }
        }
        if (__builtin_add_overflow(total, w, &total) || total > kLimit) {
            why = "too large";
            return std::nullopt;
        }
    }
    return total;
}

std::optional<std::uint32_t> parse_ipv4(std::string_view s) {
    std::uint32_t addr = 0;
    for (int part = 0; part < 4; ++part) {
        if (part > 0) {
            if (s.empty() || s.front() != '.') {
                return std::nullopt;
            }
            s.remove_prefix(1);
        }
        std::size_t n = 0;
        while (n < s.size() && n < 4 && s[n] >= '0' && s[n] <= '9') {
            ++n;
        }
        if (n == 0 || n > 3 || (n > 1 && s.front() == '0')) {
            return std::nullopt;
        }
        unsigned v = 0;
        std::from_chars(s.data(), s.data() + n, v);
        if (v > 255) {
            return std::nullopt;
        }
        addr = (addr << 8) | v;
        s.remove_prefix(n);
    }
    if (!s.empty()) {
        return std::nullopt;
    }
    return addr;
}

std::string format_ipv4(std::uint32_t a) {
    return fmt::format("{}.{}.{}.{}", a >> 24, (a >> 16) & 0xFF, (a >> 8) & 0xFF, a & 0xFF);
}

std::optional<Ipv4Prefix> parse_ipv4_prefix(std::string_view s) {
    const std::size_t slash = s.find('/');
    if (slash == std::string_view::npos) {
        return std::nullopt;
    }
    const auto addr = parse_ipv4(s.substr(0, slash));
    const std::string_view len = s.substr(slash + 1);
    if (!addr || len.empty() || len.size() > 2 || (len.size() > 1 && len.front() == '0')) {
        return std::nullopt;
    }
    unsigned v = 0;
    const auto r = std::from_chars(len.data(), len.data() + len.size(), v);
    if (r.ec != std::errc{} || r.ptr != len.data() + len.size() || v < 1 || v > 32) {
        return std::nullopt;
    }
    return Ipv4Prefix{*addr, static_cast<std::uint8_t>(v)};
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    std::iota(row.begin(), row.end(), std::size_t{0});
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

} // namespace tcpterm::engine::schema
