// The /tcpterm/... telemetry models, built from a FakeSource without the telemetry socket: sums
// over workers, state counts, section sizes against rte_telemetry's limits, parameter parsing,
// worker load arithmetic and the connection list (bounded, with workers that do not answer).
//
// The models have internal linkage (they are telemetry.cpp's business, not the engine's API), so
// this file includes the source itself.
#include "engine/telemetry.cpp"

#include "fake_source.hpp"

#include <catch2/catch.hpp>

#include <limits>
#include <map>

using namespace tcpterm;
using namespace tcpterm::engine;
using tcp::State;
using tcpterm::test::FakeSource;
using tcpterm::test::ip;

namespace {

std::map<std::string, std::uint64_t> as_map(const Fields& fs) {
    std::map<std::string, std::uint64_t> m;
    for (const Field& f : fs) {
        REQUIRE(m.emplace(f.key, f.value).second); // no key twice
    }
    return m;
}

const Section& section(const std::vector<Section>& s, std::string_view name) {
    for (const Section& x : s) {
        if (x.name == name) {
            return x;
        }
    }
    FAIL("no section " << name);
    return s.front();
}

void set_state(tcp::TcpStats& s, State st, std::int64_t n) {
    s.states[static_cast<std::size_t>(st)] = n;
}

/// Two workers with chosen numbers.
void fill_two_workers(FakeSource& src) {
    REQUIRE(src.worker_count() == 2);
    auto& a = src.workers[0].stats;
    auto& b = src.workers[1].stats;
    set_state(a, State::established, 5);
    set_state(b, State::established, 2);
    set_state(a, State::time_wait, 100);
    set_state(b, State::time_wait, 23);
    set_state(a, State::close_wait, 4);
    set_state(b, State::fin_wait2, 9);
    set_state(a, State::listen, 1);
    set_state(b, State::listen, 1);
    set_state(a, State::closed, 77); // must not show: a closed connection does not exist
    a[tcp::Counter::segs_in] = 1000;
    b[tcp::Counter::segs_in] = 234;
    b[tcp::Counter::tw_reused] = 3;
    a.expiry(tcp::TimerKind::fin_wait2) = 6;
    b.expiry(tcp::TimerKind::fin_wait2) = 1;
    a.rst(tcp::RstReason::app_abort) = 2;
    b.rst(tcp::RstReason::close_unread) = 5;
    b.rst_received[static_cast<std::size_t>(State::established)] = 8;
    a.drop(tcp::TcpDrop::out_of_window) = 11;
    b.drop(tcp::TcpDrop::out_of_window) = 1;
    b.net_drops[static_cast<std::size_t>(net::NetDrop::bad_tcp_csum)] = 4;
    a.transitions[static_cast<std::size_t>(State::established)]
                 [static_cast<std::size_t>(State::fin_wait1)] = 7;
    b.transitions[static_cast<std::size_t>(State::established)]
                 [static_cast<std::size_t>(State::fin_wait1)] = 3;
    b.transitions[static_cast<std::size_t>(State::close_wait)]
                 [static_cast<std::size_t>(State::last_ack)] = 1;
    src.workers[0].load.rx_packets = 300;
    src.workers[1].load.rx_packets = 200;
    src.workers[0].load.syn_refused_backpressure = 9;
    src.workers[0].load.loss_states = 5;
    src.workers[1].load.loss_states = 2;
    src.workers[1].load.loss_states_peak = 40;
}

ConnInfo conn(std::uint32_t raddr, std::uint16_t rport, State st, std::uint16_t worker) {
    return ConnInfo{ip(10, 0, 0, 1), raddr, 80, rport, st, 10, 20, worker};
}

} // namespace

TEST_CASE("states: per-state counts summed over workers, closed is 0", "[telemetry]") {
    FakeSource src(2);
    fill_two_workers(src);
    const Fields f = states_model(src, {0, 2});
    REQUIRE(f.size() == tcp::kStateCount);
    // Enum order, enum names.
    CHECK(f.front().key == "closed");
    CHECK(f.back().key == "time_wait");
    auto m = as_map(f);
    CHECK(m["closed"] == 0);
    CHECK(m["listen"] == 2);
    CHECK(m["established"] == 7);
    CHECK(m["time_wait"] == 123);
    CHECK(m["close_wait"] == 4);
    CHECK(m["fin_wait2"] == 9);
    CHECK(m["syn_recv"] == 0);
}

TEST_CASE("states: one worker by parameter, gauges clamped at 0", "[telemetry]") {
    FakeSource src(2);
    fill_two_workers(src);
    set_state(src.workers[1].stats, State::syn_recv, -1); // read mid-update
    const auto r = parse_worker_param("1", src.worker_count());
    REQUIRE(r);
    auto m = as_map(states_model(src, *r));
    CHECK(m["established"] == 2);
    CHECK(m["time_wait"] == 23);
    CHECK(m["syn_recv"] == 0);

    CHECK(parse_worker_param(nullptr, 2)->last == 2);
    CHECK(parse_worker_param("", 2)->first == 0);
    CHECK(parse_worker_param(" 0 ", 2)->last == 1);
    CHECK_FALSE(parse_worker_param("2", 2));
    CHECK_FALSE(parse_worker_param("-1", 2));
    CHECK_FALSE(parse_worker_param("x", 2));
    CHECK_FALSE(parse_worker_param("99999999999999999999999", 2));
}

TEST_CASE("stats: every counter summed, under its section and key", "[telemetry]") {
    FakeSource src(2);
    fill_two_workers(src);
    const auto s = stats_model(src, {0, 2});
    std::vector<std::string_view> names;
    for (const Section& x : s) {
        names.push_back(x.name);
    }
    CHECK(names == std::vector<std::string_view>{"counters", "timers", "rst_sent", "rst_received",
                                                 "drops", "net_drops", "transitions", "worker"});

    auto counters = as_map(section(s, "counters").fields);
    CHECK(counters.size() == tcp::count_of<tcp::Counter>());
    CHECK(counters["segs_in"] == 1234);
    CHECK(counters["tw_reused"] == 3);
    CHECK(counters["mbuf_exhausted"] == 0);

    auto timers = as_map(section(s, "timers").fields);
    CHECK(timers.size() == tcp::count_of<tcp::TimerKind>());
    CHECK(timers["timer_fin_wait2"] == 7);
    CHECK(timers.count("timer_user_timeout") == 1);

    auto rst = as_map(section(s, "rst_sent").fields);
    CHECK(rst.size() == tcp::count_of<tcp::RstReason>());
    CHECK(rst["rst_sent_app_abort"] == 2);
    CHECK(rst["rst_sent_close_unread"] == 5);

    auto rst_in = as_map(section(s, "rst_received").fields);
    CHECK(rst_in.size() == tcp::kStateCount);
    CHECK(rst_in["rst_received_established"] == 8);

    auto drops = as_map(section(s, "drops").fields);
    CHECK(drops.size() == tcp::count_of<tcp::TcpDrop>());
    CHECK(drops["drop_out_of_window"] == 12);

    auto net_drops = as_map(section(s, "net_drops").fields);
    CHECK(net_drops.size() == net::kNetDropCount - 1); // not "none"
    CHECK(net_drops.count("net_drop_none") == 0);
    CHECK(net_drops["net_drop_bad_tcp_csum"] == 4);

    // Transitions: only the non-zero ones.
    auto trans = as_map(section(s, "transitions").fields);
    CHECK(trans.size() == 2);
    CHECK(trans["trans_established_fin_wait1"] == 10);
    CHECK(trans["trans_close_wait_last_ack"] == 1);

    auto worker = as_map(section(s, "worker").fields);
    CHECK(worker.size() == kSummedLoad.size());
    CHECK(worker["worker_rx_packets"] == 500);
    CHECK(worker["worker_syn_refused_backpressure"] == 9);
    CHECK(worker["worker_loss_states"] == 7);
    CHECK(worker["worker_loss_states_peak"] == 40);
    CHECK(worker.count("worker_lcore") == 0);

    // One worker only.
    auto one = as_map(section(stats_model(src, {1, 2}), "counters").fields);
    CHECK(one["segs_in"] == 234);
}

TEST_CASE("stats: the worst case fits rte_telemetry's limits", "[telemetry]") {
    // Every counter at its maximum and every transition non-zero: no section over
    // RTE_TEL_MAX_DICT_ENTRIES, no key over the name limit, and the reply under 16 KiB.
    FakeSource src(1);
    auto& st = src.workers[0].stats;
    constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
    st.counters.fill(kMax);
    st.timer_expiries.fill(kMax);
    st.rst_sent.fill(kMax);
    st.rst_received.fill(kMax);
    st.drops.fill(kMax);
    st.net_drops.fill(kMax);
    for (auto& row : st.transitions) {
        row.fill(kMax);
    }
    std::size_t reply = 32;
    for (const Section& s : stats_model(src, {0, 1})) {
        CHECK(s.fields.size() <= RTE_TEL_MAX_DICT_ENTRIES);
        for (const Field& f : s.fields) {
            CHECK(f.key.size() < RTE_TEL_MAX_STRING_LEN);
        }
        reply += s.name.size() + 4 + json_size(s.fields);
    }
    CHECK(section(stats_model(src, {0, 1}), "transitions").fields.size() == 121);
    CHECK(reply < kMaxOutput);
}

TEST_CASE("workers: load per worker, busy_percent and cycles_per_packet", "[telemetry]") {
    FakeSource src(2);
    auto& a = src.workers[0].load;
    a.lcore = 3;
    a.loops = 1000;
    a.busy_cycles = 250;
    a.idle_cycles = 750;
    a.rx_packets = 20;
    a.tx_packets = 5;
    a.tx_dropped = 1;
    // Worker 1: idle, no packets: 0 %, and no division by zero.
    const WorkersModel m = workers_model(src, kReplyBudget);
    REQUIRE(m.rows.size() == 2);
    CHECK(m.omitted == 0);
    auto w0 = as_map(m.rows[0].fields);
    CHECK(w0["lcore"] == 3);
    CHECK(w0["loops"] == 1000);
    CHECK(w0["busy_percent"] == 25);
    CHECK(w0["cycles_per_packet"] == 10);
    CHECK(w0["rx_packets"] == 20);
    CHECK(w0["tx_packets"] == 5);
    CHECK(w0["tx_dropped"] == 1);
    CHECK(w0.size() == 9);
    auto w1 = as_map(m.rows[1].fields);
    CHECK(w1["lcore"] == 2);
    CHECK(w1["busy_percent"] == 0);
    CHECK(w1["cycles_per_packet"] == 0);

    // Huge counters do not overflow the percentage.
    a.busy_cycles = std::numeric_limits<std::uint64_t>::max() / 2;
    a.idle_cycles = a.busy_cycles;
    CHECK(as_map(workers_model(src, kReplyBudget).rows[0].fields)["busy_percent"] == 50);
}

TEST_CASE("workers: rows that do not fit the reply are counted, not cut", "[telemetry]") {
    FakeSource src(128);
    for (auto& w : src.workers) {
        w.load.loops = w.load.busy_cycles = w.load.idle_cycles = w.load.rx_packets =
            std::numeric_limits<std::uint64_t>::max() / 4;
    }
    const WorkersModel m = workers_model(src, kReplyBudget);
    CHECK(m.rows.size() + m.omitted == 128);
    CHECK(m.omitted > 0);
    std::size_t used = 0;
    for (const WorkerRow& r : m.rows) {
        used += json_size(r.fields) + 8;
    }
    CHECK(used <= kReplyBudget);
}

TEST_CASE("conns: the state parameter", "[telemetry]") {
    CHECK(parse_state_param(nullptr)->any);
    CHECK(parse_state_param("")->any);
    CHECK(parse_state_param("  ")->any);
    CHECK(parse_state_param("all")->any);
    auto tw = parse_state_param("time_wait");
    REQUIRE(tw);
    CHECK_FALSE(tw->any);
    CHECK(tw->state == State::time_wait);
    CHECK(parse_state_param("TIME-WAIT")->state == State::time_wait);
    CHECK(parse_state_param("estab")->state == State::established);
    CHECK(parse_state_param("established")->state == State::established);
    CHECK(parse_state_param("fin-wait-2")->state == State::fin_wait2);
    CHECK(parse_state_param("close_wait")->state == State::close_wait);
    CHECK(parse_state_param(" listen ")->state == State::listen);
    CHECK(parse_state_param("closed")->state == State::closed);
    CHECK_FALSE(parse_state_param("bogus"));
    CHECK_FALSE(parse_state_param("time_wait,1"));
    for (std::size_t i = 0; i < tcp::kStateCount; ++i) {
        const auto s = static_cast<State>(i);
        CHECK(parse_state_param(std::string{tcp::state_name(s)}.c_str())->state == s);
        CHECK(parse_state_param(std::string{tcp::state_ss_name(s)}.c_str())->state == s);
    }
}

TEST_CASE("conns: entries formatted, filtered by the workers, totals summed", "[telemetry]") {
    CHECK(format_conn(ConnInfo{ip(10, 0, 0, 1), ip(192, 168, 1, 254), 80, 51234, State::time_wait,
                               0, 7, 1}) == "10.0.0.1:80 192.168.1.254:51234 time_wait 0 7 1");
    CHECK(format_conn(ConnInfo{0xffffffff, 0xffffffff, 65535, 65535, State::established, 0xffffffff,
                               0xffffffff, 65535})
              .size() <= 84);

    FakeSource src(2);
    src.workers[0].conns = {conn(ip(10, 0, 0, 2), 1000, State::established, 0),
                            conn(ip(10, 0, 0, 3), 1001, State::time_wait, 0)};
    src.workers[1].conns = {conn(ip(10, 0, 0, 4), 1002, State::time_wait, 1)};

    const ConnsModel all = conns_model(src, StateFilter{}, ms(200), kMaxConnsListed);
    CHECK(all.total == 3);
    CHECK(all.errors.empty());
    CHECK(all.conns == std::vector<std::string>{"10.0.0.1:80 10.0.0.2:1000 established 10 20 0",
                                                "10.0.0.1:80 10.0.0.3:1001 time_wait 10 20 0",
                                                "10.0.0.1:80 10.0.0.4:1002 time_wait 10 20 1"});

    const ConnsModel tw = conns_model(src, *parse_state_param("time-wait"), ms(200), 256);
    CHECK(tw.total == 2);
    CHECK(tw.conns.size() == 2);
    CHECK(tw.filter.state == State::time_wait);
}

TEST_CASE("conns: bounded list, real total", "[telemetry]") {
    FakeSource src(2);
    for (std::uint16_t w = 0; w < 2; ++w) {
        for (std::uint32_t i = 0; i < 1000; ++i) {
            src.workers[w].conns.push_back(conn(
                ip(10, 1, 0, 0) + i, static_cast<std::uint16_t>(1024 + i), State::time_wait, w));
        }
    }
    const ConnsModel m = conns_model(src, StateFilter{}, ms(200), kMaxConnsListed);
    CHECK(m.total == 2000);
    CHECK(m.conns.size() == kMaxConnsListed);
    // The second worker was asked with no room left: it counts, lists nothing.
    CHECK(m.conns.back().ends_with(" 0"));

    // The reply keeps what fits its budget.
    std::size_t budget = kReplyBudget;
    std::size_t bytes = 0;
    std::size_t n = 0;
    for (const std::string& s : m.conns) {
        if (bytes + s.size() + 3 > budget) {
            break;
        }
        bytes += s.size() + 3;
        ++n;
    }
    CHECK(n > 100); // a useful sample even with the longest addresses
}

TEST_CASE("conns: a worker that does not answer is reported; its request is kept until done",
          "[telemetry]") {
    FakeSource src(2);
    src.workers[0].conns = {conn(ip(10, 0, 0, 2), 1000, State::established, 0)};
    src.workers[1].conns = {conn(ip(10, 0, 0, 3), 1001, State::established, 1)};
    src.workers[1].answers = false;
    const std::size_t before = pending().size();

    ConnsModel m = conns_model(src, StateFilter{}, ms(200), kMaxConnsListed);
    CHECK(m.total == 1);
    CHECK(m.conns.size() == 1);
    CHECK(m.errors == std::vector<std::string>{"worker 1: no answer"});
    CHECK(src.commands_run == 2);
    // The worker may still write into the command: it is kept, not freed.
    CHECK(pending().size() == before + 1);

    // Asked again, until kMaxPending requests are outstanding; then no more.
    while (pending().size() < Pending::kMaxPending) {
        m = conns_model(src, StateFilter{}, ms(200), kMaxConnsListed);
        CHECK(m.errors == std::vector<std::string>{"worker 1: no answer"});
    }
    const std::size_t runs = src.commands_run;
    m = conns_model(src, StateFilter{}, ms(200), kMaxConnsListed);
    CHECK(src.commands_run == runs + 1); // worker 0 only
    CHECK(m.total == 1);
    CHECK(m.errors ==
          std::vector<std::string>{"worker 1: no answer (earlier requests still pending)"});

    // Once the worker has answered the old requests, they are freed and it is asked again.
    src.answer_late();
    src.workers[1].answers = true;
    m = conns_model(src, StateFilter{}, ms(200), kMaxConnsListed);
    CHECK(m.errors.empty());
    CHECK(m.total == 2);
    CHECK(pending().size() == 0);
}
