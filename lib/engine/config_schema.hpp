// Private to the configuration layer: the schema table (config_schema.cpp, with the load-balancer
// rows in config_schema_lb.cpp) that the loader (config_load.cpp) validates against and the
// generators (config_docs.cpp) print. Design choice: every key is one row holding its TOML default
// as literal text, its range and a setter bound to the struct field, so validation, defaults and
// docs cannot disagree.
#pragma once

#include "engine/config.hpp"

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace tcpterm::engine::schema {

// In the order of sections() (and of docs/configuration.md).
enum class Section : std::uint8_t {
    eal,
    engine,
    port,
    listener,
    tcp,
    lb,
    pool,
    profile,
    virtual_server,
    impair,
};

enum class Type : std::uint8_t {
    integer,
    boolean,
    duration,
    string,
    string_array,
    ipv4,
    ipv4_prefix_array,
    enumeration,
    member_array, // pool members: "ADDR:PORT [weight=N] [state=...] [max_connections=N]"
};

struct SectionSpec {
    Section id;
    std::string_view name;
    bool array; // [[name]] (array of tables) rather than [name]
    std::string_view description;
};

/// A converted, validated value on its way into a struct field.
struct Value {
    std::int64_t number = 0; // integer, duration (ns), ipv4 (host order)
    bool flag = false;
    std::string text;
    std::vector<std::string> strings;
    std::vector<Ipv4Prefix> prefixes;
    std::vector<MemberConfig> members;
    std::size_t choice = 0; // index into Key::allowed
};

/// Where a section's values go: the config, and the element of a [[section]] being filled.
struct Target {
    EngineConfig* engine = nullptr;
    PortConfig* port = nullptr;
    ListenerConfig* listener = nullptr;
    PoolConfig* pool = nullptr;
    ProfileConfig* profile = nullptr;
    VirtualServerConfig* virtual_server = nullptr;
};

using Setter = void (*)(const Target&, const Value&);

struct Key {
    Section section = Section::eal;
    std::string_view name{};
    Type type = Type::integer;
    std::string_view default_toml{}; // TOML literal; empty = no default (required, or unset)
    std::int64_t min = 0;            // integers: the value; durations: nanoseconds
    std::int64_t max = 0;
    std::span<const std::string_view> allowed{}; // enumerations, in the C++ enum's order
    std::string_view unit{};                     // integers: "bytes", "segments", ...
    bool required = false;
    bool reloadable = false;
    std::string_view description{};
    std::string_view example{}; // TOML literal for [[section]] examples (no default)
    std::string_view unset{};   // no default, not required: what leaving it out means (docs)
    Setter set = nullptr;
};

// ---- building rows (config_schema.cpp, config_schema_lb.cpp) -------------------------------

template <class T>
inline constexpr bool kIsOptional = false;
template <class T>
inline constexpr bool kIsOptional<std::optional<T>> = true;

/// Stores a converted value in a field of any type the schema has, optionals included.
template <class T>
void store(T& field, const Value& v) {
    if constexpr (std::is_same_v<T, bool>) {
        field = v.flag;
    } else if constexpr (std::is_enum_v<T>) {
        field = static_cast<T>(v.choice);
    } else if constexpr (std::is_same_v<T, std::string>) {
        field = v.text;
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
        field = v.strings;
    } else if constexpr (std::is_same_v<T, std::vector<Ipv4Prefix>>) {
        field = v.prefixes;
    } else if constexpr (std::is_same_v<T, std::vector<MemberConfig>>) {
        field = v.members;
    } else if constexpr (kIsOptional<T>) {
        typename T::value_type x{}; // a key that is present sets the optional
        store(x, v);
        field = x;
    } else {
        static_assert(std::is_integral_v<T>); // integers, durations (Nanos), ipv4
        field = static_cast<T>(v.number);     // the loader checked the range
    }
}

inline constexpr std::int64_t kMax32 = std::numeric_limits<std::uint32_t>::max();

constexpr Key integer(Section s, std::string_view name, std::string_view def, std::int64_t lo,
                      std::int64_t hi, std::string_view unit, std::string_view desc, Setter set) {
    return Key{.section = s,
               .name = name,
               .type = Type::integer,
               .default_toml = def,
               .min = lo,
               .max = hi,
               .unit = unit,
               .description = desc,
               .set = set};
}
constexpr Key duration(Section s, std::string_view name, std::string_view def, Nanos lo, Nanos hi,
                       std::string_view desc, Setter set) {
    return Key{.section = s,
               .name = name,
               .type = Type::duration,
               .default_toml = def,
               .min = static_cast<std::int64_t>(lo),
               .max = static_cast<std::int64_t>(hi),
               .description = desc,
               .set = set};
}
constexpr Key other(Section s, std::string_view name, Type type, std::string_view def,
                    std::string_view desc, Setter set) {
    return Key{.section = s,
               .name = name,
               .type = type,
               .default_toml = def,
               .description = desc,
               .set = set};
}
constexpr Key choice(Section s, std::string_view name, std::string_view def,
                     std::span<const std::string_view> allowed, std::string_view desc, Setter set) {
    return Key{.section = s,
               .name = name,
               .type = Type::enumeration,
               .default_toml = def,
               .allowed = allowed,
               .description = desc,
               .set = set};
}
/// A key with no default: `required`, or left unset when absent; `example` shows a value.
constexpr Key no_default(Key k, bool required, std::string_view example) {
    k.default_toml = {};
    k.required = required;
    k.example = example;
    return k;
}
/// An optional key with no default whose absence means `unset` (shown in the docs).
constexpr Key unset_means(Key k, std::string_view unset, std::string_view example) {
    k = no_default(k, false, example);
    k.unset = unset;
    return k;
}

/// The load-balancer sections' rows and rules (config_schema_lb.cpp); keys() and rules() include
/// them.
std::span<const Key> lb_keys();
std::span<const std::string_view> lb_rules();

// ---- the schema ----------------------------------------------------------------------------

std::span<const SectionSpec> sections();
const SectionSpec& section(Section s);
std::span<const Key> keys();
const Key* find_key(Section s, std::string_view name);
/// Cross-field rules, as documented; config_load.cpp checks them in this order.
std::span<const std::string_view> rules();

/// "integer", "duration", "string array", ... (with the unit for integers).
std::string type_text(const Key& k);
/// What valid values look like: "1..128", "10us..100ms", "echo, discard, http", or "".
std::string range_text(const Key& k);

/// "200ms", "1h30m", "0": the shortest exact spelling with units.
std::string format_duration(Nanos ns);
/// Parses "200ms", "1.5s", "1h30m", "0". On failure returns nullopt and says why in `why`.
std::optional<Nanos> parse_duration(std::string_view s, std::string& why);
/// Dotted quad, host order; strict (four decimal parts 0..255, no leading zeros).
std::optional<std::uint32_t> parse_ipv4(std::string_view s);
std::string format_ipv4(std::uint32_t addr);
/// "a.b.c.d/len" with len 1..32.
std::optional<Ipv4Prefix> parse_ipv4_prefix(std::string_view s);

/// One pool member, "ADDR:PORT [weight=N] [state=up|down|drain] [max_connections=N]" (options
/// in any order, separated by spaces or tabs, each at most once). On failure returns nullopt and
/// says what is wrong and what is valid in `why`.
std::optional<MemberConfig> parse_member(std::string_view s, std::string& why);
/// The member syntax with its ranges, for messages and the docs.
std::string_view member_syntax();

/// Edit distance, for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);

} // namespace tcpterm::engine::schema
