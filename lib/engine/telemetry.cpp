// Telemetry commands under /tcpterm/. Each handler is split in two: a model, built from the
// TelemetrySource into plain vectors (unit-tested without a socket), and a renderer that copies the
// model into rte_tel_data. The split exists because rte_telemetry 22.11 has hard limits the
// renderer must respect: a dict holds at most RTE_TEL_MAX_DICT_ENTRIES (256) keys, containers nest
// one level only, and a reply longer than 16 KiB is cut mid-JSON. So /tcpterm/stats is grouped
// into sections of at most 121 keys, and every variable-length reply (workers, conns) is checked
// against a byte budget before it is added: rows that do not fit are counted, never cut.
//
// Handlers run on DPDK's telemetry threads (one per client connection, possibly concurrently), so
// they keep no mutable state of their own; the one exception is the list of connection requests
// a worker has not answered in time (see Pending below).
#include "engine/telemetry.hpp"

#include <rte_telemetry.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tcpterm::engine {
namespace {

// ---------------------------------------------------------------------------------------------
// Limits

/// rte_telemetry 22.11's reply buffer ("max_output_len" in its greeting).
constexpr std::size_t kMaxOutput = 16 * 1024;
/// What a variable-length reply may use, leaving room for the envelope ({"/tcpterm/...":{...}})
/// and the fixed keys.
constexpr std::size_t kReplyBudget = kMaxOutput - 1024;
/// Connections asked of the workers (in total) and returned by one /tcpterm/conns.
constexpr std::size_t kMaxConnsListed = 256;
/// How long /tcpterm/conns waits for each worker.
constexpr Nanos kConnsTimeout = ms(200);

static_assert(kMaxConnsListed <= RTE_TEL_MAX_ARRAY_ENTRIES);

// ---------------------------------------------------------------------------------------------
// The model

struct Field {
    std::string key;
    std::uint64_t value = 0;
};
using Fields = std::vector<Field>;

/// One nested dict of /tcpterm/stats.
struct Section {
    std::string_view name;
    Fields fields;
};

struct WorkerRow {
    std::size_t index = 0;
    Fields fields;
};

struct WorkersModel {
    std::vector<WorkerRow> rows; // those that fit the reply
    std::size_t omitted = 0;     // workers left out for lack of room
};

/// Which connections /tcpterm/conns lists.
struct StateFilter {
    bool any = true;
    tcp::State state = tcp::State::closed;
};

struct ConnsModel {
    StateFilter filter;
    std::uint64_t total = 0;         // matching connections on the workers that answered
    std::vector<std::string> conns;  // "laddr:lport raddr:rport state sendq recvq worker"
    std::vector<std::string> errors; // "worker N: no answer"
};

/// Which workers a /tcpterm/states or /tcpterm/stats request covers.
struct WorkerRange {
    std::size_t first = 0;
    std::size_t last = 0; // exclusive
};

/// The WorkerLoad fields summed into /tcpterm/stats as "worker_<name>".
struct LoadField {
    std::string_view name;
    std::uint64_t WorkerLoad::*member;
};
constexpr std::array kSummedLoad{
    LoadField{"loops", &WorkerLoad::loops},
    LoadField{"busy_cycles", &WorkerLoad::busy_cycles},
    LoadField{"idle_cycles", &WorkerLoad::idle_cycles},
    LoadField{"rx_packets", &WorkerLoad::rx_packets},
    LoadField{"tx_packets", &WorkerLoad::tx_packets},
    LoadField{"tx_dropped", &WorkerLoad::tx_dropped},
    LoadField{"arp_replies", &WorkerLoad::arp_replies},
    LoadField{"arp_requests", &WorkerLoad::arp_requests},
    LoadField{"icmp_echo", &WorkerLoad::icmp_echo},
    LoadField{"arp_unresolved_drops", &WorkerLoad::arp_unresolved_drops},
    LoadField{"l2_drops", &WorkerLoad::l2_drops},
    LoadField{"syn_refused_backpressure", &WorkerLoad::syn_refused_backpressure},
    LoadField{"loss_states", &WorkerLoad::loss_states},
    LoadField{"loss_states_peak", &WorkerLoad::loss_states_peak}, // sum of each worker's peak
    LoadField{"impair_dropped", &WorkerLoad::impair_dropped},
    LoadField{"impair_duplicated", &WorkerLoad::impair_duplicated},
    LoadField{"impair_reordered", &WorkerLoad::impair_reordered},
    LoadField{"impair_corrupted", &WorkerLoad::impair_corrupted},
    LoadField{"impair_delayed", &WorkerLoad::impair_delayed},
};

std::string cat(std::string_view a, std::string_view b) {
    std::string s;
    s.reserve(a.size() + b.size());
    s.append(a).append(b);
    return s;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) {
        s.remove_suffix(1);
    }
    return s;
}

/// Lower case without '-' and '_', so "TIME-WAIT", "time_wait" and "timewait" compare equal.
std::string fold(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        if (ch == '-' || ch == '_') {
            continue;
        }
        out.push_back(ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch);
    }
    return out;
}

/// A state by its enum name or its ss name, in any case and with '-' or '_' ("time_wait",
/// "TIME-WAIT", "estab", "fin-wait-2").
std::optional<tcp::State> state_by_name(std::string_view name) {
    const std::string want = fold(name);
    for (std::size_t i = 0; i < tcp::kStateCount; ++i) {
        const auto s = static_cast<tcp::State>(i);
        if (want == fold(tcp::state_name(s)) || want == fold(tcp::state_ss_name(s))) {
            return s;
        }
    }
    return std::nullopt;
}

/// The parameter of /tcpterm/conns: none, empty or "all" lists every state; otherwise a state
/// name. nullopt for anything else.
std::optional<StateFilter> parse_state_param(const char* params) {
    const std::string_view p = trim(params != nullptr ? std::string_view{params} : "");
    if (p.empty() || fold(p) == "all") {
        return StateFilter{};
    }
    if (auto s = state_by_name(p)) {
        return StateFilter{false, *s};
    }
    return std::nullopt;
}

/// The parameter of /tcpterm/states and /tcpterm/stats: none = all workers summed, or one
/// worker's index. nullopt for anything else.
std::optional<WorkerRange> parse_worker_param(const char* params, std::size_t workers) {
    const std::string_view p = trim(params != nullptr ? std::string_view{params} : "");
    if (p.empty()) {
        return WorkerRange{0, workers};
    }
    std::size_t v = 0;
    for (char ch : p) {
        if (ch < '0' || ch > '9' || v > workers) {
            return std::nullopt;
        }
        v = v * 10 + static_cast<std::size_t>(ch - '0');
    }
    if (v >= workers) {
        return std::nullopt;
    }
    return WorkerRange{v, v + 1};
}

tcp::TcpStats sum_stats(const TelemetrySource& src, WorkerRange r) {
    tcp::TcpStats total;
    for (std::size_t i = r.first; i < r.last; ++i) {
        total.add(src.tcp_stats(i));
    }
    return total;
}

/// Connections per state (enum names, enum order). Gauges read mid-update can be briefly
/// negative on one worker; the sum is clamped at 0. CLOSED is always 0: a closed connection
/// does not exist.
Fields states_model(const TelemetrySource& src, WorkerRange r) {
    const tcp::TcpStats s = sum_stats(src, r);
    Fields out;
    out.reserve(tcp::kStateCount);
    for (std::size_t i = 0; i < tcp::kStateCount; ++i) {
        const auto st = static_cast<tcp::State>(i);
        const std::int64_t n = st == tcp::State::closed ? 0 : s.states[i];
        out.push_back(
            {std::string{tcp::state_name(st)}, n > 0 ? static_cast<std::uint64_t>(n) : 0});
    }
    return out;
}

/// Every counter but the state gauges, in sections of at most 121 keys.
std::vector<Section> stats_model(const TelemetrySource& src, WorkerRange r) {
    const tcp::TcpStats s = sum_stats(src, r);
    std::vector<Section> out;
    out.reserve(8);

    Section& counters = out.emplace_back(Section{"counters", {}});
    for (std::size_t i = 0; i < s.counters.size(); ++i) {
        counters.fields.push_back({std::string{tcp::kCounterNames[i]}, s.counters[i]});
    }
    Section& timers = out.emplace_back(Section{"timers", {}});
    for (std::size_t i = 0; i < s.timer_expiries.size(); ++i) {
        timers.fields.push_back({cat("timer_", tcp::kTimerNames[i]), s.timer_expiries[i]});
    }
    Section& rst_sent = out.emplace_back(Section{"rst_sent", {}});
    for (std::size_t i = 0; i < s.rst_sent.size(); ++i) {
        rst_sent.fields.push_back({cat("rst_sent_", tcp::kRstNames[i]), s.rst_sent[i]});
    }
    Section& rst_received = out.emplace_back(Section{"rst_received", {}});
    for (std::size_t i = 0; i < s.rst_received.size(); ++i) {
        rst_received.fields.push_back(
            {cat("rst_received_", tcp::state_name(static_cast<tcp::State>(i))), s.rst_received[i]});
    }
    Section& drops = out.emplace_back(Section{"drops", {}});
    for (std::size_t i = 0; i < s.drops.size(); ++i) {
        drops.fields.push_back({cat("drop_", tcp::kDropNames[i]), s.drops[i]});
    }
    Section& net_drops = out.emplace_back(Section{"net_drops", {}});
    for (std::size_t i = 1; i < s.net_drops.size(); ++i) { // 0 is NetDrop::none
        net_drops.fields.push_back(
            {cat("net_drop_", net::name(static_cast<net::NetDrop>(i))), s.net_drops[i]});
    }
    Section& transitions = out.emplace_back(Section{"transitions", {}});
    for (std::size_t a = 0; a < tcp::kStateCount; ++a) {
        for (std::size_t b = 0; b < tcp::kStateCount; ++b) {
            if (s.transitions[a][b] == 0) {
                continue;
            }
            std::string key = cat("trans_", tcp::state_name(static_cast<tcp::State>(a)));
            key.append("_").append(tcp::state_name(static_cast<tcp::State>(b)));
            transitions.fields.push_back({std::move(key), s.transitions[a][b]});
        }
    }
    Section& worker = out.emplace_back(Section{"worker", {}});
    for (const LoadField& f : kSummedLoad) {
        std::uint64_t sum = 0;
        for (std::size_t i = r.first; i < r.last; ++i) {
            sum += src.worker_load(i).*f.member;
        }
        worker.fields.push_back({cat("worker_", f.name), sum});
    }
    return out;
}

/// Bytes `"key":value,` takes in the reply.
std::size_t json_size(const Field& f) {
    std::size_t digits = 1;
    for (std::uint64_t v = f.value; v >= 10; v /= 10) {
        ++digits;
    }
    return f.key.size() + 4 + digits;
}

std::size_t json_size(const Fields& fs) {
    std::size_t n = 2; // {}
    for (const Field& f : fs) {
        n += json_size(f);
    }
    return n;
}

Fields worker_fields(const WorkerLoad& w) {
    const std::uint64_t cycles = w.busy_cycles + w.idle_cycles;
    const std::uint64_t busy_percent =
        cycles == 0 ? 0
                    : static_cast<std::uint64_t>(100.0L * static_cast<long double>(w.busy_cycles) /
                                                 static_cast<long double>(cycles));
    const std::uint64_t packets = std::max<std::uint64_t>(1, w.rx_packets + w.tx_packets);
    return Fields{
        {"lcore", w.lcore},
        {"loops", w.loops},
        {"busy_cycles", w.busy_cycles},
        {"idle_cycles", w.idle_cycles},
        {"busy_percent", busy_percent},
        {"rx_packets", w.rx_packets},
        {"tx_packets", w.tx_packets},
        {"tx_dropped", w.tx_dropped},
        {"cycles_per_packet", w.busy_cycles / packets},
    };
}

WorkersModel workers_model(const TelemetrySource& src, std::size_t budget) {
    WorkersModel m;
    const std::size_t n = src.worker_count();
    m.rows.reserve(n);
    std::size_t used = 0;
    for (std::size_t i = 0; i < n; ++i) {
        WorkerRow row{i, worker_fields(src.worker_load(i))};
        const std::size_t size = json_size(row.fields) + 8; // "NNN":{...},
        if (used + size > budget) {
            m.omitted = n - i;
            break;
        }
        used += size;
        m.rows.push_back(std::move(row));
    }
    return m;
}

std::string ipv4(std::uint32_t a) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", (a >> 24) & 0xffU, (a >> 16) & 0xffU,
                  (a >> 8) & 0xffU, a & 0xffU);
    return buf;
}

/// "laddr:lport raddr:rport state sendq recvq worker" (at most 84 characters).
std::string format_conn(const ConnInfo& c) {
    char buf[RTE_TEL_MAX_STRING_LEN];
    std::snprintf(buf, sizeof buf, "%s:%u %s:%u %.*s %u %u %u", ipv4(c.laddr).c_str(),
                  unsigned{c.lport}, ipv4(c.raddr).c_str(), unsigned{c.rport},
                  static_cast<int>(tcp::state_name(c.state).size()),
                  tcp::state_name(c.state).data(), unsigned{c.send_queue}, unsigned{c.recv_queue},
                  unsigned{c.worker});
    return buf;
}

/// Commands a worker has not answered in time. The worker may still hold a pointer to one and
/// write its answer later, so none is freed before `done`. Kept commands are bounded: once
/// kMaxPending are outstanding, a worker with one of them is not asked again until it answers.
class Pending {
public:
    static constexpr std::size_t kMaxPending = 64;

    /// True if `worker` should not be asked now (frees the commands answered since).
    bool blocked(std::size_t worker) {
        std::lock_guard lock(mutex_);
        std::erase_if(cmds_,
                      [](const Entry& e) { return e.cmd->done.load(std::memory_order_acquire); });
        return cmds_.size() >= kMaxPending &&
               std::any_of(cmds_.begin(), cmds_.end(),
                           [&](const Entry& e) { return e.worker == worker; });
    }
    void keep(std::size_t worker, std::unique_ptr<Command> c) {
        std::lock_guard lock(mutex_);
        cmds_.push_back({worker, std::move(c)});
    }
    std::size_t size() {
        std::lock_guard lock(mutex_);
        return cmds_.size();
    }

private:
    struct Entry {
        std::size_t worker;
        std::unique_ptr<Command> cmd;
    };
    std::mutex mutex_;
    std::vector<Entry> cmds_;
};

Pending& pending() {
    // Never destroyed: a telemetry thread may still be in a handler while the process exits.
    static Pending* p = new Pending;
    return *p;
}

/// Asks each worker in turn for its connections matching `f`, `max_listed` in total at most.
ConnsModel conns_model(TelemetrySource& src, StateFilter f, Nanos timeout, std::size_t max_listed) {
    ConnsModel m;
    m.filter = f;
    m.conns.reserve(max_listed);
    const std::size_t n = src.worker_count();
    for (std::size_t i = 0; i < n; ++i) {
        if (pending().blocked(i)) {
            m.errors.push_back("worker " + std::to_string(i) +
                               ": no answer (earlier requests still pending)");
            continue;
        }
        auto c = std::make_unique<Command>();
        c->kind = Command::Kind::list_conns;
        c->any_state = f.any;
        c->state = f.state;
        c->conns.reserve(max_listed - m.conns.size());
        if (!src.run_command(i, *c, timeout)) {
            m.errors.push_back("worker " + std::to_string(i) + ": no answer");
            pending().keep(i, std::move(c));
            continue;
        }
        m.total += c->total;
        for (const ConnInfo& ci : c->conns) {
            if (m.conns.size() == max_listed) {
                break;
            }
            m.conns.push_back(format_conn(ci));
        }
    }
    return m;
}

// ---------------------------------------------------------------------------------------------
// Rendering into rte_tel_data

std::atomic<TelemetrySource*> g_source{nullptr};

int add_fields(rte_tel_data* d, const Fields& fs) {
    for (const Field& f : fs) {
        if (const int rc = rte_tel_data_add_dict_u64(d, f.key.c_str(), f.value); rc < 0) {
            return rc;
        }
    }
    return 0;
}

/// Adds `child` (a started container) to dict `d` under `name`; frees it if that fails.
int add_container(rte_tel_data* d, const char* name, rte_tel_data* child) {
    const int rc = rte_tel_data_add_dict_container(d, name, child, 0);
    if (rc < 0) {
        rte_tel_data_free(child);
    }
    return rc;
}

int add_fields_container(rte_tel_data* d, const char* name, const Fields& fs) {
    rte_tel_data* c = rte_tel_data_alloc();
    if (c == nullptr) {
        return -ENOMEM;
    }
    rte_tel_data_start_dict(c);
    if (const int rc = add_fields(c, fs); rc < 0) {
        rte_tel_data_free(c);
        return rc;
    }
    return add_container(d, name, c);
}

/// Adds an array of strings, as many as fit `*budget` bytes; returns how many were added.
std::size_t add_strings_container(rte_tel_data* d, const char* name,
                                  const std::vector<std::string>& v, std::size_t* budget) {
    rte_tel_data* c = rte_tel_data_alloc();
    if (c == nullptr) {
        return 0;
    }
    rte_tel_data_start_array(c, RTE_TEL_STRING_VAL);
    std::size_t added = 0;
    for (const std::string& s : v) {
        const std::size_t size = s.size() + 3; // "s",
        if (size > *budget || added == RTE_TEL_MAX_ARRAY_ENTRIES ||
            rte_tel_data_add_array_string(c, s.c_str()) < 0) {
            break;
        }
        *budget -= size;
        ++added;
    }
    if (add_container(d, name, c) < 0) {
        return 0;
    }
    return added;
}

TelemetrySource* source() {
    return g_source.load(std::memory_order_acquire);
}

int handle_states(const char* /*cmd*/, const char* params, rte_tel_data* d) {
    TelemetrySource* src = source();
    if (src == nullptr) {
        return -ENODEV;
    }
    const auto range = parse_worker_param(params, src->worker_count());
    if (!range) {
        return -EINVAL;
    }
    rte_tel_data_start_dict(d);
    return add_fields(d, states_model(*src, *range));
}

int handle_stats(const char* /*cmd*/, const char* params, rte_tel_data* d) {
    TelemetrySource* src = source();
    if (src == nullptr) {
        return -ENODEV;
    }
    const auto range = parse_worker_param(params, src->worker_count());
    if (!range) {
        return -EINVAL;
    }
    rte_tel_data_start_dict(d);
    for (const Section& s : stats_model(*src, *range)) {
        const std::string name{s.name};
        if (const int rc = add_fields_container(d, name.c_str(), s.fields); rc < 0) {
            return rc;
        }
    }
    return 0;
}

int handle_workers(const char* /*cmd*/, const char* /*params*/, rte_tel_data* d) {
    TelemetrySource* src = source();
    if (src == nullptr) {
        return -ENODEV;
    }
    const WorkersModel m = workers_model(*src, kReplyBudget);
    rte_tel_data_start_dict(d);
    for (const WorkerRow& row : m.rows) {
        const std::string key = std::to_string(row.index);
        if (const int rc = add_fields_container(d, key.c_str(), row.fields); rc < 0) {
            return rc;
        }
    }
    if (m.omitted != 0) {
        rte_tel_data_add_dict_u64(d, "omitted", m.omitted);
    }
    return 0;
}

int handle_conns(const char* /*cmd*/, const char* params, rte_tel_data* d) {
    TelemetrySource* src = source();
    if (src == nullptr) {
        return -ENODEV;
    }
    const auto filter = parse_state_param(params);
    if (!filter) {
        return -EINVAL;
    }
    const ConnsModel m = conns_model(*src, *filter, kConnsTimeout, kMaxConnsListed);
    rte_tel_data_start_dict(d);
    const std::string state{m.filter.any ? "all" : tcp::state_name(m.filter.state)};
    rte_tel_data_add_dict_string(d, "state", state.c_str());
    rte_tel_data_add_dict_u64(d, "total", m.total);
    // Errors first: they are few, and they say why "total" may be short.
    std::size_t budget = kReplyBudget;
    add_strings_container(d, "errors", m.errors, &budget);
    const std::size_t returned = add_strings_container(d, "conns", m.conns, &budget);
    rte_tel_data_add_dict_u64(d, "returned", returned);
    return 0;
}

struct CommandDef {
    const char* name;
    telemetry_cb fn;
    const char* help;
};

constexpr std::array kCommands{
    CommandDef{"/tcpterm/states", handle_states,
               "Connections per TCP state, summed over workers. Parameter: worker index "
               "(optional)"},
    CommandDef{"/tcpterm/stats", handle_stats,
               "TCP counters, timers, RSTs, drops, transitions, worker load; summed. Parameter: "
               "worker index (optional)"},
    CommandDef{"/tcpterm/workers", handle_workers,
               "Per-worker load: lcore, loops, busy/idle cycles, busy_percent, packets, "
               "cycles_per_packet"},
    CommandDef{"/tcpterm/conns", handle_conns,
               "Connections (at most 256 listed, total counts all). Parameter: state, e.g. "
               "time_wait; none = all"},
};

// rte_telemetry_register_cmd refuses help text of RTE_TEL_MAX_STRING_LEN characters or more.
static_assert(std::all_of(kCommands.begin(), kCommands.end(), [](const CommandDef& c) {
    return std::char_traits<char>::length(c.help) < RTE_TEL_MAX_STRING_LEN;
}));

} // namespace

bool register_telemetry(TelemetrySource& src) {
    // rte_telemetry 22.11 cannot unregister or replace a command: register once, then only the
    // source changes.
    static std::once_flag once;
    static bool ok = false;
    g_source.store(&src, std::memory_order_release);
    std::call_once(once, [] {
        ok = true;
        for (const CommandDef& c : kCommands) {
            if (rte_telemetry_register_cmd(c.name, c.fn, c.help) != 0) {
                ok = false;
            }
        }
    });
    return ok;
}

} // namespace tcpterm::engine
