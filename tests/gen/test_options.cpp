// GenOptions: command line, TOML profile (and the command line over it), every kind of error,
// request building to the exact size.
#include "gen/options.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace tcpterm;
using namespace tcpterm::gen;

namespace {
std::optional<GenOptions> parse(std::vector<std::string> args, std::vector<std::string>& errors) {
    bool help = false;
    return parse_options(args, errors, help);
}
bool has(const std::vector<std::string>& errors, const std::string& what) {
    for (const auto& e : errors) {
        if (e.find(what) != std::string::npos) {
            return true;
        }
    }
    return false;
}
const std::vector<std::string> kBase = {"--device",    "net_null0", "--src",
                                        "198.18.0.10", "--dst",     "198.18.0.1"};
std::vector<std::string> with(std::vector<std::string> extra) {
    std::vector<std::string> v = kBase;
    v.insert(v.end(), extra.begin(), extra.end());
    return v;
}
} // namespace

TEST_CASE("options: command line, both spellings of values", "[gen]") {
    std::vector<std::string> errors;
    const auto o = parse(with({"--rate",
                               "250000",
                               "--duration=15s",
                               "--close",
                               "server",
                               "--requests",
                               "3",
                               "--src",
                               "198.18.0.10-198.18.0.41",
                               "--sport=2000-3000",
                               "--dport",
                               "8080",
                               "--request-size",
                               "100",
                               "--response-size",
                               "0",
                               "--concurrency",
                               "5000",
                               "--live",
                               "false"}),
                         errors);
    REQUIRE(errors.empty());
    REQUIRE(o);
    CHECK(o->rate == 250'000);
    CHECK(o->duration == sec(15));
    CHECK(o->close == CloseMode::server);
    CHECK(o->requests == 3);
    CHECK(o->src_first == 0xC612000Au);
    CHECK(o->src_last == 0xC6120029u);
    CHECK(o->src_count() == 32);
    CHECK(o->sport_min == 2000);
    CHECK(o->sport_max == 3000);
    CHECK(o->dport == 8080);
    CHECK(o->request_size == 100);
    CHECK(o->response_size == 0);
    CHECK(o->concurrency == 5000);
    CHECK_FALSE(o->live);
}

TEST_CASE("options: ramp switch and its settings", "[gen]") {
    std::vector<std::string> errors;
    const auto o = parse(with({"--ramp", "--ramp-start", "1000", "--ramp-factor", "1.5",
                               "--ramp-step", "2s", "--duration", "60s", "--ramp-max", "90000"}),
                         errors);
    REQUIRE(errors.empty());
    CHECK(o->ramp.on);
    CHECK(o->ramp.start == 1000);
    CHECK(o->ramp.factor == Approx(1.5));
    CHECK(o->ramp.step == sec(2));
    CHECK(o->ramp.max == 90000);
}

TEST_CASE("options: every error is reported, with the option and the valid range", "[gen]") {
    std::vector<std::string> errors;
    const auto o = parse({"--dst", "1.2.3", "--rat", "5", "--close", "fin", "--requests", "0",
                          "--sport", "9-2", "--src", "10.0.0.9-10.0.0.1", "--duration", "10",
                          "--ramp-factor", "0.5", "--tw-reuse", "maybe", "--dport"},
                         errors);
    CHECK_FALSE(o);
    CHECK(has(errors, "--dst: \"1.2.3\" is not an IPv4 address"));
    CHECK(has(errors, "--rat: unknown option (did you mean --rate?)"));
    CHECK(has(errors, "unexpected argument '5'"));
    CHECK(has(errors, "--close: \"fin\" is not one of client, server, rst"));
    CHECK(has(errors, "--requests: 0 is out of range (valid: 1 to 1000000)"));
    CHECK(has(errors, "--sport: \"9-2\": MIN must not exceed MAX"));
    CHECK(has(errors, "--src: \"10.0.0.9-10.0.0.1\": the range must go up"));
    CHECK(has(errors, "--duration: bad duration \"10\""));
    CHECK(has(errors, "--ramp-factor: 0.5 is out of range"));
    CHECK(has(errors, "--tw-reuse: \"maybe\" is not true or false"));
    CHECK(has(errors, "--dport needs a value (PORT)"));
}

TEST_CASE("options: combinations are checked", "[gen]") {
    std::vector<std::string> errors;
    CHECK_FALSE(parse({"--rate", "10"}, errors));
    CHECK(has(errors, "--dst is required"));
    CHECK(has(errors, "give exactly one of --config FILE"));
    errors.clear();
    CHECK_FALSE(parse(with({}), errors));
    CHECK(has(errors, "give --rate N"));
    errors.clear();
    CHECK_FALSE(parse(with({"--rate", "5", "--ramp"}), errors));
    CHECK(has(errors, "--rate and --ramp exclude each other"));
    errors.clear();
    CHECK_FALSE(parse(with({"--rate", "5", "--request-size", "20"}), errors));
    CHECK(has(errors, "--request-size 20 is below the smallest request"));
    errors.clear();
    CHECK_FALSE(
        parse({"--config", "x.toml", "--device", "net_null0", "--dst", "1.2.3.4", "--rate", "1"},
              errors));
    CHECK(has(errors, "give exactly one of"));
    errors.clear();
    CHECK_FALSE(parse({"--device", "net_null0", "--dst", "1.2.3.4", "--rate", "1"}, errors));
    CHECK(has(errors, "--device needs --src"));
}

TEST_CASE("options: TOML profile, keys as the options, command line overrides", "[gen]") {
    char path[] = "/tmp/tcpterm-gen-profile-XXXXXX";
    const int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    {
        std::ofstream f(path);
        f << "# a profile\nrate = 1000\nduration = \"20s\"\nclose = \"rst\"\ndst = "
             "\"198.18.0.1\"\ndevice = \"net_null0\"\nsrc = \"198.18.0.10\"\nramp_factor = 1.5\n"
             "live = false\nrequests = 2\n";
    }
    std::vector<std::string> errors;
    const auto o = parse({"--rate", "2000", "--profile", path}, errors);
    INFO(errors.size());
    REQUIRE(errors.empty());
    CHECK(o->rate == 2000); // the command line wins, wherever --profile stands
    CHECK(o->duration == sec(20));
    CHECK(o->close == CloseMode::rst);
    CHECK(o->ramp.factor == Approx(1.5));
    CHECK_FALSE(o->live);
    CHECK(o->requests == 2);
    std::remove(path);
}

TEST_CASE("options: profile errors carry file:line:column", "[gen]") {
    GenOptions o;
    std::vector<std::string> errors;
    apply_profile("rate = 5\nrat = 6\nclose = \"x\"\nduration = 10\nrequests = -1\nsrc = [1]\n",
                  "p.toml", o, errors);
    REQUIRE(errors.size() == 5);
    CHECK(has(errors, "p.toml:2:1: rat: unknown key (did you mean rate?)"));
    CHECK(has(errors, "p.toml:3:1: close: \"x\" is not one of"));
    CHECK(has(errors, "p.toml:4:1: duration: bad duration \"10\""));
    CHECK(has(errors, "p.toml:5:1: requests: must not be negative"));
    CHECK(has(errors, "p.toml:6:1: src: expected a string, number or boolean"));
    errors.clear();
    apply_profile("rate = = 5\n", "bad.toml", o, errors);
    REQUIRE(errors.size() == 1);
    CHECK(has(errors, "bad.toml:1:"));
}

TEST_CASE("options: requests are exactly request_size bytes", "[gen]") {
    GenOptions o;
    o.request_size = 64;
    const std::string r = build_request(o, false);
    CHECK(r.size() == 64);
    CHECK(r.rfind("GET /?", 0) == 0);
    CHECK(r.substr(r.size() - 4) == "\r\n\r\n");
    CHECK(r.find("Host: bench\r\n") != std::string::npos);
    CHECK(r.find("Connection: close") == std::string::npos);
    o.close = CloseMode::server;
    const std::string last = build_request(o, true);
    CHECK(last.size() == 64);
    CHECK(last.find("Connection: close\r\n") != std::string::npos);
    CHECK(build_request(o, false).find("Connection: close") == std::string::npos);
    // Exactly the smallest size: no padding at all.
    o.request_size = static_cast<std::uint32_t>(min_request_size(o));
    CHECK(build_request(o, true) == "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
    // One byte more: a bare '?'.
    o.close = CloseMode::client;
    o.request_size = static_cast<std::uint32_t>(min_request_size(o)) + 1;
    CHECK(build_request(o, false) == "GET /? HTTP/1.1\r\nHost: bench\r\n\r\n");
    o.request_size = 10;
    CHECK(build_request(o, false).empty());
}
