// Shared pieces of the reliability proofs (issue #8): an mbuf pool that must come back to its
// starting level, the four-tuples, a seeded fault schedule for the Link's tamper hook, spoofed
// segments, and an echo protocol whose two ends both check every byte.
//
// The echo protocol: the client sends one message, a 16-byte header (magic, id, payload length,
// mode) and the payload; the server echoes every byte and hashes what it received (FNV-1a); the
// client compares the echo with what it sent, byte for byte and by the same checksum. The mode
// says who closes first, whether each side closes with close() (an orphan: no more callbacks) or
// shutdown(WR) (the application hears on_peer_fin and on_closed(0)), and whether a client that
// shuts down first does so before the echo is in. Both ends record what they saw, and the tests
// compare it with what each mode must produce.
#pragma once

#include "../common/link.hpp"
#include "net/packet.hpp"
#include "tcp/stack.hpp"

#include <catch2/catch.hpp>

#include <rte_byteorder.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace tcpterm::rel {

using test::Link;

inline constexpr std::uint32_t kServerIp = 0xC6120002u;     // 198.18.0.2
inline constexpr std::uint32_t kClientIpBase = 0xC6120100u; // 198.18.1.0, .1, ...
inline constexpr std::uint16_t kServerPort = 80;
inline constexpr std::uint32_t kPortsPerIp = 50'000; // client ports 10000..59999 per address

/// A dedicated mbuf pool; on destruction every mbuf must be back (checked, then freed).
struct Pool {
    rte_mempool* mp;
    unsigned start_in_use;
    Pool(const char* name, unsigned n, unsigned cache)
        : mp(rte_pktmbuf_pool_create(name, n, cache, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY)),
          start_in_use(0) {
        REQUIRE(mp != nullptr);
        start_in_use = rte_mempool_in_use_count(mp);
    }
    ~Pool() {
        CHECK(rte_mempool_in_use_count(mp) == start_in_use);
        rte_mempool_free(mp);
    }
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;
    [[nodiscard]] unsigned in_use() const { return rte_mempool_in_use_count(mp); }
};

/// Connection `id`'s four-tuple from the client's side (network order): 198.18.1.x:port ->
/// 198.18.0.2:80, unique for the first 12.75 million ids.
inline FourTuple client_tuple(std::uint32_t id) {
    FourTuple t;
    t.laddr = rte_cpu_to_be_32(kClientIpBase + id / kPortsPerIp);
    t.raddr = rte_cpu_to_be_32(kServerIp);
    t.lport = rte_cpu_to_be_16(static_cast<std::uint16_t>(10'000 + id % kPortsPerIp));
    t.rport = rte_cpu_to_be_16(kServerPort);
    return t;
}

inline FourTuple reversed(const FourTuple& t) {
    return {t.raddr, t.laddr, t.rport, t.lport};
}

/// The control block for a four-tuple (local view), or nullptr if absent or in TIME_WAIT.
inline tcp::Tcb* tcb_of(tcp::TcpStack& s, const FourTuple& t) {
    ConnEntry* e = s.lookup(t);
    return e == nullptr || e->tagged() ? nullptr : static_cast<tcp::Tcb*>(e);
}

/// A positive number from the environment (decimal, or 0x hex), `def` when unset or invalid.
inline std::uint64_t env_count(const char* name, std::uint64_t def) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') {
        return def;
    }
    char* end = nullptr;
    const unsigned long long n = std::strtoull(v, &end, 0);
    return end != nullptr && *end == '\0' && n > 0 ? n : def;
}

/// "ESTABLISHED=3 TIME_WAIT=2 ...": the states with connections in them (failure messages).
inline std::string states_summary(const tcp::TcpStats& s) {
    std::string out;
    for (std::size_t i = 0; i < tcp::kStateCount; ++i) {
        if (s.states[i] != 0) {
            out += std::string(tcp::state_name(static_cast<tcp::State>(i))) + "=" +
                   std::to_string(s.states[i]) + " ";
        }
    }
    return out;
}

/// Transitions into `to` from any state.
inline std::uint64_t transitions_to(const tcp::TcpStats& s, tcp::State to) {
    std::uint64_t n = 0;
    for (std::size_t from = 0; from < tcp::kStateCount; ++from) {
        n += s.transition(static_cast<tcp::State>(from), to);
    }
    return n;
}

inline constexpr std::uint64_t kFnvBasis = 0xcbf29ce484222325ull;
inline std::uint64_t fnv1a(std::uint64_t h, const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    for (std::size_t i = 0; i < n; ++i) {
        h = (h ^ b[i]) * 0x100000001b3ull;
    }
    return h;
}

// ---- the echo protocol ------------------------------------------------------------------------

inline constexpr std::uint32_t kMagic = 0x52454c31; // "REL1"
inline constexpr std::size_t kHeaderLen = 16;
// Mode bits.
inline constexpr std::uint32_t kServerFirst = 1; // the server closes first (else the client)
inline constexpr std::uint32_t kFirstClose = 2;  // the first closer uses close() (else shutdown)
inline constexpr std::uint32_t kSecondClose = 4; // the second closer uses close() (else shutdown)
/// A client that closes first with shutdown(WR) does so as soon as its message is sent, before
/// the echo is in: the echo then flows through the half-closed connection.
inline constexpr std::uint32_t kEarlyShutdown = 8;

/// Header + `len` bytes of random payload from a generator seeded with (seed, id).
inline std::string make_message(std::uint64_t seed, std::uint32_t id, std::uint32_t len,
                                std::uint32_t mode) {
    std::string m(kHeaderLen + len, '\0');
    const std::uint32_t h[4] = {kMagic, id, len, mode};
    std::memcpy(m.data(), h, sizeof h);
    std::mt19937_64 g(seed ^ (0x9E3779B97F4A7C15ull * (id + 1)));
    for (std::size_t i = kHeaderLen; i < m.size(); i += 8) {
        const std::uint64_t r = g();
        std::memcpy(m.data() + i, &r, std::min<std::size_t>(8, m.size() - i));
    }
    return m;
}

/// What each side of a connection must have seen, from its mode.
struct Expect {
    bool first;     // this side closes first
    bool use_close; // this side closes with close() (else shutdown(WR))
    /// on_peer_fin: everyone but a first closer that used close() (an orphan hears nothing).
    [[nodiscard]] bool fin() const { return !first || !use_close; }
    /// on_closed(0): whoever used shutdown(WR) (close() makes an orphan: no callback).
    [[nodiscard]] bool closed() const { return !use_close; }
};
inline Expect client_expect(std::uint32_t mode) {
    const bool first = (mode & kServerFirst) == 0;
    return {first, (mode & (first ? kFirstClose : kSecondClose)) != 0};
}
inline Expect server_expect(std::uint32_t mode) {
    const bool first = (mode & kServerFirst) != 0;
    return {first, (mode & (first ? kFirstClose : kSecondClose)) != 0};
}

/// Closes one side as its mode says; returns true if the connection became an orphan.
inline bool close_side(tcp::TcpStack& s, tcp::Tcb& c, bool use_close) {
    if (use_close) {
        s.close(c);
        return true;
    }
    REQUIRE(s.shutdown(c, tcp::Shutdown::wr) == 0);
    return false;
}

struct ServerConn {
    tcp::Tcb* c = nullptr; // nullptr once closed (orphan) or gone
    std::uint32_t id = 0xFFFFFFFF;
    std::uint32_t mode = 0;
    std::uint64_t total = 0; // header + payload, known once the header is in
    std::uint64_t received = 0;
    std::uint64_t hash = kFnvBasis;
    std::string head;
    std::string pending; // echo bytes send() did not take yet
    bool fin = false;
    bool closed_cb = false;
    int err = -1;
    bool i_closed = false;
    std::string error; // protocol violation seen
};

/// The server application: accepts, echoes, hashes, and closes as each message's mode says.
struct EchoServer : tcp::ConnHandler, tcp::ListenHandler {
    tcp::TcpStack* s = nullptr;
    std::deque<ServerConn> conns; // references stay valid as it grows
    std::uint64_t enobufs = 0;    // send() returned -ENOBUFS (retried later by poll())
    std::uint64_t closed_errors = 0;

    void on_acceptable(tcp::Listener& l) override {
        while (tcp::Tcb* c = s->accept(l, this)) {
            ServerConn& sc = conns.emplace_back();
            sc.c = c;
            c->user = &sc;
        }
    }
    void on_readable(tcp::Tcb& c) override {
        ServerConn& sc = *static_cast<ServerConn*>(c.user);
        char buf[4096];
        std::size_t n;
        while (sc.c != nullptr && (n = s->recv(c, buf, sizeof buf)) > 0) {
            feed(sc, buf, n);
        }
        flush(sc);
        maybe_close(sc);
    }
    void on_peer_fin(tcp::Tcb& c) override {
        ServerConn& sc = *static_cast<ServerConn*>(c.user);
        sc.fin = true;
        if (sc.total == 0 || sc.received != sc.total) {
            sc.error = "FIN before the whole message";
        }
        maybe_close(sc);
    }
    void on_closed(tcp::Tcb& c, int err) override {
        ServerConn& sc = *static_cast<ServerConn*>(c.user);
        sc.closed_cb = true;
        sc.err = err;
        sc.c = nullptr;
        if (err != 0) {
            ++closed_errors;
        }
    }
    /// Retries echo bytes that send() refused (mbuf pool empty) and the closes they held back.
    void poll() {
        for (ServerConn& sc : conns) {
            if (sc.c != nullptr && !sc.pending.empty()) {
                flush(sc);
                maybe_close(sc);
            }
        }
    }

    void feed(ServerConn& sc, const char* p, std::size_t n) {
        sc.hash = fnv1a(sc.hash, p, n);
        sc.received += n;
        if (sc.head.size() < kHeaderLen) {
            sc.head.append(p, std::min(n, kHeaderLen - sc.head.size()));
            if (sc.head.size() == kHeaderLen) {
                std::uint32_t h[4];
                std::memcpy(h, sc.head.data(), sizeof h);
                if (h[0] != kMagic) {
                    sc.error = "bad magic";
                }
                sc.id = h[1];
                sc.total = kHeaderLen + h[2];
                sc.mode = h[3];
            }
        }
        if (sc.total != 0 && sc.received > sc.total) {
            sc.error = "more bytes than the message";
        }
        sc.pending.append(p, n);
    }
    void flush(ServerConn& sc) {
        while (sc.c != nullptr && !sc.pending.empty()) {
            const long r = s->send(*sc.c, sc.pending.data(), sc.pending.size());
            if (r > 0) {
                sc.pending.erase(0, static_cast<std::size_t>(r));
                continue;
            }
            if (r == -ENOBUFS) {
                ++enobufs;
            } else if (r != 0) {
                sc.error = "send() failed: " + std::to_string(r);
            }
            break;
        }
    }
    void maybe_close(ServerConn& sc) {
        if (sc.c == nullptr || sc.i_closed || !sc.pending.empty() || sc.total == 0 ||
            sc.received != sc.total) {
            return;
        }
        const Expect e = server_expect(sc.mode);
        if (e.first || sc.fin) {
            sc.i_closed = true;
            tcp::Tcb* c = sc.c;
            if (close_side(*s, *c, e.use_close)) {
                sc.c = nullptr; // an orphan now: not ours to touch
            }
        }
    }
    /// "" if this connection saw exactly what its mode requires, else what went wrong.
    [[nodiscard]] static std::string verdict(const ServerConn& sc, std::uint64_t want_hash,
                                             std::uint64_t want_len) {
        if (!sc.error.empty()) {
            return sc.error;
        }
        if (sc.received != want_len || sc.total != want_len) {
            return "received " + std::to_string(sc.received) + " of " + std::to_string(want_len);
        }
        if (sc.hash != want_hash) {
            return "checksum differs";
        }
        const Expect e = server_expect(sc.mode);
        if (!sc.i_closed) {
            return "never closed";
        }
        if (sc.fin != e.fin()) {
            return sc.fin ? "unexpected on_peer_fin" : "no on_peer_fin";
        }
        if (sc.closed_cb != e.closed()) {
            return sc.closed_cb ? "unexpected on_closed" : "no on_closed";
        }
        if (sc.closed_cb && sc.err != 0) {
            return "on_closed error " + std::to_string(sc.err);
        }
        return {};
    }
};

struct ClientConn {
    tcp::Tcb* c = nullptr; // nullptr once closed (orphan) or gone
    std::uint32_t id = 0;
    std::uint32_t mode = 0;
    std::string msg;
    std::size_t sent = 0;
    std::size_t got = 0;
    std::size_t mismatch_at = SIZE_MAX; // first echo byte that differs
    std::uint64_t hash = kFnvBasis;     // FNV-1a of the echo received
    bool connected = false;
    bool fin = false;
    bool closed_cb = false;
    int err = -1;
    bool i_closed = false;
    std::string error;
};

/// The client application: sends each message (all at once, or `chunk` bytes per poll()),
/// checks the echo byte for byte, and closes as the mode says.
struct EchoClient : tcp::ConnHandler {
    tcp::TcpStack* s = nullptr;
    std::deque<ClientConn> conns;
    std::size_t chunk = 0; // 0: send everything as soon as connected
    std::uint64_t enobufs = 0;
    std::uint64_t closed_errors = 0;

    /// Opens connection `id` carrying `msg`; nullptr (with err) if connect() refused it.
    ClientConn* open(const FourTuple& t, std::uint32_t id, std::uint32_t mode, std::string msg,
                     int* err = nullptr) {
        ClientConn& cc = conns.emplace_back();
        cc.id = id;
        cc.mode = mode;
        cc.msg = std::move(msg);
        int e = 0;
        cc.c = s->connect(t, this, &e);
        if (err != nullptr) {
            *err = e;
        }
        if (cc.c == nullptr) {
            conns.pop_back();
            return nullptr;
        }
        cc.c->user = &cc;
        return &cc;
    }
    void on_connected(tcp::Tcb& c) override {
        ClientConn& cc = *static_cast<ClientConn*>(c.user);
        cc.connected = true;
        flush(cc);
    }
    void on_readable(tcp::Tcb& c) override {
        ClientConn& cc = *static_cast<ClientConn*>(c.user);
        char buf[4096];
        std::size_t n;
        while (cc.c != nullptr && (n = s->recv(c, buf, sizeof buf)) > 0) {
            if (cc.got + n > cc.msg.size()) {
                cc.error = "echo longer than the message";
                n = cc.msg.size() - cc.got;
            }
            if (cc.mismatch_at == SIZE_MAX && std::memcmp(buf, cc.msg.data() + cc.got, n) != 0) {
                for (std::size_t i = 0; i < n; ++i) {
                    if (buf[i] != cc.msg[cc.got + i]) {
                        cc.mismatch_at = cc.got + i;
                        break;
                    }
                }
            }
            cc.hash = fnv1a(cc.hash, buf, n);
            cc.got += n;
        }
        maybe_close(cc);
    }
    void on_peer_fin(tcp::Tcb& c) override {
        ClientConn& cc = *static_cast<ClientConn*>(c.user);
        cc.fin = true;
        if (cc.got != cc.msg.size()) {
            cc.error = "FIN before the whole echo";
        }
        maybe_close(cc);
    }
    void on_closed(tcp::Tcb& c, int err) override {
        ClientConn& cc = *static_cast<ClientConn*>(c.user);
        cc.closed_cb = true;
        cc.err = err;
        cc.c = nullptr;
        if (err != 0) {
            ++closed_errors;
        }
    }
    /// Sends the next chunk of every message not fully sent (and retries refused sends).
    void poll() {
        for (ClientConn& cc : conns) {
            if (cc.c != nullptr && cc.connected && cc.sent < cc.msg.size()) {
                flush(cc);
                maybe_close(cc);
            }
        }
    }

    void flush(ClientConn& cc) {
        const std::size_t limit = chunk == 0 ? cc.msg.size() : cc.sent + chunk;
        while (cc.c != nullptr && cc.sent < std::min(limit, cc.msg.size())) {
            const long r =
                s->send(*cc.c, cc.msg.data() + cc.sent, std::min(limit, cc.msg.size()) - cc.sent);
            if (r > 0) {
                cc.sent += static_cast<std::size_t>(r);
                continue;
            }
            if (r == -ENOBUFS) {
                ++enobufs;
            } else if (r != 0) {
                cc.error = "send() failed: " + std::to_string(r);
            }
            break;
        }
    }
    void maybe_close(ClientConn& cc) {
        if (cc.c == nullptr || cc.i_closed || cc.sent != cc.msg.size()) {
            return;
        }
        const Expect e = client_expect(cc.mode);
        const bool early = e.first && !e.use_close && (cc.mode & kEarlyShutdown) != 0;
        if ((e.first && (early || cc.got == cc.msg.size())) || (!e.first && cc.fin)) {
            cc.i_closed = true;
            tcp::Tcb* c = cc.c;
            if (close_side(*s, *c, e.use_close)) {
                cc.c = nullptr;
            }
        }
    }
    [[nodiscard]] static std::string verdict(const ClientConn& cc) {
        if (!cc.error.empty()) {
            return cc.error;
        }
        if (!cc.connected) {
            return "never connected";
        }
        if (cc.got != cc.msg.size()) {
            return "echo " + std::to_string(cc.got) + " of " + std::to_string(cc.msg.size());
        }
        if (cc.mismatch_at != SIZE_MAX) {
            return "echo differs at byte " + std::to_string(cc.mismatch_at);
        }
        if (cc.hash != fnv1a(kFnvBasis, cc.msg.data(), cc.msg.size())) {
            return "echo checksum differs";
        }
        const Expect e = client_expect(cc.mode);
        if (!cc.i_closed) {
            return "never closed";
        }
        if (cc.fin != e.fin()) {
            return cc.fin ? "unexpected on_peer_fin" : "no on_peer_fin";
        }
        if (cc.closed_cb != e.closed()) {
            return cc.closed_cb ? "unexpected on_closed" : "no on_closed";
        }
        if (cc.closed_cb && cc.err != 0) {
            return "on_closed error " + std::to_string(cc.err);
        }
        return {};
    }
};

/// Checks the client end of every connection (when the server is not an EchoServer).
inline std::size_t verify_clients(const EchoClient& cl, std::string& first) {
    std::size_t bad = 0;
    for (const ClientConn& cc : cl.conns) {
        const std::string v = EchoClient::verdict(cc);
        if (!v.empty()) {
            ++bad;
            if (first.empty()) {
                first = "connection " + std::to_string(cc.id) + " (mode " +
                        std::to_string(cc.mode) + "): client: " + v;
            }
        }
    }
    return bad;
}

/// Checks both ends of every connection of a run: each client's verdict, and the server
/// connection carrying the same id (matched through the header, on whichever of `servers`
/// accepted it) with the client's checksum. Returns the number of bad connections; `first`
/// describes the first one.
inline std::size_t verify_pairs(const EchoClient& cl, const std::vector<const EchoServer*>& servers,
                                std::string& first) {
    std::size_t bad = 0;
    std::unordered_map<std::uint32_t, const ServerConn*> by_id;
    std::size_t server_conns = 0;
    for (const EchoServer* sv : servers) {
        server_conns += sv->conns.size();
    }
    by_id.reserve(server_conns);
    for (const EchoServer* sv : servers) {
        for (const ServerConn& sc : sv->conns) {
            if (sc.id == 0xFFFFFFFF) {
                ++bad;
                if (first.empty()) {
                    first = "server connection without a header: " + sc.error;
                }
                continue;
            }
            if (!by_id.emplace(sc.id, &sc).second) {
                ++bad;
                if (first.empty()) {
                    first = "id " + std::to_string(sc.id) + " accepted twice";
                }
            }
        }
    }
    for (const ClientConn& cc : cl.conns) {
        std::string v = EchoClient::verdict(cc);
        if (v.empty()) {
            const auto it = by_id.find(cc.id);
            const ServerConn* sc = it == by_id.end() ? nullptr : it->second;
            v = sc == nullptr
                    ? std::string("no server connection")
                    : EchoServer::verdict(*sc, fnv1a(kFnvBasis, cc.msg.data(), cc.msg.size()),
                                          cc.msg.size());
            if (!v.empty()) {
                v = "server: " + v;
            }
        } else {
            v = "client: " + v;
        }
        if (!v.empty()) {
            ++bad;
            if (first.empty()) {
                first = "connection " + std::to_string(cc.id) + " (mode " +
                        std::to_string(cc.mode) + "): " + v;
            }
        }
    }
    if (server_conns != cl.conns.size()) {
        ++bad;
        if (first.empty()) {
            first = std::to_string(server_conns) + " server connections for " +
                    std::to_string(cl.conns.size()) + " clients";
        }
    }
    return bad;
}
inline std::size_t verify_pairs(const EchoClient& cl, const EchoServer& sv, std::string& first) {
    return verify_pairs(cl, std::vector<const EchoServer*>{&sv}, first);
}

// ---- faults and spoofing ----------------------------------------------------------------------

/// The TCP flags of an IPv4 packet as the stacks build it (20-byte IPv4 header).
inline std::uint8_t tcp_flags(const rte_mbuf* m) {
    const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
    const unsigned ihl = (p[0] & 0xF) * 4u;
    return p[ihl + 13];
}

/// The receiving stack's view of a packet's four-tuple (network order, as its table keys it).
inline FourTuple receiver_view_of(const rte_mbuf* m) {
    const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
    const unsigned ihl = (p[0] & 0xF) * 4u;
    FourTuple t;
    std::memcpy(&t.raddr, p + 12, 4);
    std::memcpy(&t.laddr, p + 16, 4);
    std::memcpy(&t.rport, p + ihl, 2);
    std::memcpy(&t.lport, p + ihl + 2, 2);
    return t;
}

/// The TCP payload length of an IPv4 packet.
inline std::uint32_t tcp_payload_len(const rte_mbuf* m) {
    const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
    const unsigned ihl = (p[0] & 0xF) * 4u;
    const unsigned total = (unsigned{p[2]} << 8) | p[3];
    return total - ihl - (p[ihl + 12] >> 4) * 4u;
}

/// A seeded fault schedule for Link::tamper: each packet, whatever its direction, is dropped,
/// duplicated or delayed (reordered behind the next batch) with the given probabilities in
/// percent. Counts everything by direction (index 1 = to the server).
struct Faults {
    std::mt19937_64 rng;
    unsigned drop_pct, dup_pct, delay_pct;
    std::uint64_t packets[2] = {};
    std::uint64_t drops[2] = {};
    std::uint64_t dups[2] = {};
    std::uint64_t delays[2] = {};
    std::uint64_t rst_delivered[2] = {}; // RST segments that reached a stack (duplicates twice)

    Faults(std::uint64_t seed, unsigned drop, unsigned dup, unsigned delay)
        : rng(seed), drop_pct(drop), dup_pct(dup), delay_pct(delay) {}

    Link::Fate operator()(rte_mbuf* m, bool to_server) {
        const int d = to_server ? 1 : 0;
        ++packets[d];
        const bool rst = (tcp_flags(m) & net::kRst) != 0;
        const auto r = static_cast<unsigned>(rng() % 100);
        if (r < drop_pct) {
            ++drops[d];
            return Link::Fate::drop;
        }
        rst_delivered[d] += rst ? 1 : 0;
        if (r < drop_pct + dup_pct) {
            ++dups[d];
            rst_delivered[d] += rst ? 1 : 0;
            return Link::Fate::duplicate;
        }
        if (r < drop_pct + dup_pct + delay_pct) {
            ++delays[d];
            return Link::Fate::delay;
        }
        return Link::Fate::deliver;
    }
};

/// A segment an off-path attacker sends: right four-tuple (`from` is the impersonated side's
/// view), guessed sequence number, valid checksums.
inline rte_mbuf* spoof(rte_mempool* mp, const FourTuple& from, std::uint32_t seq, std::uint32_t ack,
                       std::uint8_t flags) {
    net::TcpFields f;
    f.tuple = from;
    f.seq = seq;
    f.ack = ack;
    f.flags = flags;
    f.window = 65535;
    if (flags & net::kSyn) {
        f.syn_options = true;
        f.opts.has_mss = true;
        f.opts.mss = 1460;
    }
    rte_mbuf* m = net::build_ipv4_tcp(mp, f, net::Checksum::software);
    REQUIRE(m != nullptr);
    return m;
}

/// Sum of a counter array.
template <class A>
std::uint64_t sum(const A& a) {
    std::uint64_t s = 0;
    for (auto v : a) {
        s += v;
    }
    return s;
}

/// Steps until `done()` (checked after each pump) or `limit` of simulated time passed: pump the
/// wire, let the applications retry, pump again, advance the clock by `step`. Returns done().
template <class Done, class Poll>
bool run_until(Link& link, Nanos step, Nanos limit, Done&& done, Poll&& poll) {
    const Nanos end = link.now() + limit;
    for (;;) {
        link.pump();
        poll();
        link.pump();
        if (done()) {
            return true;
        }
        if (link.now() >= end) {
            return false;
        }
        link.advance(step);
    }
}

/// Advances time in one-second steps (pumping, so re-ACKs flow) until both stacks hold no
/// TIME_WAIT record, at most `limit`.
inline void expire_time_wait(Link& link, Nanos limit) {
    const Nanos end = link.now() + limit;
    while ((link.client.time_wait_count() > 0 || link.server.time_wait_count() > 0) &&
           link.now() < end) {
        link.advance(sec(1));
        link.pump();
    }
}

} // namespace tcpterm::rel
