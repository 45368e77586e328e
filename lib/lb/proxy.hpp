// The load balancer's data path: one LbWorker per worker core, a full proxy. A client connection
// accepted on a virtual server gets a Session, a member of the pool (scheduler.hpp), and a second
// TCP connection from this core to that member, from a local port whose replies come back to this
// core (engine::LocalPorts). Bytes move between the two legs as mbufs (recv_mbuf -> send_mbuf, no
// copy), and never faster than the receiving leg's send buffer takes them: a slow reader on one
// side leaves the bytes in the other side's receive queue, whose window then closes. Close is
// carried across (docs/load-balancer.md):
//   - a FIN on one leg becomes shutdown(WR) on the other once every byte before it is relayed;
//     the half-close is kept until the other side closes too, then both legs are closed;
//   - a RST on one leg resets the other (on_reset = "reset") or closes it gracefully ("fin");
//   - a timeout on one leg resets the other when that leg's profile says reset_on_timeout, else
//     closes it gracefully;
//   - a backend that refuses or does not answer within connect_timeout is replaced by another
//     member, up to connect_retries times, then the client is reset.
// Member state (admin up/down/drain, health) lives in Shared, written by the control thread and by
// worker 0's health checks and published by bumping a generation; each worker notices the new
// generation in poll() and rebuilds its own scheduler copy: no locks, no shared writes on the
// data path.
#pragma once

#include "base/pool.hpp"
#include "engine/app.hpp"
#include "engine/config.hpp"
#include "engine/local_ports.hpp"
#include "lb/counters.hpp"
#include "lb/scheduler.hpp"
#include "tcp/api.hpp"

#include <boost/intrusive/list.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace tcpterm::tcp {
class TcpStack;
struct Tcb;
} // namespace tcpterm::tcp

namespace tcpterm::lb {

namespace bi = boost::intrusive;

/// Why the last health check of a member ended as it did.
enum class CheckResult : std::uint8_t { none, ok, refused, timeout, reset, bad_status, no_port };
[[nodiscard]] std::string_view check_result_name(CheckResult r) noexcept;

/// One member's state shared by every worker and the control thread.
struct MemberShared {
    std::atomic<std::uint8_t> admin{0}; // engine::MemberAdmin
    std::atomic<bool> healthy{true};    // members start up; checks take them down after fall
    std::atomic<std::uint8_t> last{0};  // CheckResult of the last check
    std::atomic<std::uint64_t> last_check_ns{0};
    std::atomic<std::uint64_t> checks_ok{0};
    std::atomic<std::uint64_t> checks_failed{0};
};

/// What the scheduler may do with a member: its admin state, and health when admin is up.
[[nodiscard]] MemberState effective(const MemberShared& m) noexcept;
/// Member state arrays for a configuration's pools, [pool][member], admin from the config.
std::vector<std::unique_ptr<MemberShared[]>> make_member_states(const engine::EngineConfig& cfg);

/// Signals from the control plane and worker 0 to every worker.
struct Shared {
    std::atomic<std::uint64_t> generation{1}; // bumped on every member state change
    std::atomic<std::uint64_t> clock_ns{0};   // worker 0's clock, for the age of last_check_ns
    void publish() noexcept { generation.fetch_add(1, std::memory_order_release); }
};

/// One member's counters as a worker sees them (telemetry snapshot).
struct MemberSnapshot {
    std::uint32_t address = 0;
    std::uint16_t port = 0;
    std::array<std::uint64_t, MemberCounters::kSize> counters{};
};

struct VirtualServerRt;

struct Session {
    using Hook = bi::list_member_hook<bi::link_mode<bi::auto_unlink>>;
    Hook connect_hook; // on the virtual server's connecting list while the backend SYN is out
    Hook member_hook;  // on the member's session list while the backend leg exists
    Hook all_hook;     // on the worker's list of live sessions (teardown)
    tcp::Tcb* client = nullptr;
    tcp::Tcb* server = nullptr;
    VirtualServerRt* vs = nullptr;
    int member = -1;
    std::uint8_t tries = 0;
    bool connected = false; // backend leg established
    bool c2s_fin = false;   // client FIN relayed (backend leg shut for writing)
    bool s2c_fin = false;   // backend FIN relayed
    Nanos deadline = 0;     // backend connect deadline
};

using SessionList =
    bi::list<Session, bi::member_hook<Session, Session::Hook, &Session::connect_hook>,
             bi::constant_time_size<false>>;
using AllSessions = bi::list<Session, bi::member_hook<Session, Session::Hook, &Session::all_hook>,
                             bi::constant_time_size<false>>;
using MemberSessions =
    bi::list<Session, bi::member_hook<Session, Session::Hook, &Session::member_hook>,
             bi::constant_time_size<false>>;

struct PoolRt {
    const engine::PoolConfig* cfg = nullptr;
    std::size_t index = 0;
    MemberShared* shared = nullptr; // [member], owned by the LoadBalancer
    Scheduler sched;
    std::unique_ptr<MemberCounters[]> counters;
    std::unique_ptr<MemberSessions[]> sessions;
    std::vector<MemberState> state; // as last applied
    PoolRt(const engine::PoolConfig& c, std::size_t i, MemberShared* states);
};

class LbWorker;

struct VirtualServerRt final : tcp::ListenHandler {
    LbWorker* app = nullptr;
    const engine::VirtualServerConfig* cfg = nullptr;
    PoolRt* pool = nullptr;
    const engine::ProfileConfig* client_profile = nullptr;
    const engine::ProfileConfig* server_profile = nullptr;
    tcp::Listener* listener = nullptr;
    SessionList connecting;
    VsCounters counters;
    void on_acceptable(tcp::Listener& l) override;
};

class HealthChecker;

class LbWorker final : public engine::WorkerApp, public tcp::ConnHandler {
public:
    /// `states`: the member state array of each pool of the engine's configuration.
    LbWorker(engine::WorkerHost& host, Shared& shared, const std::vector<MemberShared*>& states);
    ~LbWorker() override;
    LbWorker(const LbWorker&) = delete;
    LbWorker& operator=(const LbWorker&) = delete;

    // WorkerApp
    void poll(Nanos now) noexcept override;
    void stop_accept() noexcept override;

    // ConnHandler (both legs of every session)
    void on_connected(tcp::Tcb& c) override;
    void on_readable(tcp::Tcb& c) override;
    void on_peer_fin(tcp::Tcb& c) override;
    void on_writable(tcp::Tcb& c) override;
    void on_closed(tcp::Tcb& c, int err) override;

    void accept(VirtualServerRt& vs) noexcept;

    /// Reload (control command, on this worker's lcore): pools from `cfg` (same pool names as
    /// running; virtual servers and profiles are not reloaded). Sessions move to the member with
    /// the same address:port; sessions of removed members go on unaccounted to any member until
    /// they end. Allocates: a control-plane operation between bursts.
    void reload(const engine::EngineConfig& cfg, const std::vector<MemberShared*>& states);
    /// Member counters of pool `pool` (control command; `out` is replaced).
    void snapshot(std::size_t pool, std::vector<MemberSnapshot>& out) const;

    // Read by telemetry (counters are atomics; the vectors do not change after construction).
    [[nodiscard]] const std::vector<std::unique_ptr<VirtualServerRt>>& virtual_servers() const {
        return vs_;
    }
    [[nodiscard]] const std::vector<std::unique_ptr<PoolRt>>& pools() const { return pools_; }
    [[nodiscard]] std::size_t sessions() const noexcept { return sessions_.in_use(); }
    [[nodiscard]] const engine::LocalPorts& local_ports() const noexcept { return ports_; }
    [[nodiscard]] engine::WorkerHost& host() noexcept { return host_; }

private:
    tcp::TcpStack& stack() noexcept;
    int pick(VirtualServerRt& vs, std::uint32_t client, int exclude) noexcept;
    bool start_connect(Session& s) noexcept;
    void connect_failed(Session& s, int err) noexcept;
    bool pump(Session& s, bool c2s) noexcept;
    void leg_gone(Session& s, bool client_leg, int err) noexcept;
    void close_gracefully(tcp::Tcb& c) noexcept;
    void abort_leg(Session& s, bool client_leg) noexcept;
    void drop_server_leg(Session& s) noexcept;
    bool maybe_finish(Session& s) noexcept;
    void maybe_free(Session& s) noexcept;
    void refresh_members() noexcept;
    void update_gate(VirtualServerRt& vs) noexcept;

    engine::WorkerHost& host_;
    Shared& shared_;
    std::vector<std::unique_ptr<PoolRt>> pools_;
    std::vector<std::unique_ptr<VirtualServerRt>> vs_;
    ObjectPool<Session> sessions_;
    AllSessions all_;
    engine::LocalPorts ports_;
    std::unique_ptr<HealthChecker> health_;                        // worker 0 only
    std::vector<std::unique_ptr<PoolRt>> retired_;                 // replaced by a reload
    std::vector<std::unique_ptr<HealthChecker>> retired_checkers_; // their connections are gone
    std::uint64_t seen_generation_ = 0;
    bool stopping_ = false;
};

} // namespace tcpterm::lb
