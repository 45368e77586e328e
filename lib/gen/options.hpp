// GenOptions: what tcpterm-gen is asked to do, from the command line and/or a TOML profile. One
// table of options (options.cpp) serves both: the TOML key `request_size` is the command-line
// `--request-size`, values are parsed by the same functions, a profile is read first and the
// command line overrides it. Errors name the option (and file:line:column in a profile) and the
// valid range; unknown options are errors with the nearest known name suggested.
#pragma once

#include "base/clock.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tcpterm::gen {

/// Who ends each connection after its last response.
enum class CloseMode : std::uint8_t {
    client, // the generator closes (FIN first; TIME_WAIT stays on the generator)
    server, // the last request says "Connection: close"; the generator waits for the server's FIN
    rst     // the generator closes with linger 0 (RST, no TIME_WAIT anywhere)
};

std::string_view close_mode_name(CloseMode m) noexcept;

struct RampOptions {
    bool on = false;
    std::uint64_t start = 10'000;   // first target (connections/s)
    double factor = 1.25;           // each clean step multiplies the target by this
    Nanos step = sec(3);            // length of a step
    std::uint64_t max = 0;          // 0 = no ceiling
    double max_error_ratio = 0.001; // a step is clean below this share of failed connections
    double min_achieved = 0.95;     // ... and completed at least this share of what it opened
};

struct GenOptions {
    // Load.
    std::uint64_t rate = 0;        // connections/s, all workers (0 = unpaced: the cap decides)
    std::uint32_t concurrency = 0; // open connections at most, all workers (0 = the TCB pool)
    Nanos duration = sec(10);
    Nanos drain = sec(5);
    // HTTP.
    std::uint32_t request_size = 64;   // bytes of each request (padded with a query string)
    std::uint32_t response_size = 128; // expected Content-Length
    std::uint32_t requests = 1;        // per connection
    CloseMode close = CloseMode::client;
    std::string path = "/";
    std::string host = "bench";
    // Addresses (host order).
    std::uint32_t src_first = 0; // 0 = the port's address that routes to dst
    std::uint32_t src_last = 0;
    std::uint16_t sport_min = 1024;
    std::uint16_t sport_max = 65535;
    std::uint32_t dst = 0;
    std::uint16_t dport = 80;
    RampOptions ramp;
    // The engine under the generator.
    std::string config;           // a tcpterm TOML file ([eal], [[port]], [engine], [tcp])
    std::string device;           // or one port built from options: the device ...
    std::uint8_t prefix_len = 24; // ... with the source addresses on a /prefix_len
    std::uint32_t workers = 1;
    std::uint16_t rx_burst = 256;            // packets per rx_burst call (the engine's is 32)
    std::uint32_t max_connections = 262'144; // control blocks per worker
    std::uint32_t max_time_wait = 1'048'576; // TIME_WAIT records per worker
    bool tw_reuse = true;                    // reuse TIME_WAIT four-tuples (RFC 6191)
    std::string file_prefix = "tcpterm-gen";
    // Output.
    std::string json; // also write the summary here
    bool live = true; // one line per second on stdout

    [[nodiscard]] std::uint32_t src_count() const noexcept {
        return src_first == 0 ? 1 : src_last - src_first + 1;
    }
};

/// Parses the generator's arguments (those after EAL's "--"). `--profile FILE` is read first,
/// wherever it appears; the other options then override it. Returns nullopt with `errors` filled
/// (every error found, not only the first) or, for --help, with `help` set.
std::optional<GenOptions> parse_options(const std::vector<std::string>& args,
                                        std::vector<std::string>& errors, bool& help);
/// Applies a TOML profile's keys to `o` (`name` is used in messages).
void apply_profile(std::string_view text, const std::string& name, GenOptions& o,
                   std::vector<std::string>& errors);
/// Checks the options together (required ones, ranges that depend on each other).
void validate(const GenOptions& o, std::vector<std::string>& errors);
/// The usage text, generated from the option table.
std::string usage();

/// The request sent on a connection: `last` is the connection's last request (it carries
/// "Connection: close" when the server closes first). Exactly o.request_size bytes, padded with
/// a query string; empty if request_size is below the smallest request.
std::string build_request(const GenOptions& o, bool last);
/// The size of the smallest request the options allow (no padding).
std::size_t min_request_size(const GenOptions& o);

} // namespace tcpterm::gen
