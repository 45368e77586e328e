// Tests of the packetdrill adapter without packetdrill: the test loads libtcpterm_packetdrill.so
// with dlopen() (path in $TCPTERM_PD_SO), calls packetdrill_interface_init as packetdrill does,
// and drives the stack only through the interface's function pointers, with IPv4/TCP packets
// built and parsed here by hand (so this binary links neither DPDK nor tcpterm: it checks the
// .so as packetdrill sees it). Checked: the packets netdev_receive returns, errno values, blocking
// calls woken by packets, the virtual clock and timers, and the state file.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "packetdrill_interface.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::uint32_t kLocal = 0xC0A80002u;  // 192.168.0.2, the stack
constexpr std::uint32_t kRemote = 0xC0000201u; // 192.0.2.1, the scripted peer
constexpr std::uint16_t kPort = 8080;
constexpr std::uint16_t kPeerPort = 45000;

constexpr std::uint8_t F = 0x01, S = 0x02, R = 0x04, P = 0x08, A = 0x10;

packetdrill_interface_init_t load() {
    static packetdrill_interface_init_t init = [] {
        const char* path = std::getenv("TCPTERM_PD_SO");
        REQUIRE(path != nullptr);
        void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        INFO(dlerror());
        REQUIRE(h != nullptr);
        auto f =
            reinterpret_cast<packetdrill_interface_init_t>(dlsym(h, "packetdrill_interface_init"));
        REQUIRE(f != nullptr);
        return f;
    }();
    return init;
}

std::uint16_t csum(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) {
    for (std::size_t i = 0; i + 1 < n; i += 2) {
        sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
    }
    if (n & 1) {
        sum += static_cast<std::uint32_t>(p[n - 1] << 8);
    }
    while (sum >> 16) {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    return static_cast<std::uint16_t>(~sum);
}

void put16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
    put16(p, static_cast<std::uint16_t>(v >> 16));
    put16(p + 2, static_cast<std::uint16_t>(v));
}
std::uint16_t get16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
std::uint32_t get32(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(get16(p)) << 16 | get16(p + 2);
}

/// A packet from the peer (192.0.2.1:sport) to the stack (192.168.0.2:8080).
std::vector<std::uint8_t> seg(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
                              const std::string& data = "", std::vector<std::uint8_t> opts = {},
                              std::uint16_t sport = kPeerPort, std::uint16_t dport = kPort,
                              std::uint16_t win = 65535) {
    while (opts.size() % 4) {
        opts.push_back(1);
    }
    const std::size_t tcp_len = 20 + opts.size() + data.size();
    std::vector<std::uint8_t> b(20 + tcp_len);
    std::uint8_t* ip = b.data();
    ip[0] = 0x45;
    put16(ip + 2, static_cast<std::uint16_t>(b.size()));
    put16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = 6;
    put32(ip + 12, kRemote);
    put32(ip + 16, kLocal);
    put16(ip + 10, csum(ip, 20));
    std::uint8_t* t = ip + 20;
    put16(t, sport);
    put16(t + 2, dport);
    put32(t + 4, seq);
    put32(t + 8, ack);
    t[12] = static_cast<std::uint8_t>((20 + opts.size()) / 4 << 4);
    t[13] = flags;
    put16(t + 14, win);
    std::copy(opts.begin(), opts.end(), t + 20);
    std::copy(data.begin(), data.end(), t + 20 + opts.size());
    std::vector<std::uint8_t> ph(12 + tcp_len);
    put32(ph.data(), kRemote);
    put32(ph.data() + 4, kLocal);
    ph[9] = 6;
    put16(ph.data() + 10, static_cast<std::uint16_t>(tcp_len));
    std::copy(b.begin() + 20, b.end(), ph.begin() + 12);
    put16(t + 16, csum(ph.data(), ph.size()));
    return b;
}

std::vector<std::uint8_t> syn_opts() { // <mss 1460, nop, wscale 7>
    return {2, 4, 0x05, 0xB4, 1, 3, 3, 7};
}

struct Out {
    std::uint8_t flags = 0;
    std::uint32_t seq = 0, ack = 0;
    std::uint16_t sport = 0, dport = 0, win = 0;
    std::uint32_t src = 0, dst = 0;
    std::string data;
    std::vector<std::uint8_t> opts;
    long long usecs = 0;
};

struct Pd {
    packetdrill_interface ifc{};
    std::string states;

    explicit Pd(const std::string& extra = "") {
        states = "/tmp/tcpterm-pd-test-" + std::to_string(getpid()) + ".states";
        const std::string flags = "ip=192.168.0.2;mss=1460;states=" + states + extra;
        load()(flags.c_str(), &ifc);
        REQUIRE(ifc.userdata != nullptr);
    }
    ~Pd() {
        ifc.free(ifc.userdata);
        std::remove(states.c_str());
    }
    Pd(const Pd&) = delete;
    Pd& operator=(const Pd&) = delete;

    void send(const std::vector<std::uint8_t>& b) {
        REQUIRE(ifc.netdev_send(ifc.userdata, b.data(), b.size()) == 0);
    }
    Out recv() {
        std::vector<std::uint8_t> b(70000);
        size_t n = b.size();
        Out o;
        REQUIRE(ifc.netdev_receive(ifc.userdata, b.data(), &n, &o.usecs) == 0);
        REQUIRE(n >= 40);
        REQUIRE(b[0] == 0x45);
        REQUIRE(get16(b.data() + 2) == n);
        REQUIRE(csum(b.data(), 20) == 0);
        o.src = get32(b.data() + 12);
        o.dst = get32(b.data() + 16);
        const std::uint8_t* t = b.data() + 20;
        o.sport = get16(t);
        o.dport = get16(t + 2);
        o.seq = get32(t + 4);
        o.ack = get32(t + 8);
        const std::size_t doff = (t[12] >> 4) * 4u;
        o.flags = t[13];
        o.win = get16(t + 14);
        o.opts.assign(t + 20, t + doff);
        o.data.assign(reinterpret_cast<const char*>(t + doff), n - 20 - doff);
        if (std::getenv("PD_DEBUG") != nullptr) {
            std::fprintf(stderr, "out: flags %#x seq %u ack %u len %zu at %lld us\n", o.flags,
                         o.seq, o.ack, o.data.size(), o.usecs);
        }
        return o;
    }
    long long now() {
        timeval tv{};
        ifc.gettimeofday(ifc.userdata, &tv, nullptr);
        return static_cast<long long>(tv.tv_sec) * 1'000'000 + tv.tv_usec;
    }
    std::string state_file() {
        std::ifstream f(states);
        std::stringstream ss;
        ss << f.rdbuf();
        return ss.str();
    }
    int listener() {
        const int fd = ifc.socket(ifc.userdata, AF_INET, SOCK_STREAM, IPPROTO_TCP);
        REQUIRE(fd >= 0);
        const int one = 1;
        REQUIRE(ifc.setsockopt(ifc.userdata, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(kLocal);
        a.sin_port = htons(kPort);
        REQUIRE(ifc.bind(ifc.userdata, fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(ifc.listen(ifc.userdata, fd, 1) == 0);
        return fd;
    }
    /// Peer connects with ISN 1000; returns the accepted descriptor and the stack's ISS.
    int handshake(int lfd, std::uint32_t& iss) {
        send(seg(S, 1000, 0, "", syn_opts()));
        Out sa = recv();
        CHECK(sa.flags == (S | A));
        CHECK(sa.ack == 1001);
        iss = sa.seq;
        send(seg(A, 1001, iss + 1));
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        const int fd = ifc.accept(ifc.userdata, lfd, reinterpret_cast<sockaddr*>(&peer), &len);
        REQUIRE(fd >= 0);
        CHECK(ntohs(peer.sin_port) == kPeerPort);
        CHECK(ntohl(peer.sin_addr.s_addr) == kRemote);
        return fd;
    }
};

const std::string kConn = "192.168.0.2:8080 192.0.2.1:45000 ";

} // namespace

TEST_CASE("adapter: listen, accept, data both ways, passive close") {
    // A 64 KB receive buffer: no window update after the first read (window scale 0).
    Pd pd(";rcvbuf=65535");
    auto& f = pd.ifc;
    void* u = f.userdata;
    const int lfd = pd.listener();
    CHECK(pd.state_file() == "192.168.0.2:8080 0.0.0.0:0 LISTEN\n");

    pd.send(seg(S, 1000, 0, "", syn_opts()));
    Out sa = pd.recv();
    CHECK(sa.flags == (S | A));
    CHECK(sa.ack == 1001);
    CHECK(sa.src == kLocal);
    CHECK(sa.dst == kRemote);
    CHECK(sa.sport == kPort);
    CHECK(sa.dport == kPeerPort);
    // Linux's layout for a SYN with MSS and window scale only: <mss 1460,nop,wscale 0>.
    CHECK(sa.opts == std::vector<std::uint8_t>{2, 4, 0x05, 0xB4, 1, 3, 3, 0});
    CHECK(pd.state_file().find(kConn + "SYN_RCVD") != std::string::npos);

    pd.send(seg(A, 1001, sa.seq + 1));
    CHECK(pd.state_file().find(kConn + "ESTABLISHED") != std::string::npos);
    const int fd = f.accept(u, lfd, nullptr, nullptr);
    REQUIRE(fd >= 0);

    pd.send(seg(A | P, 1001, sa.seq + 1, "hello"));
    Out quick = pd.recv(); // the Linux profile starts in quick-ACK mode: no 40 ms delay
    CHECK(quick.flags == A);
    CHECK(quick.ack == 1006);
    char buf[64] = {};
    CHECK(f.read(u, fd, buf, sizeof buf) == 5);
    CHECK(std::string(buf, 5) == "hello");

    CHECK(f.write(u, fd, "world!", 6) == 6);
    Out d = pd.recv();
    CHECK(d.flags == (P | A));
    CHECK(d.seq == sa.seq + 1);
    CHECK(d.ack == 1006);
    CHECK(d.data == "world!");
    pd.send(seg(A, 1006, sa.seq + 7));

    pd.send(seg(F | A, 1006, sa.seq + 7));
    Out ack = pd.recv();
    CHECK(ack.flags == A);
    CHECK(ack.ack == 1007);
    CHECK(f.read(u, fd, buf, sizeof buf) == 0);
    CHECK(pd.state_file().find(kConn + "CLOSE_WAIT") != std::string::npos);

    CHECK(f.close(u, fd) == 0);
    Out fin = pd.recv();
    CHECK(fin.flags == (F | A));
    CHECK(fin.seq == sa.seq + 7);
    CHECK(pd.state_file().find(kConn + "LAST_ACK") != std::string::npos);
    pd.send(seg(A, 1007, sa.seq + 8));
    CHECK(pd.state_file() == "192.168.0.2:8080 0.0.0.0:0 LISTEN\n");
    CHECK(f.close(u, lfd) == 0);
    CHECK(pd.state_file().empty());
}

TEST_CASE("adapter: errno values and bad descriptors") {
    Pd pd;
    auto& f = pd.ifc;
    void* u = f.userdata;
    char buf[8] = {};
    const int bad = 987;
    errno = 0;
    CHECK(f.read(u, bad, buf, sizeof buf) == -1);
    CHECK(errno == EBADF);
    errno = 0;
    CHECK(f.write(u, bad, buf, sizeof buf) == -1);
    CHECK(errno == EBADF);
    errno = 0;
    CHECK(f.close(u, bad) == -1);
    CHECK(errno == EBADF);
    errno = 0;
    CHECK(f.listen(u, bad, 1) == -1);
    CHECK(errno == EBADF);
    errno = 0;
    CHECK(f.accept(u, bad, nullptr, nullptr) == -1);
    CHECK(errno == EBADF);
    errno = 0;
    CHECK(f.shutdown(u, bad, SHUT_WR) == -1);
    CHECK(errno == EBADF);
    const int one = 1;
    errno = 0;
    CHECK(f.setsockopt(u, bad, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) == -1);
    CHECK(errno == EBADF);
    pollfd p{bad, POLLIN, 0};
    CHECK(f.poll(u, &p, 1, 0) == 1);
    CHECK(p.revents == POLLNVAL);

    errno = 0;
    CHECK(f.socket(u, AF_INET6, SOCK_STREAM, 0) == -1);
    CHECK(errno == EAFNOSUPPORT);
    errno = 0;
    CHECK(f.socket(u, AF_INET, SOCK_DGRAM, 0) == -1);
    CHECK(errno == ENOTSUP);

    const int fd = f.socket(u, AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    CHECK(fcntl(fd, F_GETFD) >= 0); // a real kernel descriptor
    errno = 0;
    CHECK(f.read(u, fd, buf, sizeof buf) == -1);
    CHECK(errno == ENOTCONN);
    errno = 0;
    CHECK(f.write(u, fd, buf, sizeof buf) == -1);
    CHECK(errno == EPIPE);
    errno = 0;
    CHECK(f.shutdown(u, fd, SHUT_WR) == -1);
    CHECK(errno == ENOTCONN);
    errno = 0;
    CHECK(f.setsockopt(u, fd, IPPROTO_TCP, TCP_CONGESTION, "reno", 4) == -1);
    CHECK(errno == ENOTSUP);
    errno = 0;
    CHECK(f.splice(u, fd, nullptr, fd, nullptr, 1, 0) == -1);
    CHECK(errno == ENOTSUP);

    int v = 0;
    socklen_t len = sizeof v;
    CHECK(f.setsockopt(u, fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
    CHECK(f.getsockopt(u, fd, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0);
    CHECK(v == 1);
    const int idle = 7;
    CHECK(f.setsockopt(u, fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) == 0);
    CHECK(f.getsockopt(u, fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, &len) == 0);
    CHECK(v == 7);
    linger lg{1, 0};
    CHECK(f.setsockopt(u, fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);

    CHECK(f.fcntl(u, fd, F_SETFL, O_RDWR | O_NONBLOCK) == 0);
    CHECK((f.fcntl(u, fd, F_GETFL) & O_NONBLOCK) != 0);

    const int lfd = pd.listener();
    CHECK(f.fcntl(u, lfd, F_SETFL, O_NONBLOCK) == 0);
    errno = 0;
    CHECK(f.accept(u, lfd, nullptr, nullptr) == -1);
    CHECK(errno == EAGAIN);
    // The same port again without SO_REUSEADDR on both sides.
    const int fd2 = f.socket(u, AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(kPort);
    errno = 0;
    CHECK(f.bind(u, fd2, reinterpret_cast<sockaddr*>(&a), sizeof a) == -1);
    CHECK(errno == EADDRINUSE);
    CHECK(f.close(u, fd2) == 0);
    CHECK(f.close(u, fd) == 0);
    errno = 0;
    CHECK(f.close(u, fd) == -1);
    CHECK(errno == EBADF);
    CHECK(f.close(u, lfd) == 0);
}

TEST_CASE("adapter: the Linux SYN-ACK layout with window scale 8 by default") {
    Pd pd;
    const int lfd = pd.listener();
    pd.send(seg(S, 1000, 0, "", syn_opts()));
    Out sa = pd.recv();
    CHECK(sa.flags == (S | A));
    CHECK(sa.opts == std::vector<std::uint8_t>{2, 4, 0x05, 0xB4, 1, 3, 3, 8});
    CHECK(pd.ifc.close(pd.ifc.userdata, lfd) == 0);
    Out rst = pd.recv(); // the half-open connection is reset with its listener
    CHECK((rst.flags & R) != 0);
}

TEST_CASE("adapter: the Linux profile by default, and the so_flags that turn it off") {
    // sack: a SYN offering sackOK gets it back, folded into TS's padding as Linux does.
    const std::vector<std::uint8_t> sack_ts_syn = {2, 4, 0x05, 0xB4, 4, 2, 8, 10, 0, 0,
                                                   0, 1, 0,    0,    0, 0, 1, 3,  3, 7};
    for (const bool on : {true, false}) {
        Pd pd(on ? "" : ";sack=0");
        const int lfd = pd.listener();
        pd.send(seg(S, 1000, 0, "", sack_ts_syn));
        Out sa = pd.recv();
        CHECK(sa.flags == (S | A));
        REQUIRE(sa.opts.size() == 20);
        CHECK(sa.opts[4] == (on ? 4 : 1)); // sackOK or nop
        CHECK(sa.opts[5] == (on ? 2 : 1));
        CHECK(pd.ifc.close(pd.ifc.userdata, lfd) == 0);
        (void)pd.recv(); // the half-open connection's RST
    }

    // push: the peer's window (32 << 7 = 4096 bytes) lets two full segments of a 6000-byte
    // write out; the second ends past half the window, Linux's forced push.
    for (const bool on : {true, false}) {
        Pd pd(on ? "" : ";push=queue");
        auto& f = pd.ifc;
        const int lfd = pd.listener();
        pd.send(seg(S, 1000, 0, "", syn_opts()));
        Out sa = pd.recv();
        pd.send(seg(A, 1001, sa.seq + 1, "", {}, kPeerPort, kPort, 32));
        const int fd = f.accept(f.userdata, lfd, nullptr, nullptr);
        REQUIRE(fd >= 0);
        const std::string data(6000, 'x');
        CHECK(f.write(f.userdata, fd, data.data(), data.size()) == 6000);
        Out d1 = pd.recv();
        Out d2 = pd.recv();
        CHECK(d1.flags == A);
        CHECK(d1.data.size() == 1460);
        CHECK(d2.flags == (on ? (P | A) : A));
        CHECK(d2.seq == sa.seq + 1461);
        CHECK(d2.data.size() == 1460);
        CHECK(f.close(f.userdata, lfd) == 0);
    }

    // quickack_start: a lone first segment is acked at once (Linux), or after the delayed-ACK
    // timeout (tcpterm's default). A 64 KB buffer: reading 5 bytes sends no window update.
    for (const bool on : {true, false}) {
        Pd pd(on ? ";rcvbuf=65535" : ";rcvbuf=65535;quickack_start=0");
        auto& f = pd.ifc;
        const int lfd = pd.listener();
        std::uint32_t iss = 0;
        const int fd = pd.handshake(lfd, iss);
        const long long t0 = pd.now();
        pd.send(seg(A | P, 1001, iss + 1, "hello"));
        Out ack = pd.recv();
        CHECK(ack.flags == A);
        CHECK(ack.ack == 1006);
        if (on) {
            CHECK(ack.usecs - t0 < 40'000);
        } else {
            CHECK(ack.usecs - t0 >= 40'000);
        }
        char buf[8];
        CHECK(f.read(f.userdata, fd, buf, sizeof buf) == 5);
        CHECK(f.close(f.userdata, lfd) == 0);
    }
}

TEST_CASE("adapter: a blocking connect woken by RST fails with ECONNREFUSED") {
    Pd pd;
    auto& f = pd.ifc;
    void* u = f.userdata;
    const int fd = f.socket(u, AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(kRemote);
    a.sin_port = htons(kPeerPort);
    int rc = 0, err = 0;
    std::thread t([&] {
        rc = f.connect(u, fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
        err = errno;
    });
    Out syn = pd.recv();
    CHECK(syn.flags == S);
    CHECK(syn.src == kLocal);
    CHECK(syn.dport == kPeerPort);
    // <mss 1460,sackOK,TS val X ecr 0,nop,wscale 8>: Linux's layout, sackOK in TS's padding.
    REQUIRE(syn.opts.size() == 20);
    CHECK(syn.opts[0] == 2);
    CHECK(syn.opts[4] == 4);
    CHECK(syn.opts[5] == 2);
    CHECK(syn.opts[6] == 8);
    CHECK(syn.opts[17] == 3);
    CHECK(syn.opts[19] == 8);
    CHECK(pd.state_file().find("SYN_SENT") != std::string::npos);
    pd.send(seg(R | A, 0, syn.seq + 1, "", {}, kPeerPort, syn.sport));
    t.join();
    CHECK(rc == -1);
    CHECK(err == ECONNREFUSED);
    CHECK(pd.state_file().empty());
    CHECK(f.close(u, fd) == 0);
}

TEST_CASE("adapter: virtual time, timers and retransmissions") {
    Pd pd(";fin_timeout=5");
    auto& f = pd.ifc;
    void* u = f.userdata;
    const int lfd = pd.listener();
    pd.send(seg(S, 1000, 0, "", syn_opts()));
    Out sa = pd.recv();
    // No ACK: netdev_receive moves the clock to the retransmission timeout (1 s).
    const auto real0 = std::chrono::steady_clock::now();
    Out again = pd.recv();
    CHECK(again.flags == (S | A));
    CHECK(again.seq == sa.seq);
    CHECK(again.usecs - sa.usecs >= 1'000'000);
    CHECK(again.usecs - sa.usecs < 1'010'000);
    pd.send(seg(A, 1001, sa.seq + 1));
    const int fd = f.accept(u, lfd, nullptr, nullptr);
    REQUIRE(fd >= 0);

    // Active close, FIN acked: FIN_WAIT_2 for fin_timeout (5 s), then gone.
    CHECK(f.close(u, fd) == 0);
    Out fin = pd.recv();
    CHECK(fin.flags == (F | A));
    pd.send(seg(A, 1001, fin.seq + 1));
    CHECK(pd.state_file().find(kConn + "FIN_WAIT_2") != std::string::npos);
    const long long t0 = pd.now();
    CHECK(f.usleep(u, 4'000'000) == 0);
    CHECK(pd.now() - t0 >= 4'000'000);
    CHECK(pd.state_file().find(kConn + "FIN_WAIT_2") != std::string::npos);
    CHECK(f.usleep(u, 1'100'000) == 0);
    CHECK(pd.state_file().find("FIN_WAIT_2") == std::string::npos);
    // Six virtual seconds took far less real time.
    CHECK(std::chrono::steady_clock::now() - real0 < std::chrono::seconds(3));
    CHECK(f.close(u, lfd) == 0);
}

TEST_CASE("adapter: close with unread data resets, TIME_WAIT in the state file") {
    Pd pd;
    auto& f = pd.ifc;
    void* u = f.userdata;
    const int lfd = pd.listener();
    std::uint32_t iss = 0;
    const int fd = pd.handshake(lfd, iss);
    pd.send(seg(A | P, 1001, iss + 1, "unread"));
    int n = -1;
    CHECK(f.ioctl(u, fd, FIONREAD, &n) == 0);
    CHECK(n == 6);
    CHECK(f.close(u, fd) == 0);
    Out rst = pd.recv();
    while (rst.flags == A) {
        rst = pd.recv(); // a delayed ACK or window update may come first
    }
    CHECK(rst.flags == (R | A));
    CHECK(rst.seq == iss + 1);

    // A second connection closed by us, then by the peer: TIME_WAIT, which a RST does not end.
    pd.send(seg(S, 5000, 0, "", syn_opts(), kPeerPort + 1));
    Out sa = pd.recv();
    pd.send(seg(A, 5001, sa.seq + 1, "", {}, kPeerPort + 1));
    const int fd2 = f.accept(u, lfd, nullptr, nullptr);
    REQUIRE(fd2 >= 0);
    CHECK(f.shutdown(u, fd2, SHUT_WR) == 0);
    Out fin = pd.recv();
    CHECK(fin.flags == (F | A));
    pd.send(seg(F | A, 5001, fin.seq + 1, "", {}, kPeerPort + 1));
    Out ack = pd.recv();
    CHECK(ack.flags == A);
    CHECK(ack.ack == 5002);
    const std::string tw = "192.168.0.2:8080 192.0.2.1:45001 TIME_WAIT";
    CHECK(pd.state_file().find(tw) != std::string::npos);
    pd.send(seg(R, 5002, 0, "", {}, kPeerPort + 1));
    CHECK(pd.state_file().find(tw) != std::string::npos);
    char buf[8];
    CHECK(f.read(u, fd2, buf, sizeof buf) == 0);
    pollfd p{fd2, POLLIN | POLLOUT, 0};
    CHECK(f.poll(u, &p, 1, 0) == 1);
    CHECK((p.revents & POLLHUP) != 0);
    CHECK(f.close(u, fd2) == 0);
    CHECK(f.close(u, lfd) == 0);
}

TEST_CASE("adapter: poll blocks until data, with a virtual timeout") {
    Pd pd(";rcvbuf=65535");
    auto& f = pd.ifc;
    void* u = f.userdata;
    const int lfd = pd.listener();
    std::uint32_t iss = 0;
    const int fd = pd.handshake(lfd, iss);
    pollfd p{fd, POLLIN, 0};
    const long long t0 = pd.now();
    CHECK(f.poll(u, &p, 1, 100) == 0); // times out after 100 ms of the adapter's clock
    CHECK(pd.now() - t0 >= 100'000);
    int rc = -2;
    std::thread t([&] {
        pollfd q{fd, POLLIN, 0};
        rc = f.poll(u, &q, 1, -1);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    pd.send(seg(A | P, 1001, iss + 1, "x"));
    t.join();
    CHECK(rc == 1);
    char c = 0;
    CHECK(f.recv(u, fd, &c, 1, MSG_PEEK) == 1);
    CHECK(f.read(u, fd, &c, 1) == 1);
    CHECK(c == 'x');
    CHECK(f.fcntl(u, fd, F_SETFL, O_NONBLOCK) == 0);
    errno = 0;
    CHECK(f.read(u, fd, &c, 1) == -1);
    CHECK(errno == EAGAIN);
    pd.send(seg(R | A, 1002, iss + 1));
    errno = 0;
    CHECK(f.read(u, fd, &c, 1) == -1);
    CHECK(errno == ECONNRESET);
    errno = 0;
    CHECK(f.write(u, fd, &c, 1) == -1);
    CHECK(errno == EPIPE);
    CHECK(f.close(u, fd) == 0);
    CHECK(f.close(u, lfd) == 0);
}
