// Configuration errors: every kind, with its exact `FILE:LINE:COLUMN: key: what (valid: ...)`
// message. Design choice: whole message lists are compared, so a missing, extra, misplaced or
// reordered error fails the test as surely as a wrong word.
#include "engine/config.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace tcpterm::engine;

namespace {

using Messages = std::vector<std::string>;

Messages messages(const std::string& text) {
    std::vector<ConfigError> errors;
    (void)parse_config(text, "t.toml", errors);
    Messages out;
    for (const ConfigError& e : errors) {
        out.push_back(e.message);
    }
    return out;
}

const std::string kPort = "[[port]]\ndevice = \"net_null0\"\naddresses = [\"10.0.0.1/24\"]\n";
// Lines 1-3.
const std::string kPool = "[[pool]]\nname = \"web\"\nmembers = [\"10.0.1.2:80\"]\n";

/// A [[pool]] named "web" whose members line (line 3) is `members = [MEMBERS]`.
std::string pool_with(const std::string& members) {
    return "[[pool]]\nname = \"web\"\nmembers = [" + members + "]\n";
}

} // namespace

TEST_CASE("config errors: TOML syntax", "[config][errors]") {
    CHECK(messages("[tcp]\nmss = [1,\n") ==
          Messages{"t.toml:2:11: TOML syntax error: Error while parsing array: encountered "
                   "end-of-file"});
    CHECK(messages("[tcp]\nmss = 1\nmss = 2\n") ==
          Messages{"t.toml:3:7: TOML syntax error: Error while parsing key-value pair: cannot "
                   "redefine existing integer 'mss'"});
}

TEST_CASE("config errors: unknown section and top-level key", "[config][errors]") {
    CHECK(messages("\n[tcpp]\nmss = 1\n") ==
          Messages{
              "t.toml:2:2: tcpp: unknown section (valid: [eal], [engine], [[port]], "
              "[[listener]], [tcp], [lb], [[pool]], [[profile]], [[virtual_server]], [impair])"});
    CHECK(messages("workers = 4\n") ==
          Messages{"t.toml:1:1: workers: keys belong in a section (did you mean workers in "
                   "[engine]?)"});
    CHECK(messages("mtu = 1500\n") ==
          Messages{"t.toml:1:1: mtu: keys belong in a section (did you mean mtu in [[port]]?)"});
    CHECK(messages("colour = 4\n") ==
          Messages{
              "t.toml:1:1: colour: unknown section (valid: [eal], [engine], [[port]], "
              "[[listener]], [tcp], [lb], [[pool]], [[profile]], [[virtual_server]], [impair])"});
}

TEST_CASE("config errors: a section of the wrong shape", "[config][errors]") {
    CHECK(messages("[port]\ndevice = \"x\"\n") ==
          Messages{"t.toml:1:2: port: expected an array of tables [[port]], got a single "
                   "table [port]"});
    CHECK(messages("eal = 5\n") ==
          Messages{"t.toml:1:1: eal: expected a table [eal], got an integer"});
    CHECK(messages("[[tcp]]\n") ==
          Messages{"t.toml:1:3: tcp: expected a table [tcp], got an array"});
}

TEST_CASE("config errors: unknown keys, with a suggestion when one is close", "[config][errors]") {
    CHECK(messages("[tcp]\nfin_timout = \"1s\"\n") ==
          Messages{"t.toml:2:1: tcp.fin_timout: unknown key (did you mean fin_timeout?)"});
    CHECK(messages("[engine]\nbacklog = 4\n") ==
          Messages{"t.toml:2:1: engine.backlog: unknown key (did you mean backlog in [[listener]] "
                   "or [tcp] or [[virtual_server]]?)"});
    CHECK(messages("[eal]\ncolour = 1\n") ==
          Messages{"t.toml:2:1: eal.colour: unknown key (valid: args, file_prefix)"});
    CHECK(messages(kPort + "speed = 10\n") ==
          Messages{"t.toml:4:1: port[0].speed: unknown key (valid: device, addresses, gateway, "
                   "mtu, rx_desc, tx_desc, checksum_offload, rss, promiscuous)"});
}

TEST_CASE("config errors: wrong types", "[config][errors]") {
    CHECK(messages("[engine]\nworkers = \"4\"\npdump = 1\nmax_expiries = 1.5\n") ==
          Messages{
              "t.toml:2:11: engine.workers: expected an integer, got a string (valid: 1..128)",
              "t.toml:3:9: engine.pdump: expected true or false, got an integer (valid: true, "
              "false)",
              "t.toml:4:16: engine.max_expiries: expected an integer, got a float (valid: "
              "1..1048576)",
          });
    CHECK(messages("[eal]\nargs = \"--no-huge\"\nfile_prefix = 3\n") ==
          Messages{
              "t.toml:2:8: eal.args: expected an array of strings, got a string",
              "t.toml:3:15: eal.file_prefix: expected a string, got an integer",
          });
    CHECK(messages("[eal]\nargs = [\"-m\", 512]\n") ==
          Messages{"t.toml:2:15: eal.args[1]: expected a string, got an integer"});
    CHECK(messages("[engine]\ntimer_tick = true\n") ==
          Messages{"t.toml:2:14: engine.timer_tick: expected a duration string such as "
                   "\"200ms\", got a boolean (valid: 10us..100ms)"});
    CHECK(messages("[[listener]]\nport = 80\nservice = 1\naddress = 0\n") ==
          Messages{
              "t.toml:3:11: listener[0].service: expected a string, got an integer (valid: "
              "\"echo\", \"discard\", \"http\")",
              "t.toml:4:11: listener[0].address: expected a string such as \"198.18.0.1\", got "
              "an integer (valid: a.b.c.d)",
          });
}

TEST_CASE("config errors: out of range integers, at both ends", "[config][errors]") {
    CHECK(messages("[tcp]\nmss = 535\nttl = 256\n[engine]\nworkers = 0\nrx_burst = 513\n") ==
          Messages{
              "t.toml:2:7: tcp.mss: 535 is out of range (valid: 536..9000)",
              "t.toml:3:7: tcp.ttl: 256 is out of range (valid: 1..255)",
              "t.toml:5:11: engine.workers: 0 is out of range (valid: 1..128)",
              "t.toml:6:12: engine.rx_burst: 513 is out of range (valid: 1..512)",
          });
    CHECK(messages("[tcp]\nrcv_buf = -1\n") ==
          Messages{"t.toml:2:11: tcp.rcv_buf: -1 is out of range (valid: 4096..1073741824)"});
    CHECK(messages("[tcp]\nmss = 536\nttl = 255\n").empty()); // the bounds themselves are valid
}

TEST_CASE("config errors: durations", "[config][errors][duration]") {
    CHECK(messages("[tcp]\nfin_timeout = 30\n") ==
          Messages{"t.toml:2:15: tcp.fin_timeout: 30 has no unit: a duration is a string with a "
                   "unit, e.g. \"30s\" (valid: 1s..1h; units ns, us, ms, s, m, h, d, e.g. "
                   "\"200ms\", \"1.5s\", \"1h30m\")"});
    CHECK(messages("[tcp]\nidle_timeout = 0\n") ==
          Messages{"t.toml:2:16: tcp.idle_timeout: 0 has no unit: a duration is a string with a "
                   "unit, e.g. \"0s\" (valid: 0..24h; units ns, us, ms, s, m, h, d, e.g. "
                   "\"200ms\", \"1.5s\", \"1h30m\")"});
    CHECK(messages("[tcp]\nrto_min = \"2x\"\n") ==
          Messages{"t.toml:2:11: tcp.rto_min: bad duration \"2x\": unknown unit \"x\" (valid: "
                   "1ms..10s; units ns, us, ms, s, m, h, d, e.g. \"200ms\", \"1.5s\", "
                   "\"1h30m\")"});
    CHECK(messages("[tcp]\ntime_wait = \"2h\"\n[engine]\ntimer_tick = \"9us\"\n") ==
          Messages{
              "t.toml:2:13: tcp.time_wait: \"2h\" is out of range (valid: 1s..10m)",
              "t.toml:4:14: engine.timer_tick: \"9us\" is out of range (valid: 10us..100ms)",
          });
    CHECK(messages("[engine]\ntimer_tick = \"10us\"\n[tcp]\nidle_timeout = \"0\"\n").empty());
}

TEST_CASE("config errors: addresses and prefixes", "[config][errors]") {
    CHECK(messages("[[port]]\ndevice = \"d\"\naddresses = [\"10.0.0.1\", \"10.0.0.2/33\", 5]\n"
                   "gateway = \"10.0.0\"\n") ==
          Messages{
              "t.toml:3:14: port[0].addresses[0]: bad IPv4 prefix \"10.0.0.1\" (valid: "
              "address/length such as \"198.18.0.2/24\", length 1..32)",
              "t.toml:3:26: port[0].addresses[1]: bad IPv4 prefix \"10.0.0.2/33\" (valid: "
              "address/length such as \"198.18.0.2/24\", length 1..32)",
              "t.toml:3:41: port[0].addresses[2]: expected a string, got an integer",
              "t.toml:4:11: port[0].gateway: bad IPv4 address \"10.0.0\" (valid: a dotted quad "
              "such as \"198.18.0.1\")",
          });
}

TEST_CASE("config errors: enumerations", "[config][errors]") {
    CHECK(messages("[[listener]]\nport = 80\nservice = \"ftp\"\nhttp_closer = \"Client\"\n") ==
          Messages{
              "t.toml:3:11: listener[0].service: unknown value \"ftp\" (valid: \"echo\", "
              "\"discard\", \"http\")",
              "t.toml:4:15: listener[0].http_closer: unknown value \"Client\" (valid: "
              "\"server\", \"client\")",
          });
}

TEST_CASE("config errors: missing and empty required keys", "[config][errors]") {
    CHECK(messages("[engine]\nworkers = 1\n\n[[port]]\nmtu = 1500\n\n[[listener]]\n") ==
          Messages{
              "t.toml:4:1: port[0].device: missing required key (e.g. device = "
              "\"net_tap0,iface=tcpterm0\")",
              "t.toml:4:1: port[0].addresses: missing required key (e.g. addresses = "
              "[\"198.18.0.2/24\"])",
              "t.toml:7:1: listener[0].port: missing required key (e.g. port = 80)",
          });
    CHECK(messages("[[port]]\ndevice = \"\"\naddresses = []\n") ==
          Messages{
              "t.toml:2:10: port[0].device: must not be empty (e.g. device = "
              "\"net_tap0,iface=tcpterm0\")",
              "t.toml:3:13: port[0].addresses: must not be empty (e.g. addresses = "
              "[\"198.18.0.2/24\"])",
          });
}

TEST_CASE("config errors: duplicate listeners", "[config][errors]") {
    CHECK(messages(kPort + "[[listener]]\nport = 80\n[[listener]]\nport = 81\n"
                           "[[listener]]\nport = 80\n[[listener]]\naddress = \"10.0.0.1\"\n"
                           "port = 80\n[[listener]]\nport = 80\naddress = \"10.0.0.1\"\n") ==
          Messages{
              "t.toml:9:8: listener[2].port: 0.0.0.0:80 is already listener[0] (valid: one "
              "listener per address and port)",
              "t.toml:14:8: listener[4].port: 10.0.0.1:80 is already listener[3] (valid: one "
              "listener per address and port)",
          });
}

TEST_CASE("config errors: rules between keys", "[config][errors][rules]") {
    CHECK(messages("[tcp]\nrto_min = \"2s\"\nrto_max = \"1s\"\n") ==
          Messages{"t.toml:2:11: tcp.rto_min: rto_min 2s exceeds rto_max 1s (valid: rto_min <= "
                   "rto_initial <= rto_max)"});
    CHECK(messages("[tcp]\nrto_initial = \"100ms\"\n") ==
          Messages{"t.toml:2:15: tcp.rto_initial: rto_initial 100ms is outside rto_min..rto_max "
                   "(valid: 200ms..2m)"});
    CHECK(messages("[tcp]\ndelayed_ack = \"200ms\"\n") ==
          Messages{"t.toml:2:15: tcp.delayed_ack: delayed_ack 200ms is not below rto_min 200ms "
                   "(valid: delayed_ack < rto_min)"});
    CHECK(messages("[tcp]\nmss = 1995\n") ==
          Messages{"t.toml:2:7: tcp.mss: 1995 with 54 bytes of headers does not fit a 2048-byte "
                   "mbuf (valid: 536..1994)"});
    CHECK(messages("[tcp]\nmss = 1994\n").empty()); // needs an MTU of 2034 only with a port
    CHECK(messages("[tcp]\ntw_reuse = true\ntimestamps = false\n") ==
          Messages{"t.toml:2:12: tcp.tw_reuse: tw_reuse needs timestamps (valid: tw_reuse = "
                   "false, or timestamps = true)"});
    // The blamed key is the one written in the file: the port's mtu, else tcp.mss.
    CHECK(messages(kPort + "mtu = 1400\n") ==
          Messages{"t.toml:4:7: port[0].mtu: mtu 1400 cannot carry tcp.mss 1460 (valid: mtu >= "
                   "tcp.mss + 40 = 1500)"});
    CHECK(messages(kPort + "[tcp]\nmss = 1461\n") ==
          Messages{"t.toml:5:7: tcp.mss: mtu 1500 cannot carry tcp.mss 1461 (valid: mtu >= "
                   "tcp.mss + 40 = 1501)"});
    CHECK(messages("[engine]\nrx_burst = 128\n" + kPort + "rx_desc = 64\n") ==
          Messages{"t.toml:2:12: engine.rx_burst: rx_burst 128 exceeds port[0].rx_desc 64 "
                   "(valid: rx_burst <= rx_desc)"});
    CHECK(messages(kPort + "rx_desc = 1000\ntx_desc = 3000\n") ==
          Messages{
              "t.toml:4:11: port[0].rx_desc: 1000 is not a power of two (valid: 64, 128, ..., "
              "16384)",
              "t.toml:5:11: port[0].tx_desc: 3000 is not a power of two (valid: 64, 128, ..., "
              "16384)",
          });
    CHECK(messages("[engine]\nworkers = 16\n" + kPort) ==
          Messages{"t.toml:2:11: engine.workers: mbufs 32767 cannot fill the rings and caches of "
                   "16 workers (valid: mbufs >= 36864 = workers x (mbuf_cache + rx_desc + tx_desc "
                   "of every port))"});
    CHECK(messages("[eal]\nargs = [\"--no-huge\", \"--file-prefix=x\"]\nfile_prefix = \"a b\"\n") ==
          Messages{
              "t.toml:2:8: eal.args: \"--file-prefix=x\" is set by eal.file_prefix (valid: any "
              "EAL argument but --file-prefix)",
              "t.toml:3:15: eal.file_prefix: \"a b\" has characters other than letters, digits, "
              "'-' and '_'",
          });
}

TEST_CASE("config errors: port addresses, devices and gateway", "[config][errors][rules]") {
    CHECK(
        messages("[[port]]\ndevice = \"a\"\n"
                 "addresses = [\"10.0.0.1/24\", \"0.0.0.0/8\", \"10.0.0.1/16\", \"224.0.0.1/4\"]\n"
                 "gateway = \"10.1.0.1\"\n"
                 "[[port]]\ndevice = \"a\"\naddresses = [\"10.0.0.1/24\"]\n") ==
        Messages{
            "t.toml:3:29: port[0].addresses[1]: 0.0.0.0 is not a unicast address (valid: "
            "0.0.0.1 .. 223.255.255.255)",
            "t.toml:3:42: port[0].addresses[2]: 10.0.0.1 is already an address of port[0] "
            "(valid: each address on one port)",
            "t.toml:3:57: port[0].addresses[3]: 224.0.0.1 is not a unicast address (valid: "
            "0.0.0.1 .. 223.255.255.255)",
            "t.toml:4:11: port[0].gateway: 10.1.0.1 is outside the port's subnets (valid: an "
            "address inside one of port[0].addresses)",
            "t.toml:6:10: port[1].device: device \"a\" is already port[0] (valid: one port per "
            "device)",
            "t.toml:7:14: port[1].addresses[0]: 10.0.0.1 is already an address of port[0] "
            "(valid: each address on one port)",
        });
    CHECK(messages(kPort + "gateway = \"10.0.0.254\"\n").empty());
    CHECK(messages(kPort + "[[listener]]\naddress = \"10.0.0.2\"\nport = 80\n") ==
          Messages{"t.toml:5:11: listener[0].address: 10.0.0.2 is not an address of any port "
                   "(valid: 0.0.0.0 or one of the ports' addresses)"});
    CHECK(messages(kPort + "[[listener]]\naddress = \"10.0.0.1\"\nport = 80\n").empty());
}

TEST_CASE("config errors: all errors are reported, in file order", "[config][errors]") {
    const Messages m = messages("[tcp]\n"
                                "ttl = 0\n"
                                "bogus = 1\n"
                                "[engine]\n"
                                "workers = 0\n"
                                "[[listener]]\n"
                                "service = \"ftp\"\n"
                                "[eal]\n"
                                "args = 1\n");
    CHECK(m ==
          Messages{
              "t.toml:2:7: tcp.ttl: 0 is out of range (valid: 1..255)",
              "t.toml:3:1: tcp.bogus: unknown key (valid: fin_timeout, time_wait, "
              "max_tw_buckets, orphan_retries, close_wait_timeout, idle_timeout, "
              "reset_on_timeout, tw_reuse, keepalive_time, keepalive_intvl, keepalive_probes, "
              "syn_retries, synack_retries, retries2, rto_initial, rto_min, rto_max, "
              "user_timeout, zero_window_timeout, delayed_ack, quickack, nodelay, "
              "initial_cwnd, congestion_control, backlog, syn_backlog, syncookies, mss, rcv_buf, "
              "snd_buf, timestamps, window_scaling, sack, challenge_ack_limit, "
              "invalid_ratelimit, ttl)",
              "t.toml:5:11: engine.workers: 0 is out of range (valid: 1..128)",
              "t.toml:6:1: listener[0].port: missing required key (e.g. port = 80)",
              "t.toml:7:11: listener[0].service: unknown value \"ftp\" (valid: \"echo\", "
              "\"discard\", \"http\")",
              "t.toml:9:8: eal.args: expected an array of strings, got an integer",
          });
}

TEST_CASE("config errors: a rejected value does not also break a rule", "[config][errors]") {
    // rto_min is rejected, so it keeps its default (200ms); the rule delayed_ack < rto_min must
    // not report that stale value against the valid delayed_ack.
    CHECK(messages("[tcp]\ndelayed_ack = \"300ms\"\nrto_min = \"2x\"\n") ==
          Messages{"t.toml:3:11: tcp.rto_min: bad duration \"2x\": unknown unit \"x\" (valid: "
                   "1ms..10s; units ns, us, ms, s, m, h, d, e.g. \"200ms\", \"1.5s\", "
                   "\"1h30m\")"});
    CHECK(messages("[tcp]\ndelayed_ack = \"300ms\"\n").size() == 1); // the rule itself
}

TEST_CASE("config errors: a file that cannot be read", "[config][errors]") {
    std::vector<ConfigError> errors;
    const EngineConfig c = load_config("/nonexistent/tcpterm.toml", errors);
    CHECK(c.source == "/nonexistent/tcpterm.toml");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].message == "/nonexistent/tcpterm.toml: cannot read: No such file or directory");
    (void)load_config("/", errors);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].message == "/: cannot read: Is a directory");
}

TEST_CASE("config: [impair] probabilities in ppm and delays", "[config]") {
    std::vector<ConfigError> errors;
    EngineConfig c =
        parse_config("[impair]\nrx_drop = 10000\ntx_reorder = 5000\ntx_delay = \"2ms\"\n"
                     "seed = 42\n",
                     "t.toml", errors);
    REQUIRE(errors.empty());
    CHECK(c.impair_rx.drop_ppm == 10000);
    CHECK(c.impair_tx.reorder_ppm == 5000);
    CHECK(c.impair_tx.delay == tcpterm::ms(2));
    CHECK(c.impair_rx.delay == 0);
    CHECK(c.impair_seed == 42);
    errors.clear();
    (void)parse_config("[impair]\nrx_drop = 2000000\n", "t.toml", errors);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].message.find("impair.rx_drop") != std::string::npos);
}

TEST_CASE("config errors: [lb] source ports", "[config][errors][lb]") {
    CHECK(messages("[lb]\nsource_port_min = 40000\nsource_port_max = 30000\n") ==
          Messages{"t.toml:2:19: lb.source_port_min: source_port_min 40000 exceeds "
                   "source_port_max 30000 (valid: source_port_min <= source_port_max)"});
    CHECK(messages("[lb]\nsource_port_max = 9999\n") ==
          Messages{"t.toml:2:19: lb.source_port_max: source_port_min 10000 exceeds "
                   "source_port_max 9999 (valid: source_port_min <= source_port_max)"});
    CHECK(messages("[lb]\nsource_port_min = 1023\n") ==
          Messages{"t.toml:2:19: lb.source_port_min: 1023 is out of range (valid: 1024..65535)"});
    CHECK(messages("[lb]\nsource_port_min = 5000\nsource_port_max = 5000\n").empty());
}

TEST_CASE("config errors: each bad pool member at its own position", "[config][errors][lb]") {
    CHECK(messages(pool_with("\"10.0.1.2:80\", \"10.0.1.3:80 weight=0\"")) ==
          Messages{"t.toml:3:27: pool[0].members[1]: \"weight=0\" is out of range (valid: "
                   "weight=1..65535)"});
    CHECK(messages(pool_with("\"10.0.1.2\"")) ==
          Messages{"t.toml:3:12: pool[0].members[0]: \"10.0.1.2\" has no port (valid: ADDR:PORT "
                   "first, e.g. \"198.18.1.2:8080\")"});
    CHECK(messages(pool_with("\"10.0.1:80\"")) ==
          Messages{"t.toml:3:12: pool[0].members[0]: bad IPv4 address \"10.0.1\" (valid: a "
                   "dotted quad such as \"198.18.1.2\")"});
    CHECK(messages(pool_with("\"10.0.1.2:0\"")) ==
          Messages{"t.toml:3:12: pool[0].members[0]: port 0 is out of range (valid: 1..65535)"});
    CHECK(messages(pool_with("\"10.0.1.2:80 wieght=2\"")) ==
          Messages{"t.toml:3:12: pool[0].members[0]: unknown option \"wieght=2\" (did you mean "
                   "weight?)"});
    CHECK(messages(pool_with("\"10.0.1.2:80 state=off\"")) ==
          Messages{"t.toml:3:12: pool[0].members[0]: \"state=off\" is not a state (valid: "
                   "state=up|down|drain)"});
    CHECK(messages(pool_with("\"10.0.1.2:80 max_connections=1 max_connections=2\"")) ==
          Messages{"t.toml:3:12: pool[0].members[0]: \"max_connections=2\" repeats "
                   "max_connections (valid: each option once)"});
    CHECK(messages(pool_with("\"\"")) ==
          Messages{"t.toml:3:12: pool[0].members[0]: empty member (valid: \"ADDR:PORT "
                   "[weight=1..65535] [state=up|down|drain] [max_connections=0..16777216]\", e.g. "
                   "\"198.18.1.2:8080 weight=2\")"});
    CHECK(messages(pool_with("\"10.0.1.2:80\", 8080")) ==
          Messages{"t.toml:3:27: pool[0].members[1]: expected a string, got an integer"});
    // Several bad members: one error each, in file order; the good ones are not reported.
    CHECK(messages("[[pool]]\nname = \"web\"\nmembers = [\n"
                   "    \"10.0.1.2:80 weight=2\",\n"
                   "    \"10.0.1.3:80 weight=x\",\n"
                   "    \"10.0.1.4:80 state=drain\",\n"
                   "    \"10.0.1.5:http\",\n"
                   "]\n") ==
          Messages{
              "t.toml:5:5: pool[0].members[1]: \"weight=x\" is not a number (valid: "
              "weight=1..65535)",
              "t.toml:7:5: pool[0].members[3]: bad port \"http\" in \"10.0.1.5:http\" (valid: "
              "1..65535)",
          });
}

TEST_CASE("config errors: a member twice in a pool", "[config][errors][lb]") {
    CHECK(messages(pool_with("\"10.0.1.2:80\", \"10.0.1.3:80\", \"10.0.1.2:80 weight=2\"")) ==
          Messages{"t.toml:3:42: pool[0].members[2]: 10.0.1.2:80 is already members[0] (valid: "
                   "each address and port once per pool)"});
    // The same address on another port, or in another pool, is another member.
    CHECK(messages(pool_with("\"10.0.1.2:80\", \"10.0.1.2:81\"") +
                   "[[pool]]\nname = \"b\"\nmembers = [\"10.0.1.2:80\"]\n")
              .empty());
}

TEST_CASE("config errors: pool keys", "[config][errors][lb]") {
    CHECK(messages("[[pool]]\nalgorithm = \"maglev\"\n") ==
          Messages{
              "t.toml:1:1: pool[0].name: missing required key (e.g. name = \"web\")",
              "t.toml:1:1: pool[0].members: missing required key (e.g. members = "
              "[\"198.18.1.2:8080\", \"198.18.1.3:8080 weight=2\"])",
          });
    CHECK(messages(pool_with("")) ==
          Messages{"t.toml:3:11: pool[0].members: must not be empty (e.g. members = "
                   "[\"198.18.1.2:8080\", \"198.18.1.3:8080 weight=2\"])"});
    CHECK(messages("[[pool]]\nname = \"web\"\nmembers = \"10.0.1.2:80\"\n") ==
          Messages{"t.toml:3:11: pool[0].members: expected an array of strings such as "
                   "[\"198.18.1.2:8080 weight=2\"], got a string (valid: ADDR:PORT "
                   "[weight=1..65535] [state=up|down|drain] [max_connections=0..16777216])"});
    CHECK(messages(kPool + "algoritm = \"maglev\"\n") ==
          Messages{"t.toml:4:1: pool[0].algoritm: unknown key (did you mean algorithm?)"});
    CHECK(messages(kPool + "algorithm = \"random\"\n") ==
          Messages{"t.toml:4:13: pool[0].algorithm: unknown value \"random\" (valid: "
                   "\"round_robin\", \"least_connections\", \"maglev\")"});
    CHECK(messages(kPool + "health_timeout = \"3s\"\n") ==
          Messages{"t.toml:4:18: pool[0].health_timeout: health_timeout 3s exceeds "
                   "health_interval 2s (valid: health_timeout <= health_interval)"});
    CHECK(messages(kPool + "health_interval = \"500ms\"\n") ==
          Messages{"t.toml:4:19: pool[0].health_interval: health_timeout 1s exceeds "
                   "health_interval 500ms (valid: health_timeout <= health_interval)"});
    CHECK(messages(kPool + "health_path = \"health\"\n") ==
          Messages{"t.toml:4:15: pool[0].health_path: \"health\" does not start with '/' (valid: "
                   "a path such as \"/health\": starts with '/', no spaces or control "
                   "characters)"});
    CHECK(messages(kPool + "health_path = \"/a b\"\n") ==
          Messages{"t.toml:4:15: pool[0].health_path: \"/a b\" has a space or control character "
                   "(valid: a path such as \"/health\": starts with '/', no spaces or control "
                   "characters)"});
    CHECK(messages(kPool + "health_path = \"/a\\tb\"\n").size() == 1);
    CHECK(messages(kPool + "health_timeout = \"2s\"\nhealth_path = \"/status?x=1\"\n").empty());
}

TEST_CASE("config errors: names of pools, profiles and virtual servers", "[config][errors][lb]") {
    CHECK(messages("[[pool]]\nname = \"web 1\"\nmembers = [\"10.0.1.2:80\"]\n") ==
          Messages{"t.toml:2:8: pool[0].name: \"web 1\" has characters other than letters, "
                   "digits, '-' and '_'"});
    CHECK(messages("[[profile]]\nname = \"a.b\"\n") ==
          Messages{"t.toml:2:8: profile[0].name: \"a.b\" has characters other than letters, "
                   "digits, '-' and '_'"});
    CHECK(messages("[[profile]]\nname = \"\"\n") ==
          Messages{"t.toml:2:8: profile[0].name: must not be empty (e.g. name = \"client\")"});
    CHECK(messages(kPool + kPool) ==
          Messages{"t.toml:5:8: pool[1].name: \"web\" is already the name of pool[0] (valid: a "
                   "name not used by another [[pool]])"});
    CHECK(messages("[[profile]]\nname = \"p\"\n[[profile]]\nname = \"q\"\n[[profile]]\n"
                   "name = \"p\"\n") ==
          Messages{"t.toml:6:8: profile[2].name: \"p\" is already the name of profile[0] (valid: "
                   "a name not used by another [[profile]])"});
    CHECK(messages(kPool + "[[virtual_server]]\nname = \"vs\"\nport = 80\npool = \"web\"\n"
                           "[[virtual_server]]\nname = \"vs\"\nport = 81\npool = \"web\"\n") ==
          Messages{"t.toml:9:8: virtual_server[1].name: \"vs\" is already the name of "
                   "virtual_server[0] (valid: a name not used by another [[virtual_server]])"});
    // A pool, a profile and a virtual server may share a name.
    CHECK(messages(kPool + "[[profile]]\nname = \"web\"\n[[virtual_server]]\nname = \"web\"\n"
                           "port = 80\npool = \"web\"\nclient_profile = \"web\"\n")
              .empty());
}

TEST_CASE("config errors: references to pools and profiles", "[config][errors][lb]") {
    const std::string vs = "[[virtual_server]]\nname = \"vs\"\nport = 80\n"; // lines 4-6
    CHECK(messages(kPool + vs + "pool = \"wbe\"\n") ==
          Messages{"t.toml:7:8: virtual_server[0].pool: no [[pool]] named \"wbe\" (did you mean "
                   "\"web\"?)"});
    CHECK(messages(kPool + vs + "pool = \"images\"\n") ==
          Messages{"t.toml:7:8: virtual_server[0].pool: no [[pool]] named \"images\" (valid: "
                   "\"web\")"});
    CHECK(messages(vs + "pool = \"web\"\n") ==
          Messages{"t.toml:4:8: virtual_server[0].pool: no [[pool]] named \"web\" (valid: the "
                   "name of a [[pool]]; the file has none)"});
    CHECK(messages(kPool + "[[profile]]\nname = \"client\"\n" + vs +
                   "pool = \"web\"\nclient_profile = \"clinet\"\n") ==
          Messages{"t.toml:10:18: virtual_server[0].client_profile: no [[profile]] named "
                   "\"clinet\" (did you mean \"client\"?)"});
    CHECK(messages(kPool + vs + "pool = \"web\"\nserver_profile = \"server\"\n") ==
          Messages{"t.toml:8:18: virtual_server[0].server_profile: no [[profile]] named "
                   "\"server\" (valid: the name of a [[profile]]; the file has none)"});
    CHECK(messages(kPool + vs) ==
          Messages{"t.toml:4:1: virtual_server[0].pool: missing required key (e.g. pool = "
                   "\"web\")"});
    // A rejected value is reported once, not again as an unknown name.
    CHECK(messages(kPool + vs + "pool = 5\n") ==
          Messages{"t.toml:7:8: virtual_server[0].pool: expected a string, got an integer"});
}

TEST_CASE("config errors: virtual server addresses and ports", "[config][errors][lb]") {
    const std::string vs = "[[virtual_server]]\nname = \"vs\"\npool = \"web\"\n";
    // kPort is lines 1-3, kPool 4-6, the virtual server from line 7.
    CHECK(messages(kPort + kPool + vs + "port = 80\naddress = \"10.0.0.2\"\n") ==
          Messages{"t.toml:11:11: virtual_server[0].address: 10.0.0.2 is not an address of any "
                   "port (valid: 0.0.0.0 or one of the ports' addresses)"});
    CHECK(messages(kPort + kPool + vs + "port = 80\nsource_address = \"10.0.0.9\"\n") ==
          Messages{"t.toml:11:18: virtual_server[0].source_address: 10.0.0.9 is not an address "
                   "of any port (valid: one of the ports' addresses, or unset for the address "
                   "of the port that routes to the member)"});
    CHECK(messages(kPort + kPool + vs + "port = 80\nsource_address = \"10.0.0.1\"\n").empty());
    CHECK(messages(kPool + vs + "port = 0\n") ==
          Messages{"t.toml:7:8: virtual_server[0].port: 0 is out of range (valid: 1..65535)"});
    CHECK(messages(kPool + vs + "port = 80\nconnect_timeout = \"50ms\"\n") ==
          Messages{"t.toml:8:19: virtual_server[0].connect_timeout: \"50ms\" is out of range "
                   "(valid: 100ms..1m)"});
    CHECK(messages(kPool + vs + "port = 80\nover_limit = \"reject\"\n") ==
          Messages{"t.toml:8:14: virtual_server[0].over_limit: unknown value \"reject\" (valid: "
                   "\"reset\", \"drop\")"});
}

TEST_CASE("config errors: a virtual server's address and port collide", "[config][errors][lb]") {
    const std::string head = kPort + kPool + "[[listener]]\nport = 80\n"; // lines 1-8
    const std::string vs = "[[virtual_server]]\nname = \"vs\"\npool = \"web\"\n";
    // A listener on 0.0.0.0:80 takes port 80 on every address.
    CHECK(messages(head + vs + "address = \"10.0.0.1\"\nport = 80\n") ==
          Messages{"t.toml:13:8: virtual_server[0].port: 10.0.0.1:80 collides with listener[0] "
                   "on 0.0.0.0:80 (valid: one listener or virtual server per address and port; "
                   "0.0.0.0 takes the port on every address)"});
    CHECK(messages(kPort + kPool + "[[listener]]\naddress = \"10.0.0.1\"\nport = 80\n" + vs +
                   "port = 80\n") ==
          Messages{"t.toml:13:8: virtual_server[0].port: 0.0.0.0:80 collides with listener[0] "
                   "on 10.0.0.1:80 (valid: one listener or virtual server per address and port; "
                   "0.0.0.0 takes the port on every address)"});
    CHECK(messages(head + vs + "port = 81\n" +
                   "[[virtual_server]]\nname = \"vs2\"\n"
                   "pool = \"web\"\naddress = \"10.0.0.1\"\n"
                   "port = 81\n") ==
          Messages{"t.toml:17:8: virtual_server[1].port: 10.0.0.1:81 collides with "
                   "virtual_server[0] on 0.0.0.0:81 (valid: one listener or virtual server per "
                   "address and port; 0.0.0.0 takes the port on every address)"});
    CHECK(messages(head + vs + "port = 81\n" +
                   "[[virtual_server]]\nname = \"vs2\"\n"
                   "pool = \"web\"\nport = 82\n")
              .empty());
}

TEST_CASE("config errors: profile keys", "[config][errors][lb]") {
    CHECK(messages("[[profile]]\nname = \"p\"\nfin_timeout = \"10s\"\n") ==
          Messages{"t.toml:3:1: profile[0].fin_timeout: unknown key (did you mean fin_timeout in "
                   "[tcp]?)"});
    CHECK(messages("[[profile]]\nname = \"p\"\nidle_timout = \"10s\"\n") ==
          Messages{"t.toml:3:1: profile[0].idle_timout: unknown key (did you mean "
                   "idle_timeout?)"});
    CHECK(messages("[[profile]]\nname = \"p\"\nlinger = \"2h\"\nrcv_buf = 1024\n") ==
          Messages{
              "t.toml:3:10: profile[0].linger: \"2h\" is out of range (valid: 0..1h)",
              "t.toml:4:11: profile[0].rcv_buf: 1024 is out of range (valid: 4096..1073741824)",
          });
    CHECK(messages("[[profile]]\nname = \"p\"\nkeepalive = \"yes\"\n") ==
          Messages{"t.toml:3:13: profile[0].keepalive: expected true or false, got a string "
                   "(valid: true, false)"});
    CHECK(messages("[tcp]\nlinger = \"1s\"\n") ==
          Messages{"t.toml:2:1: tcp.linger: unknown key (did you mean linger in [[profile]]?)"});
}
