#include "gen/options.hpp"

#include "engine/config_schema.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <limits>
#include <sstream>

namespace tcpterm::gen {

namespace {

using Setter = bool (*)(GenOptions&, std::string_view, std::string&);

struct OptionSpec {
    std::string_view name; // TOML key; on the command line --name with '-' for '_'
    std::string_view arg;  // the value's shape, for usage; empty: a switch (true when given bare)
    std::string_view help;
    Setter set;
};

bool parse_u64(std::string_view v, std::uint64_t lo, std::uint64_t hi, std::uint64_t& out,
               std::string& why) {
    std::uint64_t x = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (v.empty() || ec != std::errc{} || p != v.data() + v.size()) {
        why = fmt::format("\"{}\" is not a whole number", v);
        return false;
    }
    if (x < lo || x > hi) {
        why = fmt::format("{} is out of range (valid: {} to {})", x, lo, hi);
        return false;
    }
    out = x;
    return true;
}

template <class T>
bool parse_uint(std::string_view v, std::uint64_t lo, std::uint64_t hi, T& out, std::string& why) {
    std::uint64_t x = 0;
    if (!parse_u64(v, lo, hi, x, why)) {
        return false;
    }
    out = static_cast<T>(x);
    return true;
}

bool parse_double(std::string_view v, double lo, double hi, double& out, std::string& why) {
    // std::from_chars for double is in g++ 11+; the strict whole-string check is ours.
    double x = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (v.empty() || ec != std::errc{} || p != v.data() + v.size()) {
        why = fmt::format("\"{}\" is not a number", v);
        return false;
    }
    if (!(x >= lo && x <= hi)) {
        why = fmt::format("{} is out of range (valid: {} to {})", x, lo, hi);
        return false;
    }
    out = x;
    return true;
}

bool parse_bool(std::string_view v, bool& out, std::string& why) {
    if (v == "true" || v == "1" || v == "yes" || v == "on") {
        out = true;
        return true;
    }
    if (v == "false" || v == "0" || v == "no" || v == "off") {
        out = false;
        return true;
    }
    why = fmt::format("\"{}\" is not true or false", v);
    return false;
}

bool parse_dur(std::string_view v, Nanos lo, Nanos& out, std::string& why) {
    std::string w;
    const auto d = engine::schema::parse_duration(v, w);
    if (!d) {
        why = fmt::format("bad duration \"{}\": {} (e.g. \"10s\", \"500ms\")", v, w);
        return false;
    }
    if (*d < lo) {
        why = fmt::format("{} is too short (at least {})", v, engine::schema::format_duration(lo));
        return false;
    }
    out = *d;
    return true;
}

bool parse_addr(std::string_view v, std::uint32_t& out, std::string& why) {
    const auto a = engine::schema::parse_ipv4(v);
    if (!a || *a == 0) {
        why = fmt::format("\"{}\" is not an IPv4 address (a.b.c.d)", v);
        return false;
    }
    out = *a;
    return true;
}

// "a.b.c.d" or "a.b.c.d-a.b.c.e" (at most 256 addresses).
bool parse_src(GenOptions& o, std::string_view v, std::string& why) {
    const auto dash = v.find('-');
    std::uint32_t first = 0;
    std::uint32_t last = 0;
    if (!parse_addr(v.substr(0, dash), first, why)) {
        return false;
    }
    last = first;
    if (dash != std::string_view::npos && !parse_addr(v.substr(dash + 1), last, why)) {
        return false;
    }
    if (last < first || last - first >= 256) {
        why = fmt::format("\"{}\": the range must go up and hold at most 256 addresses", v);
        return false;
    }
    o.src_first = first;
    o.src_last = last;
    return true;
}

bool parse_sport(GenOptions& o, std::string_view v, std::string& why) {
    const auto dash = v.find('-');
    std::uint16_t lo = 0;
    std::uint16_t hi = 0;
    if (dash == std::string_view::npos) {
        why = fmt::format("\"{}\" is not a port range MIN-MAX", v);
        return false;
    }
    if (!parse_uint(v.substr(0, dash), 1, 65535, lo, why) ||
        !parse_uint(v.substr(dash + 1), 1, 65535, hi, why)) {
        return false;
    }
    if (hi < lo) {
        why = fmt::format("\"{}\": MIN must not exceed MAX", v);
        return false;
    }
    o.sport_min = lo;
    o.sport_max = hi;
    return true;
}

bool parse_close(GenOptions& o, std::string_view v, std::string& why) {
    if (v == "client") {
        o.close = CloseMode::client;
    } else if (v == "server") {
        o.close = CloseMode::server;
    } else if (v == "rst") {
        o.close = CloseMode::rst;
    } else {
        why = fmt::format("\"{}\" is not one of client, server, rst", v);
        return false;
    }
    return true;
}

constexpr std::uint64_t kMax32 = std::numeric_limits<std::uint32_t>::max();

// The one table of options: command line, profile, usage.
const OptionSpec kOptions[] = {
    {"rate", "N", "target connections/s, all workers together (0: unpaced, the cap decides)",
     [](GenOptions& o, std::string_view v, std::string& w) {
         return parse_uint(v, 0, 1'000'000'000, o.rate, w);
     }},
    {"concurrency", "N", "open connections at most, all workers together (0: the TCB pool)",
     [](GenOptions& o, std::string_view v, std::string& w) {
         return parse_uint(v, 0, kMax32, o.concurrency, w);
     }},
    {"duration", "DURATION", "how long new connections are opened, e.g. 10s (ramp: at most)",
     [](GenOptions& o, std::string_view v, std::string& w) {
         return parse_dur(v, ms(100), o.duration, w);
     }},
    {"drain", "DURATION", "after the run, time open connections get to finish (then reset)",
     [](GenOptions& o, std::string_view v, std::string& w) { return parse_dur(v, 0, o.drain, w); }},
    {"request_size", "BYTES", "size of each HTTP request (a GET padded with a query string)",
     [](GenOptions& o, std::string_view v, std::string& w) {
         return parse_uint(v, 16, 65536, o.request_size, w);
     }},
    {"response_size", "BYTES", "expected Content-Length of every response (else bad_response)",
     [](GenOptions& o, std::string_view v, std::string& w) {
         return parse_uint(v, 0, kMax32, o.response_size, w);
     }},
    {"requests", "N", "requests per connection (HTTP keep-alive), one at a time",
     [](GenOptions& o, std::string_view v, std::string& w) {
         return parse_uint(v, 1, 1'000'000, o.requests, w);
     }},
    {"close", "client|server|rst",
     "who ends a connection: client FIN, server FIN (Connection: close), RST (linger 0)",
     parse_close},
    {"path", "PATH", "request path",
     [](GenOptions& o, std::string_view v, std::string& w) {
         if (v.empty() || v.front() != '/' || v.find_first_of(" \r\n") != std::string_view::npos) {
             w = fmt::format("\"{}\" is not a path starting with / (no spaces)", v);
             return false;
         }
         o.path = v;
         return true;
     }},
    {"host", "NAME", "Host header",
     [](GenOptions& o, std::string_view v, std::string& w) {
         if (v.empty() || v.find_first_of(" \r\n") != std::string_view::npos) {
             w = fmt::format("\"{}\" is not a host name", v);
             return false;
         }
         o.host = v;
         return true;
     }},
    {"src", "A.B.C.D[-A.B.C.D]",
     "source addresses, used in turn (default: the port's address toward dst)", parse_src},
    {"sport", "MIN-MAX", "local port range (default 1024-65535)", parse_sport},
    {"dst", "A.B.C.D", "server address (required)",
     [](GenOptions& o, std::string_view v, std::string& w) { return parse_addr(v, o.dst, w); }},
    {"dport", "PORT", "server port (default 80)",
     [](GenOptions& o, std::string_view v, std::string& w) {
         return parse_uint(v, 1, 65535, o.dport, w);
     }},
    {"ramp", "", "ramp mode: raise the rate step by step until a step is not clean",
     [](GenOptions& o, std::string_view v, std::string& w) { return parse_bool(v, o.ramp.on, w); }},
    {"ramp_start", "N", "first ramp target, connections/s",
     [](GenOptions& o, std::string_view v, std::string& w) {
         return parse_uint(v, 1, 1'000'000'000, o.ramp.start, w);
     }},
    {"ramp_factor", "X", "each clean step multiplies the target by X (> 1)",
     [](GenOptions& o, std::string_view v, std::string& w) {
         return parse_double(v, 1.001, 100.0, o.ramp.factor, w);
     }},
    {"ramp_step", "DURATION", "length of a ramp step",
     [](GenOptions& o, std::string_view v, std::string& w) {
         return parse_dur(v, ms(200), o.ramp.step, w);
     }},
    {"ramp_max", "N", "highest ramp target (0: none)",
     [](GenOptions& o, std::string_view v, std::string& w) {
         return parse_uint(v, 0, 1'000'000'000, o.ramp.max, w);
     }},
    {"ramp_error_ratio", "X", "a clean step has fewer failed connections than this share",
     [](GenOptions& o, std::string_view v, std::string& w) {
         return parse_double(v, 0.0, 1.0, o.ramp.max_error_ratio, w);
     }},
    {"ramp_min_achieved", "X", "a clean step completes at least this share of what it opened",
     [](GenOptions& o, std::string_view v, std::string& w) {
         return parse_double(v, 0.0, 1.0, o.ramp.min_achieved, w);
     }},
    {"config", "FILE", "tcpterm TOML for the generator's [eal], [[port]], [engine], [tcp]",
     [](GenOptions& o, std::string_view v, std::string&) {
         o.config = v;
         return true;
     }},
    {"device", "SPEC", "without --config: the port, e.g. net_memif0,role=client,socket=PATH",
     [](GenOptions& o, std::string_view v, std::string&) {
         o.device = v;
         return true;
     }},
    {"prefix_len", "N", "without --config: subnet length of the source addresses",
     [](GenOptions& o, std::string_view v, std::string& w) {
         return parse_uint(v, 1, 32, o.prefix_len, w);
     }},
    {"workers", "N", "without --config: worker lcores",
     [](GenOptions& o, std::string_view v, std::string& w) {
         return parse_uint(v, 1, 128, o.workers, w);
     }},
    {"rx_burst", "N", "without --config: packets read per rx_burst call (default 256)",
     [](GenOptions& o, std::string_view v, std::string& w) {
         return parse_uint(v, 1, 512, o.rx_burst, w);
     }},
    {"max_connections", "N", "without --config: control blocks per worker",
     [](GenOptions& o, std::string_view v, std::string& w) {
         return parse_uint(v, 16, 1u << 26, o.max_connections, w);
     }},
    {"max_time_wait", "N", "without --config: TIME_WAIT records per worker",
     [](GenOptions& o, std::string_view v, std::string& w) {
         return parse_uint(v, 16, 1u << 27, o.max_time_wait, w);
     }},
    {"tw_reuse", "BOOL", "without --config: reuse TIME_WAIT four-tuples after 1 s (RFC 6191)",
     [](GenOptions& o, std::string_view v, std::string& w) {
         return parse_bool(v, o.tw_reuse, w);
     }},
    {"file_prefix", "NAME", "EAL --file-prefix when the config does not set one",
     [](GenOptions& o, std::string_view v, std::string& w) {
         if (v.empty()) {
             w = "empty";
             return false;
         }
         o.file_prefix = v;
         return true;
     }},
    {"json", "FILE", "also write the JSON summary to FILE",
     [](GenOptions& o, std::string_view v, std::string&) {
         o.json = v;
         return true;
     }},
    {"live", "BOOL", "print one line per second (default true)",
     [](GenOptions& o, std::string_view v, std::string& w) { return parse_bool(v, o.live, w); }},
};

const OptionSpec* find(std::string_view name) {
    for (const OptionSpec& s : kOptions) {
        if (s.name == name) {
            return &s;
        }
    }
    return nullptr;
}

std::string cli_name(std::string_view key);

// " (did you mean X?)" for the nearest option name, spelled as the caller's source spells it.
std::string suggest(std::string_view name, bool cli) {
    std::string_view best;
    std::size_t dist = 3;
    for (const OptionSpec& s : kOptions) {
        const std::size_t d = engine::schema::edit_distance(name, s.name);
        if (d < dist) {
            dist = d;
            best = s.name;
        }
    }
    if (best.empty()) {
        return {};
    }
    return fmt::format(" (did you mean {}?)", cli ? cli_name(best) : std::string(best));
}

std::string cli_name(std::string_view key) {
    std::string s = "--";
    for (char c : key) {
        s += c == '_' ? '-' : c;
    }
    return s;
}

std::string key_of(std::string_view cli) {
    std::string s;
    for (char c : cli.substr(2)) {
        s += c == '-' ? '_' : c;
    }
    return s;
}

bool read_file(const std::string& path, std::string& text) {
    std::ifstream f(path);
    if (!f) {
        return false;
    }
    std::ostringstream ss;
    ss << f.rdbuf();
    text = ss.str();
    return true;
}

} // namespace

std::string_view close_mode_name(CloseMode m) noexcept {
    switch (m) {
    case CloseMode::client:
        return "client";
    case CloseMode::server:
        return "server";
    case CloseMode::rst:
        return "rst";
    }
    return "?";
}

void apply_profile(std::string_view text, const std::string& name, GenOptions& o,
                   std::vector<std::string>& errors) {
    toml::table root;
    try {
        root = toml::parse(text, std::string_view(name));
    } catch (const toml::parse_error& e) {
        errors.push_back(fmt::format("{}:{}:{}: {}", name, e.source().begin.line,
                                     e.source().begin.column, e.description()));
        return;
    }
    for (const auto& [key, node] : root) {
        const auto pos = key.source().begin;
        const std::string where =
            fmt::format("{}:{}:{}: {}", name, pos.line, pos.column, key.str());
        const OptionSpec* spec = find(key.str());
        if (spec == nullptr) {
            errors.push_back(fmt::format("{}: unknown key{}", where, suggest(key.str(), false)));
            continue;
        }
        std::string value;
        if (const auto* s = node.as_string()) {
            value = s->get();
        } else if (const auto* i = node.as_integer()) {
            if (i->get() < 0) {
                errors.push_back(fmt::format("{}: must not be negative", where));
                continue;
            }
            value = std::to_string(i->get());
        } else if (const auto* f = node.as_floating_point()) {
            value = fmt::format("{}", f->get());
        } else if (const auto* b = node.as_boolean()) {
            value = b->get() ? "true" : "false";
        } else {
            errors.push_back(fmt::format("{}: expected a string, number or boolean", where));
            continue;
        }
        std::string why;
        if (!spec->set(o, value, why)) {
            errors.push_back(fmt::format("{}: {}", where, why));
        }
    }
}

std::optional<GenOptions> parse_options(const std::vector<std::string>& args,
                                        std::vector<std::string>& errors, bool& help) {
    GenOptions o;
    help = false;
    // The profile first, so the command line overrides it wherever --profile stands.
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view a = args[i];
        std::string file;
        if (a == "--profile") {
            if (i + 1 >= args.size()) {
                errors.push_back("--profile needs a FILE");
                return std::nullopt;
            }
            file = args[i + 1];
        } else if (a.rfind("--profile=", 0) == 0) {
            file = std::string(a.substr(10));
        } else {
            continue;
        }
        std::string text;
        if (!read_file(file, text)) {
            errors.push_back(fmt::format("--profile: cannot read {}", file));
            return std::nullopt;
        }
        apply_profile(text, file, o, errors);
    }
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view a = args[i];
        if (a == "-h" || a == "--help") {
            help = true;
            return std::nullopt;
        }
        if (a.rfind("--", 0) != 0) {
            errors.push_back(fmt::format("unexpected argument '{}' (options start with --)", a));
            continue;
        }
        std::string_view name = a;
        std::optional<std::string> value;
        if (const auto eq = a.find('='); eq != std::string_view::npos) {
            name = a.substr(0, eq);
            value = std::string(a.substr(eq + 1));
        }
        if (name == "--profile") {
            if (!value) {
                ++i;
            }
            continue;
        }
        const std::string key = key_of(name);
        const OptionSpec* spec = find(key);
        if (spec == nullptr) {
            errors.push_back(fmt::format("{}: unknown option{}", name, suggest(key, true)));
            continue;
        }
        if (!value) {
            if (spec->arg.empty()) {
                value = "true"; // a bare switch
            } else if (i + 1 < args.size()) {
                value = args[++i];
            } else {
                errors.push_back(fmt::format("{} needs a value ({})", name, spec->arg));
                continue;
            }
        }
        std::string why;
        if (!spec->set(o, *value, why)) {
            errors.push_back(fmt::format("{}: {}", name, why));
        }
    }
    if (errors.empty()) {
        validate(o, errors);
    }
    if (!errors.empty()) {
        return std::nullopt;
    }
    return o;
}

std::size_t min_request_size(const GenOptions& o) {
    GenOptions bare = o;
    bare.request_size = 0;
    return std::max(build_request(bare, true).size(), build_request(bare, false).size());
}

std::string build_request(const GenOptions& o, bool last) {
    const bool conn_close = last && o.close == CloseMode::server;
    const std::string head = fmt::format("GET {}", o.path);
    const std::string tail = fmt::format(" HTTP/1.1\r\nHost: {}\r\n{}\r\n", o.host,
                                         conn_close ? "Connection: close\r\n" : "");
    const std::size_t bare = head.size() + tail.size();
    if (o.request_size == 0) {
        return head + tail;
    }
    if (o.request_size < bare) {
        return {};
    }
    std::string pad;
    if (const std::size_t extra = o.request_size - bare; extra > 0) {
        pad += o.path.find('?') == std::string::npos ? '?' : '&';
        pad.append(extra - 1, 'x');
    }
    return head + pad + tail;
}

void validate(const GenOptions& o, std::vector<std::string>& errors) {
    if (o.dst == 0) {
        errors.push_back("--dst is required (the server's address)");
    }
    if (o.config.empty() == o.device.empty()) {
        errors.push_back("give exactly one of --config FILE (a tcpterm TOML with the port) and "
                         "--device SPEC");
    }
    if (!o.device.empty() && o.src_first == 0) {
        errors.push_back("--device needs --src (the generator's addresses on that port)");
    }
    const std::size_t need = min_request_size(o);
    if (o.request_size < need) {
        errors.push_back(fmt::format("--request-size {} is below the smallest request these "
                                     "options make ({} bytes)",
                                     o.request_size, need));
    }
    if (!o.ramp.on && o.rate == 0 && o.concurrency == 0) {
        errors.push_back("give --rate N (connections/s), --concurrency N (open connections), or "
                         "--ramp");
    }
    if (o.ramp.on && o.rate != 0) {
        errors.push_back("--rate and --ramp exclude each other (the ramp sets the rate; "
                         "--ramp-start is its first target)");
    }
    if (o.ramp.on && o.ramp.max != 0 && o.ramp.max < o.ramp.start) {
        errors.push_back(
            fmt::format("--ramp-max {} is below --ramp-start {}", o.ramp.max, o.ramp.start));
    }
    if (o.ramp.on && o.ramp.step * 2 > o.duration) {
        errors.push_back(
            fmt::format("--duration {} leaves room for fewer than two ramp steps of {}",
                        engine::schema::format_duration(o.duration),
                        engine::schema::format_duration(o.ramp.step)));
    }
    if (o.config.empty() && o.concurrency != 0 &&
        o.concurrency > static_cast<std::uint64_t>(o.max_connections) * o.workers) {
        errors.push_back(fmt::format("--concurrency {} exceeds the control blocks ({} per worker x "
                                     "{} workers)",
                                     o.concurrency, o.max_connections, o.workers));
    }
}

std::string usage() {
    std::string s = "usage: tcpterm-gen [EAL args --] --dst A.B.C.D (--config FILE | --device SPEC "
                    "--src A.B.C.D[-A.B.C.D]) [options]\n"
                    "       --profile FILE reads options from TOML (keys as below with '_'); the "
                    "command line overrides it\n\noptions:\n";
    for (const OptionSpec& spec : kOptions) {
        std::string left = cli_name(spec.name);
        if (!spec.arg.empty()) {
            left += ' ';
            left += spec.arg;
        }
        s += fmt::format("  {:<34} {}\n", left, spec.help);
    }
    return s;
}

} // namespace tcpterm::gen
