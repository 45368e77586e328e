// Loading tcpterm.toml: toml++ parses, then every section and key is checked against the schema
// (config_schema.cpp) and stored through the key's setter. Design choice: validation never stops
// at the first problem; each error is collected with toml++'s source position and the list is
// sorted into file order, so one run of --check-config shows everything wrong with a file.
#include "engine/config_schema.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace tcpterm::engine {

namespace {

using namespace schema;

constexpr std::string_view kDurationHelp =
    "units ns, us, ms, s, m, h, d, e.g. \"200ms\", \"1.5s\", \"1h30m\"";
constexpr std::uint32_t kMbufDataRoom = 2048; // RTE_MBUF_DEFAULT_DATAROOM
constexpr std::uint32_t kMaxMssForMbuf = kMbufDataRoom - 14 - 20 - 20;

// "a string", "an integer", ...: indexed by toml::node_type (none, table, array, string, ...).
std::string_view kind(const toml::node& n) {
    constexpr std::string_view kNames[] = {"nothing",    "a table",    "an array",  "a string",
                                           "an integer", "a float",    "a boolean", "a date",
                                           "a time",     "a date-time"};
    const auto i = static_cast<std::size_t>(n.type());
    return i < std::size(kNames) ? kNames[i] : "nothing";
}

std::string header(const SectionSpec& s) {
    return s.array ? fmt::format("[[{}]]", s.name) : fmt::format("[{}]", s.name);
}

std::string section_list() {
    std::string out;
    for (const SectionSpec& s : sections()) {
        out += (out.empty() ? "" : ", ") + header(s);
    }
    return out;
}

/// "[listener] or [tcp]": the sections that have a key of this name.
std::string sections_with(std::string_view name) {
    std::string out;
    for (const Key& k : keys()) {
        if (k.name == name) {
            out += (out.empty() ? "" : " or ") + header(section(k.section));
        }
    }
    return out;
}

bool in_prefix(std::uint32_t addr, const Ipv4Prefix& p) {
    const std::uint32_t mask = p.len == 0 ? 0 : ~std::uint32_t{0} << (32 - p.len);
    return (addr & mask) == (p.addr & mask);
}

/// One of the ports' addresses.
bool owned(const EngineConfig& c, std::uint32_t addr) {
    return std::any_of(c.ports.begin(), c.ports.end(), [&](const PortConfig& p) {
        return std::any_of(p.addresses.begin(), p.addresses.end(),
                           [&](const Ipv4Prefix& x) { return x.addr == addr; });
    });
}

/// Two sockets on address:port clash: same port, and the same address or either one 0.0.0.0.
bool overlaps(std::uint32_t a, std::uint16_t a_port, std::uint32_t b, std::uint16_t b_port) {
    return a_port == b_port && a_port != 0 && (a == b || a == 0 || b == 0);
}

bool name_chars_ok(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_';
    });
}

struct Pending {
    toml::source_position pos;
    std::string message;
};

class Loader {
public:
    explicit Loader(const std::string& name) : name_(name) {}

    EngineConfig run(const std::string& text, std::vector<ConfigError>& out) {
        EngineConfig cfg;
        cfg.source = name_;
        toml::table root;
        try {
            root = toml::parse(text, std::string_view(name_));
        } catch (const toml::parse_error& e) {
            error(e.source().begin, "", fmt::format("TOML syntax error: {}", e.description()));
            finish(out);
            return cfg;
        }
        for (auto&& [key, node] : root) {
            top_level(key, node);
        }
        read_table(Section::eal, root["eal"].as_table(), {1, 1}, "eal", Target{&cfg});
        read_table(Section::engine, root["engine"].as_table(), {1, 1}, "engine", Target{&cfg});
        read_table(Section::tcp, root["tcp"].as_table(), {1, 1}, "tcp", Target{&cfg});
        read_table(Section::impair, root["impair"].as_table(), {1, 1}, "impair", Target{&cfg});
        read_table(Section::lb, root["lb"].as_table(), {1, 1}, "lb", Target{&cfg});
        read_tables(Section::port, root, cfg, cfg.ports, &Target::port);
        read_tables(Section::listener, root, cfg, cfg.listeners, &Target::listener);
        read_tables(Section::pool, root, cfg, cfg.pools, &Target::pool);
        read_tables(Section::profile, root, cfg, cfg.profiles, &Target::profile);
        read_tables(Section::virtual_server, root, cfg, cfg.virtual_servers,
                    &Target::virtual_server);
        check_rules(cfg);
        check_lb_rules(cfg);
        finish(out);
        return cfg;
    }

private:
    void error(toml::source_position pos, std::string_view path, std::string_view what) {
        std::string msg = fmt::format("{}:{}:{}: ", name_, pos.line, pos.column);
        if (!path.empty()) {
            msg += fmt::format("{}: ", path);
        }
        msg += what;
        errors_.push_back({pos, std::move(msg)});
    }

    void finish(std::vector<ConfigError>& out) {
        std::stable_sort(errors_.begin(), errors_.end(), [](const Pending& a, const Pending& b) {
            return a.pos.line != b.pos.line ? a.pos.line < b.pos.line : a.pos.column < b.pos.column;
        });
        for (Pending& p : errors_) {
            out.push_back(ConfigError{std::move(p.message)});
        }
    }

    void top_level(const toml::key& key, const toml::node& node) {
        const std::string_view name = key.str();
        for (const SectionSpec& s : sections()) {
            if (s.name != name) {
                continue;
            }
            if (!s.array && !node.is_table()) {
                error(key.source().begin, name,
                      fmt::format("expected a table [{}], got {}", name, kind(node)));
            } else if (s.array && !node.is_array_of_tables()) {
                error(key.source().begin, name,
                      fmt::format("expected an array of tables [[{}]], got {}", name,
                                  node.is_table() ? "a single table [" + std::string(name) + "]"
                                                  : std::string(kind(node))));
            }
            return;
        }
        if (const std::string in = sections_with(name); !in.empty() && !node.is_table()) {
            error(key.source().begin, name,
                  fmt::format("keys belong in a section (did you mean {} in {}?)", name, in));
            return;
        }
        error(key.source().begin, name, fmt::format("unknown section (valid: {})", section_list()));
    }

    void unknown_key(Section s, const toml::key& key, const std::string& prefix) {
        const std::string_view name = key.str();
        const std::string path = fmt::format("{}.{}", prefix, name);
        if (const std::string elsewhere = sections_with(name); !elsewhere.empty()) {
            error(key.source().begin, path,
                  fmt::format("unknown key (did you mean {} in {}?)", name, elsewhere));
            return;
        }
        const Key* best = nullptr;
        std::size_t best_d = 3; // suggest only close names
        std::string all;
        for (const Key& k : keys()) {
            if (k.section != s) {
                continue;
            }
            all += fmt::format("{}{}", all.empty() ? "" : ", ", k.name);
            const std::size_t d = edit_distance(name, k.name);
            if (d < best_d) {
                best_d = d;
                best = &k;
            }
        }
        if (best != nullptr) {
            error(key.source().begin, path,
                  fmt::format("unknown key (did you mean {}?)", best->name));
        } else {
            error(key.source().begin, path, fmt::format("unknown key (valid: {})", all));
        }
    }

    /// Every table of a [[section]], as element `i` of `out` (path "section[i]").
    template <class Item>
    void read_tables(Section s, const toml::table& root, EngineConfig& cfg, std::vector<Item>& out,
                     Item* Target::*slot) {
        const std::string_view name = section(s).name;
        const toml::array* a = root[name].as_array();
        if (a == nullptr) {
            return;
        }
        for (std::size_t i = 0; i < a->size(); ++i) {
            if (const toml::table* t = a->get(i)->as_table()) {
                Item item;
                Target target{&cfg};
                target.*slot = &item;
                read_table(s, t, t->source().begin, fmt::format("{}[{}]", name, i), target);
                out.push_back(std::move(item));
            }
        }
    }

    void read_table(Section s, const toml::table* t, toml::source_position where,
                    const std::string& prefix, const Target& target) {
        if (t != nullptr) {
            where_[prefix] = where;
            for (auto&& [key, node] : *t) {
                if (find_key(s, key.str()) == nullptr) {
                    unknown_key(s, key, prefix);
                }
            }
        }
        for (const Key& k : keys()) {
            if (k.section != s) {
                continue;
            }
            const std::string path = fmt::format("{}.{}", prefix, k.name);
            const toml::node* n = t != nullptr ? t->get(k.name) : nullptr;
            Value v;
            if (n != nullptr) {
                where_[path] = n->source().begin;
                if (convert(k, *n, path, v)) {
                    k.set(target, v);
                } else {
                    failed_.insert(path);
                }
            } else if (k.required) {
                error(where, path,
                      fmt::format("missing required key (e.g. {} = {})", k.name, k.example));
                failed_.insert(path);
            } else if (!k.default_toml.empty()) {
                if (convert_default(k, v)) {
                    k.set(target, v);
                }
            }
        }
    }

    // Defaults are TOML literals, converted like file values (so they obey their own ranges).
    bool convert_default(const Key& k, Value& v) {
        static const std::vector<toml::table> parsed = [] {
            std::vector<toml::table> out;
            for (const Key& key : keys()) {
                try {
                    out.push_back(key.default_toml.empty()
                                      ? toml::table{}
                                      : toml::parse(fmt::format("v = {}", key.default_toml)));
                } catch (const toml::parse_error&) {
                    out.emplace_back(); // reported below as a missing default
                }
            }
            return out;
        }();
        const toml::table& t = parsed[static_cast<std::size_t>(&k - keys().data())];
        const std::string path =
            fmt::format("schema default of {}.{}", section(k.section).name, k.name);
        if (const toml::node* n = t.get("v")) {
            return convert(k, *n, path, v);
        }
        error({0, 0}, path, fmt::format("not valid TOML: {}", k.default_toml));
        return false;
    }

    bool type_error(const Key& k, const toml::node& n, const std::string& path,
                    std::string_view expected) {
        const std::string range = range_text(k);
        error(n.source().begin, path,
              fmt::format("expected {}, got {}{}", expected, kind(n),
                          range.empty() ? "" : fmt::format(" (valid: {})", range)));
        return false;
    }

    bool convert(const Key& k, const toml::node& n, const std::string& path, Value& v) {
        const toml::source_position pos = n.source().begin;
        switch (k.type) {
        case Type::integer: {
            if (!n.is_integer()) {
                return type_error(k, n, path, "an integer");
            }
            v.number = n.as_integer()->get();
            if (v.number < k.min || v.number > k.max) {
                error(pos, path,
                      fmt::format("{} is out of range (valid: {})", v.number, range_text(k)));
                return false;
            }
            return true;
        }
        case Type::boolean:
            if (!n.is_boolean()) {
                return type_error(k, n, path, "true or false");
            }
            v.flag = n.as_boolean()->get();
            return true;
        case Type::duration: {
            if (n.is_integer()) {
                const std::int64_t i = n.as_integer()->get();
                error(
                    pos, path,
                    fmt::format("{} has no unit: a duration is a string with a unit, e.g. \"{}s\" "
                                "(valid: {}; {})",
                                i, i, range_text(k), kDurationHelp));
                return false;
            }
            if (!n.is_string()) {
                return type_error(k, n, path, "a duration string such as \"200ms\"");
            }
            const std::string& s = n.as_string()->get();
            std::string why;
            const auto d = parse_duration(s, why);
            if (!d) {
                error(pos, path,
                      fmt::format("bad duration \"{}\": {} (valid: {}; {})", s, why, range_text(k),
                                  kDurationHelp));
                return false;
            }
            v.number = static_cast<std::int64_t>(*d);
            if (v.number < k.min || v.number > k.max) {
                error(pos, path,
                      fmt::format("\"{}\" is out of range (valid: {})", s, range_text(k)));
                return false;
            }
            return true;
        }
        case Type::string:
            if (!n.is_string()) {
                return type_error(k, n, path, "a string");
            }
            v.text = n.as_string()->get();
            if (k.required && v.text.empty()) {
                error(pos, path,
                      fmt::format("must not be empty (e.g. {} = {})", k.name, k.example));
                return false;
            }
            return true;
        case Type::enumeration: {
            if (!n.is_string()) {
                return type_error(k, n, path, "a string");
            }
            const std::string& s = n.as_string()->get();
            const auto it = std::find(k.allowed.begin(), k.allowed.end(), s);
            if (it == k.allowed.end()) {
                error(pos, path, fmt::format("unknown value \"{}\" (valid: {})", s, range_text(k)));
                return false;
            }
            v.choice = static_cast<std::size_t>(it - k.allowed.begin());
            return true;
        }
        case Type::ipv4: {
            if (!n.is_string()) {
                return type_error(k, n, path, "a string such as \"198.18.0.1\"");
            }
            const std::string& s = n.as_string()->get();
            const auto a = parse_ipv4(s);
            if (!a) {
                error(pos, path,
                      fmt::format("bad IPv4 address \"{}\" (valid: a dotted quad such as "
                                  "\"198.18.0.1\")",
                                  s));
                return false;
            }
            v.number = *a;
            return true;
        }
        case Type::string_array:
        case Type::ipv4_prefix_array:
        case Type::member_array:
            return convert_array(k, n, path, v);
        }
        return false;
    }

    bool convert_array(const Key& k, const toml::node& n, const std::string& path, Value& v) {
        if (!n.is_array()) {
            return type_error(k, n, path,
                              k.type == Type::ipv4_prefix_array
                                  ? "an array of strings such as [\"198.18.0.2/24\"]"
                              : k.type == Type::member_array
                                  ? "an array of strings such as [\"198.18.1.2:8080 weight=2\"]"
                                  : "an array of strings");
        }
        const toml::array& a = *n.as_array();
        std::vector<std::size_t> member_at; // the element each of v.members came from
        bool ok = true;
        for (std::size_t i = 0; i < a.size(); ++i) {
            const toml::node& e = *a.get(i);
            const std::string epath = fmt::format("{}[{}]", path, i);
            if (!e.is_string()) {
                error(e.source().begin, epath, fmt::format("expected a string, got {}", kind(e)));
                ok = false;
                continue;
            }
            where_[epath] = e.source().begin;
            const std::string& s = e.as_string()->get();
            if (k.type == Type::string_array) {
                v.strings.push_back(s);
            } else if (k.type == Type::member_array) {
                ok = add_member(e.source().begin, epath, s, v, member_at, i) && ok;
            } else if (const auto p = parse_ipv4_prefix(s)) {
                v.prefixes.push_back(*p);
            } else {
                error(e.source().begin, epath,
                      fmt::format("bad IPv4 prefix \"{}\" (valid: address/length such as "
                                  "\"198.18.0.2/24\", length 1..32)",
                                  s));
                ok = false;
            }
        }
        if (ok && k.required && a.empty()) {
            error(n.source().begin, path,
                  fmt::format("must not be empty (e.g. {} = {})", k.name, k.example));
            ok = false;
        }
        return ok;
    }

    /// Element `i` of a pool's members: parsed, and unique by address and port in the pool.
    bool add_member(toml::source_position pos, const std::string& epath, const std::string& s,
                    Value& v, std::vector<std::size_t>& member_at, std::size_t i) {
        std::string why;
        const auto m = parse_member(s, why);
        if (!m) {
            error(pos, epath, why);
            return false;
        }
        for (std::size_t j = 0; j < v.members.size(); ++j) {
            if (v.members[j].address == m->address && v.members[j].port == m->port) {
                error(pos, epath,
                      fmt::format("{}:{} is already members[{}] (valid: each address and port "
                                  "once per pool)",
                                  format_ipv4(m->address), m->port, member_at[j]));
                return false;
            }
        }
        v.members.push_back(*m);
        member_at.push_back(i);
        return true;
    }

    /// The first of `paths` written in the file (for a rule's message), unless one of them
    /// already failed (its error was reported; the rule would only repeat it).
    std::optional<std::pair<std::string, toml::source_position>>
    blame(std::initializer_list<std::string> paths) const {
        std::optional<std::pair<std::string, toml::source_position>> found;
        for (const std::string& p : paths) {
            if (failed_.contains(p)) {
                return std::nullopt;
            }
            const auto it = where_.find(p);
            if (!found && it != where_.end()) {
                found.emplace(p, it->second);
            }
        }
        if (!found) {
            found.emplace(*paths.begin(), toml::source_position{1, 1});
        }
        return found;
    }

    void rule(std::initializer_list<std::string> paths, std::string_view what) {
        if (const auto b = blame(paths)) {
            error(b->second, b->first, what);
        }
    }

    void check_rules(const EngineConfig& c);
    void check_lb_rules(const EngineConfig& c);
    void check_names(std::string_view section, const std::vector<std::string_view>& names);
    void check_reference(const std::string& path, std::string_view value, std::string_view section,
                         const std::vector<std::string_view>& names);

    std::string name_;
    std::vector<Pending> errors_;
    std::map<std::string, toml::source_position> where_; // paths written in the file
    std::set<std::string> failed_;                       // paths whose value was rejected
};

void Loader::check_rules(const EngineConfig& c) {
    const tcp::TcpConfig& t = c.tcp;
    const auto d = [](Nanos v) { return format_duration(v); };
    if (t.rto_min > t.rto_max) {
        rule({"tcp.rto_min", "tcp.rto_max"},
             fmt::format("rto_min {} exceeds rto_max {} (valid: rto_min <= rto_initial <= rto_max)",
                         d(t.rto_min), d(t.rto_max)));
    } else if (t.rto_initial < t.rto_min || t.rto_initial > t.rto_max) {
        rule({"tcp.rto_initial", "tcp.rto_min", "tcp.rto_max"},
             fmt::format("rto_initial {} is outside rto_min..rto_max (valid: {}..{})",
                         d(t.rto_initial), d(t.rto_min), d(t.rto_max)));
    }
    if (t.delayed_ack >= t.rto_min) {
        rule({"tcp.delayed_ack", "tcp.rto_min"},
             fmt::format("delayed_ack {} is not below rto_min {} (valid: delayed_ack < rto_min)",
                         d(t.delayed_ack), d(t.rto_min)));
    }
    if (t.mss > kMaxMssForMbuf) {
        rule({"tcp.mss"}, fmt::format("{} with 54 bytes of headers does not fit a {}-byte mbuf "
                                      "(valid: 536..{})",
                                      t.mss, kMbufDataRoom, kMaxMssForMbuf));
    }
    if (t.tw_reuse && !t.timestamps) {
        rule({"tcp.tw_reuse", "tcp.timestamps"},
             "tw_reuse needs timestamps (valid: tw_reuse = false, or timestamps = true)");
    }

    std::uint64_t rings = 0;
    for (std::size_t i = 0; i < c.ports.size(); ++i) {
        const PortConfig& p = c.ports[i];
        const std::string port = fmt::format("port[{}]", i);
        rings += std::uint64_t{p.rx_desc} + p.tx_desc;
        if (t.mss + 40u > p.mtu) {
            rule({port + ".mtu", "tcp.mss"},
                 fmt::format("mtu {} cannot carry tcp.mss {} (valid: mtu >= tcp.mss + 40 = {})",
                             p.mtu, t.mss, t.mss + 40u));
        }
        if (c.rx_burst > p.rx_desc) {
            rule({"engine.rx_burst", port + ".rx_desc"},
                 fmt::format("rx_burst {} exceeds {}.rx_desc {} (valid: rx_burst <= rx_desc)",
                             c.rx_burst, port, p.rx_desc));
        }
        for (const char* ring : {"rx_desc", "tx_desc"}) {
            const std::uint32_t n = std::string_view(ring) == "rx_desc" ? p.rx_desc : p.tx_desc;
            if ((n & (n - 1)) != 0) {
                rule({fmt::format("{}.{}", port, ring)},
                     fmt::format("{} is not a power of two (valid: 64, 128, ..., 16384)", n));
            }
        }
        for (std::size_t j = 0; j < i; ++j) {
            if (c.ports[j].device == p.device && !p.device.empty()) {
                rule({port + ".device"},
                     fmt::format("device \"{}\" is already port[{}] (valid: one port per device)",
                                 p.device, j));
            }
        }
        for (std::size_t a = 0; a < p.addresses.size(); ++a) {
            const std::string apath = fmt::format("{}.addresses[{}]", port, a);
            const std::uint32_t addr = p.addresses[a].addr;
            if (addr == 0 || addr >= 0xE0000000u) {
                rule({apath, port + ".addresses"},
                     fmt::format("{} is not a unicast address (valid: 0.0.0.1 .. "
                                 "223.255.255.255)",
                                 format_ipv4(addr)));
            }
            for (std::size_t j = 0; j <= i; ++j) {
                const auto& other = c.ports[j].addresses;
                const auto end =
                    other.begin() + static_cast<std::ptrdiff_t>(j == i ? a : other.size());
                if (std::any_of(other.begin(), end,
                                [&](const Ipv4Prefix& x) { return x.addr == addr; })) {
                    rule({apath, port + ".addresses"},
                         fmt::format("{} is already an address of port[{}] (valid: each address "
                                     "on one port)",
                                     format_ipv4(addr), j));
                    break;
                }
            }
        }
        if (p.gateway && !p.addresses.empty() &&
            std::none_of(p.addresses.begin(), p.addresses.end(),
                         [&](const Ipv4Prefix& x) { return in_prefix(*p.gateway, x); })) {
            rule({port + ".gateway"},
                 fmt::format("{} is outside the port's subnets (valid: an address inside one of "
                             "{}.addresses)",
                             format_ipv4(*p.gateway), port));
        }
    }
    const std::uint64_t need = std::uint64_t{c.workers} * (c.mbuf_cache + rings);
    if (c.mbufs < need) {
        rule({"engine.mbufs", "engine.workers", "engine.mbuf_cache"},
             fmt::format("mbufs {} cannot fill the rings and caches of {} workers (valid: mbufs >= "
                         "{} = workers x (mbuf_cache + rx_desc + tx_desc of every port))",
                         c.mbufs, c.workers, need));
    }

    for (std::size_t i = 0; i < c.listeners.size(); ++i) {
        const ListenerConfig& l = c.listeners[i];
        const std::string lis = fmt::format("listener[{}]", i);
        if (l.address != 0 && !owned(c, l.address)) {
            rule({lis + ".address"}, fmt::format("{} is not an address of any port (valid: "
                                                 "0.0.0.0 or one of the ports' addresses)",
                                                 format_ipv4(l.address)));
        }
        for (std::size_t j = 0; j < i; ++j) {
            const ListenerConfig& o = c.listeners[j];
            if (o.address == l.address && o.port == l.port && l.port != 0) {
                rule({lis + ".port", lis + ".address", lis},
                     fmt::format("{}:{} is already listener[{}] (valid: one listener per address "
                                 "and port)",
                                 format_ipv4(l.address), l.port, j));
            }
        }
    }

    for (std::size_t i = 0; i < c.eal_args.size(); ++i) {
        if (c.eal_args[i].starts_with("--file-prefix")) {
            rule({"eal.args"}, fmt::format("\"{}\" is set by eal.file_prefix (valid: any EAL "
                                           "argument but --file-prefix)",
                                           c.eal_args[i]));
        }
    }
    if (!name_chars_ok(c.file_prefix)) {
        rule({"eal.file_prefix"},
             fmt::format("\"{}\" has characters other than letters, digits, '-' and '_'",
                         c.file_prefix));
    }
}

/// Names of [[pool]], [[profile]] and [[virtual_server]] tables: letters, digits, '-', '_';
/// unique. An empty name was reported already (missing or empty required key).
void Loader::check_names(std::string_view section, const std::vector<std::string_view>& names) {
    for (std::size_t i = 0; i < names.size(); ++i) {
        const std::string path = fmt::format("{}[{}].name", section, i);
        if (names[i].empty()) {
            continue;
        }
        if (!name_chars_ok(names[i])) {
            rule({path}, fmt::format("\"{}\" has characters other than letters, digits, '-' and "
                                     "'_'",
                                     names[i]));
            continue;
        }
        const auto first = std::find(names.begin(), names.end(), names[i]);
        if (const auto j = static_cast<std::size_t>(first - names.begin()); j < i) {
            rule({path}, fmt::format("\"{}\" is already the name of {}[{}] (valid: a name not "
                                     "used by another [[{}]])",
                                     names[i], section, j, section));
        }
    }
}

/// `value` (unless empty) names one of `names`; otherwise suggest the closest, or list them.
void Loader::check_reference(const std::string& path, std::string_view value,
                             std::string_view section, const std::vector<std::string_view>& names) {
    if (value.empty() || std::find(names.begin(), names.end(), value) != names.end()) {
        return;
    }
    std::string_view best;
    std::size_t best_d = 3; // suggest only close names
    std::string all;
    for (std::string_view n : names) {
        if (n.empty()) {
            continue;
        }
        all += fmt::format("{}\"{}\"", all.empty() ? "" : ", ", n);
        if (const std::size_t d = edit_distance(value, n); d < best_d) {
            best_d = d;
            best = n;
        }
    }
    const std::string hint =
        !best.empty() ? fmt::format("did you mean \"{}\"?", best)
        : all.empty() ? fmt::format("valid: the name of a [[{}]]; the file has none", section)
                      : fmt::format("valid: {}", all);
    rule({path}, fmt::format("no [[{}]] named \"{}\" ({})", section, value, hint));
}

void Loader::check_lb_rules(const EngineConfig& c) {
    const auto d = [](Nanos v) { return format_duration(v); };
    if (c.lb.source_port_min > c.lb.source_port_max) {
        rule({"lb.source_port_min", "lb.source_port_max"},
             fmt::format("source_port_min {} exceeds source_port_max {} (valid: source_port_min "
                         "<= source_port_max)",
                         c.lb.source_port_min, c.lb.source_port_max));
    }

    std::vector<std::string_view> pools;
    for (std::size_t i = 0; i < c.pools.size(); ++i) {
        const PoolConfig& p = c.pools[i];
        const std::string pool = fmt::format("pool[{}]", i);
        pools.push_back(p.name);
        if (p.health_timeout > p.health_interval) {
            rule({pool + ".health_timeout", pool + ".health_interval"},
                 fmt::format("health_timeout {} exceeds health_interval {} (valid: health_timeout "
                             "<= health_interval)",
                             d(p.health_timeout), d(p.health_interval)));
        }
        const bool clean = std::none_of(p.health_path.begin(), p.health_path.end(), [](char ch) {
            return static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7F;
        });
        if (!p.health_path.starts_with('/') || !clean) {
            rule({pool + ".health_path"},
                 fmt::format("\"{}\" {} (valid: a path such as \"/health\": starts with '/', no "
                             "spaces or control characters)",
                             p.health_path,
                             clean ? "does not start with '/'"
                                   : "has a space or control character"));
        }
    }
    check_names("pool", pools);

    std::vector<std::string_view> profiles;
    for (const ProfileConfig& p : c.profiles) {
        profiles.push_back(p.name);
    }
    check_names("profile", profiles);

    std::vector<std::string_view> servers;
    for (std::size_t i = 0; i < c.virtual_servers.size(); ++i) {
        const VirtualServerConfig& v = c.virtual_servers[i];
        const std::string vs = fmt::format("virtual_server[{}]", i);
        servers.push_back(v.name);
        if (v.address != 0 && !owned(c, v.address)) {
            rule({vs + ".address"}, fmt::format("{} is not an address of any port (valid: "
                                                "0.0.0.0 or one of the ports' addresses)",
                                                format_ipv4(v.address)));
        }
        if (v.source_address && !owned(c, *v.source_address)) {
            rule({vs + ".source_address"},
                 fmt::format("{} is not an address of any port (valid: one of the ports' "
                             "addresses, or unset for the address of the port that routes to "
                             "the member)",
                             format_ipv4(*v.source_address)));
        }
        // One clash per virtual server: the first listener, else the first virtual server.
        std::string clash;
        for (std::size_t j = 0; j < c.listeners.size() && clash.empty(); ++j) {
            const ListenerConfig& l = c.listeners[j];
            if (overlaps(v.address, v.port, l.address, l.port)) {
                clash = fmt::format("listener[{}] on {}:{}", j, format_ipv4(l.address), l.port);
            }
        }
        for (std::size_t j = 0; j < i && clash.empty(); ++j) {
            const VirtualServerConfig& o = c.virtual_servers[j];
            if (overlaps(v.address, v.port, o.address, o.port)) {
                clash =
                    fmt::format("virtual_server[{}] on {}:{}", j, format_ipv4(o.address), o.port);
            }
        }
        if (!clash.empty()) {
            rule({vs + ".port", vs + ".address", vs},
                 fmt::format("{}:{} collides with {} (valid: one listener or virtual server per "
                             "address and port; 0.0.0.0 takes the port on every address)",
                             format_ipv4(v.address), v.port, clash));
        }
    }
    check_names("virtual_server", servers);

    for (std::size_t i = 0; i < c.virtual_servers.size(); ++i) {
        const VirtualServerConfig& v = c.virtual_servers[i];
        const std::string vs = fmt::format("virtual_server[{}]", i);
        check_reference(vs + ".pool", v.pool, "pool", pools);
        check_reference(vs + ".client_profile", v.client_profile, "profile", profiles);
        check_reference(vs + ".server_profile", v.server_profile, "profile", profiles);
    }
}

} // namespace

EngineConfig parse_config(const std::string& text, const std::string& name,
                          std::vector<ConfigError>& errors) {
    errors.clear();
    return Loader(name).run(text, errors);
}

EngineConfig load_config(const std::string& path, std::vector<ConfigError>& errors) {
    std::ifstream in(path, std::ios::binary);
    int err = errno;
    std::error_code ec;
    if (in && std::filesystem::is_directory(path, ec)) { // opens, but reads nothing
        in.close();
        err = EISDIR;
    }
    if (!in.is_open()) {
        errors.clear();
        errors.push_back(ConfigError{fmt::format("{}: cannot read: {}", path, std::strerror(err))});
        EngineConfig cfg;
        cfg.source = path;
        return cfg;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return parse_config(text.str(), path, errors);
}

} // namespace tcpterm::engine
