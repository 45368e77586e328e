// The scenario harness: the TCP core in-process with an in-memory wire, a ManualClock and a
// scripted peer. A scenario reads like a packetdrill script:
//
//   sc.peer(kSyn, 1000, 0, {.mss = 1460});           // peer sends S seq 1000 <mss 1460>
//   sc.expect(kSyn | kAck, sc.e(0), 1001);           // engine answers S. with ack 1001
//   sc.advance(sec(60));                             // time moves only when told
//   sc.expect_none();                                // and nothing else was sent
//
// Every segment the engine emits is queued and must be consumed by expect(); expect_none() and
// the destructor fail on anything unexpected. Engine sequence numbers are written relative to
// its ISS (e(n) = ISS + n), peer ones absolutely, as packetdrill does. tamper() lets a test drop,
// duplicate or reorder the engine's segments before they are inspected or delivered.
#pragma once

#include "base/clock.hpp"
#include "net/packet.hpp"
#include "tcp/stack.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

struct rte_mbuf;
struct rte_mempool;

namespace tcpterm::test {

using namespace tcpterm::net;
using tcp::State;

/// A segment the engine emitted, parsed.
struct Out {
    std::uint8_t flags = 0;
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint16_t window = 0;
    std::string payload;
    TcpOptions opts;
    FourTuple tuple; // as seen by the receiver (laddr = peer)
    std::string str() const;
};

struct PeerOpts {
    std::uint16_t win = 65535;
    std::uint16_t mss = 0; // 0 = no MSS option
    int wscale = -1;       // -1 = no window scale option
    bool ts = false;
    std::uint32_t ts_val = 0;
    std::uint32_t ts_ecr = 0;
    std::string data;
    bool sack_perm = false;        // SACK-permitted in a SYN
    std::vector<SackBlock> sack{}; // SACK blocks (left, right), absolute sequence numbers
};

/// Records what the application sees; optionally accepts and reads automatically.
struct App : tcp::ConnHandler, tcp::ListenHandler {
    tcp::TcpStack* stack = nullptr;
    bool auto_accept = true;
    bool auto_read = true;
    std::vector<tcp::Tcb*> conns;
    std::string received;
    int connected = 0;
    int readable = 0;
    int peer_fins = 0;
    int writable = 0;
    int closed = 0;
    int last_error = -1;
    tcp::Tcb* last_closed = nullptr;
    std::function<void(tcp::Tcb&)> on_fin_hook;

    void on_acceptable(tcp::Listener& l) override;
    void on_connected(tcp::Tcb& c) override;
    void on_readable(tcp::Tcb& c) override;
    void on_peer_fin(tcp::Tcb& c) override;
    void on_writable(tcp::Tcb&) override { ++writable; }
    void on_closed(tcp::Tcb& c, int err) override;
};

struct PoolHolder {
    rte_mempool* mp;
    ~PoolHolder(); // checks that every mbuf came back, then frees the pool
};

class Scenario : tcp::SegmentSink {
public:
    static constexpr std::uint32_t kEngineIp = 0xC6120002u; // 198.18.0.2
    static constexpr std::uint32_t kPeerIp = 0xC6120001u;   // 198.18.0.1
    static constexpr std::uint16_t kEnginePort = 80;
    static constexpr std::uint16_t kPeerPort = 40000;

    explicit Scenario(tcp::StackConfig cfg = defaults(), bool listen = true);
    ~Scenario() override;
    Scenario(const Scenario&) = delete;
    Scenario& operator=(const Scenario&) = delete;

    static tcp::StackConfig defaults();

    // ---- the scripted peer ----
    /// The peer sends a segment (peer port kPeerPort unless `port` is given).
    void peer(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack, PeerOpts o = {},
              std::uint16_t port = kPeerPort);
    /// Delivers a raw IPv4 packet.
    void inject(rte_mbuf* m);

    // ---- the engine's output ----
    /// Pops the next emitted segment and checks flags, seq and ack; returns it for more checks.
    Out expect(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack);
    /// Pops the next emitted segment whatever it is.
    Out next();
    /// Fails if the engine emitted anything not consumed yet.
    void expect_none();
    [[nodiscard]] std::size_t pending() const { return out_.size(); }
    /// Applied to every segment as it is emitted: return false to drop it (lost on the wire).
    std::function<bool(const Out&)> tamper;

    /// Engine sequence number ISS + n (ISS learned from its first SYN).
    [[nodiscard]] std::uint32_t e(std::uint32_t n) const { return iss_ + n; }
    /// Sets ISS; 0 means: learn it again from the engine's next SYN.
    void set_iss(std::uint32_t iss) {
        iss_ = iss;
        iss_known_ = iss != 0;
    }

    // ---- time ----
    void advance(Nanos d);
    [[nodiscard]] Nanos now() const { return clock_.now(); }

    // ---- shortcuts ----
    /// Peer connects (SYN, SYN-ACK, ACK) with the given peer ISN; returns the accepted Tcb.
    tcp::Tcb* handshake(std::uint32_t peer_isn = 1000, PeerOpts syn = {.mss = 1460});
    /// The engine connects to the peer; returns the Tcb in SYN_SENT after checking the SYN.
    tcp::Tcb* engine_connect(std::uint16_t lport = 50000);
    [[nodiscard]] State state(std::uint16_t peer_port = kPeerPort);
    [[nodiscard]] std::size_t tw_count() { return stack.time_wait_count(); }
    [[nodiscard]] const tcp::TcpStats& stats() const { return stack.stats(); }
    [[nodiscard]] FourTuple tuple(std::uint16_t peer_port = kPeerPort,
                                  std::uint16_t eng_port = kEnginePort) const;

    rte_mempool* pool() const { return mp_; }
    [[nodiscard]] unsigned mbufs_in_use() const;

    ManualClock clock_;
    PoolHolder holder_;
    rte_mempool* mp_;
    tcp::TcpStack stack;
    App app;
    tcp::Listener* listener = nullptr;

private:
    void emit(rte_mbuf* m) override;

    std::deque<Out> out_;
    std::uint32_t iss_ = 0;
    bool iss_known_ = false;
};

/// Flag names like packetdrill's ("S.", "F.", "R", "P.")
std::string flags_str(std::uint8_t f);

} // namespace tcpterm::test
