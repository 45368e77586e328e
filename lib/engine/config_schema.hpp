// Private to the configuration layer: the schema table (config_schema.cpp) that the loader
// (config_load.cpp) validates against and the generators (config_docs.cpp) print. Design choice:
// every key is one row holding its TOML default as literal text, its range and a setter bound to
// the struct field, so validation, defaults and docs cannot disagree.
#pragma once

#include "engine/config.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tcpterm::engine::schema {

enum class Section : std::uint8_t { eal, engine, port, listener, tcp, impair };

enum class Type : std::uint8_t {
    integer,
    boolean,
    duration,
    string,
    string_array,
    ipv4,
    ipv4_prefix_array,
    enumeration,
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
    std::size_t choice = 0; // index into Key::allowed
};

/// Where a section's values go: the config, and the [[port]] or [[listener]] being filled.
struct Target {
    EngineConfig* engine = nullptr;
    PortConfig* port = nullptr;
    ListenerConfig* listener = nullptr;
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
    Setter set = nullptr;
};

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

/// Edit distance, for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);

} // namespace tcpterm::engine::schema
