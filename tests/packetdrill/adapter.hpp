// The packetdrill adapter: one tcpterm TcpStack run in-process behind packetdrill's socket and
// netdev hooks (packetdrill_interface.h).
//
// Main design choices:
//  - One mutex serialises every entry into the stack (socket calls from packetdrill's main and
//    system-call threads, injected packets, the timer thread). Blocking calls wait on a condition
//    variable, so a blocked thread sleeps in the kernel (packetdrill reads /proc/<tid>/stat for
//    state S to decide that a call blocks).
//  - Time is virtual: packetdrill reads it through the gettimeofday hook. It flows with the real
//    clock and jumps forward on packetdrill's usleep and when packetdrill waits for a packet that
//    only a timer can produce, stepping the stack's timer wheel tick by tick so every expiry
//    happens (and is time-stamped) at its own deadline. A 60 s FIN_WAIT2 or 2-hour keepalive
//    script therefore runs in well under a second, and timing still matches the script.
//  - Sockets are real kernel descriptors (an eventfd each), because packetdrill closes leftover
//    descriptors with the kernel's close() after the script. Each socket copies received bytes out
//    of the stack as they arrive (on_readable) into its own buffer, so reads behave like the
//    kernel's even when the core has moved the connection on (TIME_WAIT, reset).
//  - Outbound packets are copied out of their mbufs at emission, with their virtual send time, into
//    a queue that netdev_receive drains.
#pragma once

#include "base/clock.hpp"
#include "tcp/stack.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

struct rte_mempool;
struct pollfd;
struct epoll_event;
struct iovec;
struct sockaddr;

namespace tcpterm::pd {

/// Settings from --so_flags ("key=value;key=value").
struct Options {
    std::uint32_t ip = 0; // local address, network order (default 192.168.0.2)
    std::string states;   // state file path ("" = none)
    bool verbose = false;
    tcp::StackConfig cfg;
};

/// Parses --so_flags; unknown keys and bad values are reported in `err` (and ignored).
Options parse_flags(const char* flags, std::string& err);

class Adapter;

/// One socket: a kernel eventfd for the descriptor, the stack objects behind it, and the state the
/// POSIX calls need (receive buffer, pending error, options).
struct Sock final : tcp::ConnHandler, tcp::ListenHandler {
    enum class Kind { fresh, listening, connecting, connected, closed };

    Sock(Adapter& a, int fd) : a(a), fd(fd) {}

    Adapter& a;
    int fd;
    Kind kind = Kind::fresh;
    bool nonblock = false;
    bool bound = false;
    std::uint32_t laddr = 0; // network order
    std::uint16_t lport = 0; // network order
    std::uint32_t raddr = 0;
    std::uint16_t rport = 0;
    tcp::Listener* listener = nullptr;
    tcp::Tcb* tcb = nullptr;
    std::string rbuf;              // received bytes not read yet
    bool peer_fin = false;         // end of stream after rbuf
    bool rd_shut = false;          // shutdown(SHUT_RD)
    bool wr_shut = false;          // shutdown(SHUT_WR)
    bool connect_reported = false; // the non-blocking connect's success was returned once
    int so_error = 0;              // pending error (SO_ERROR), reported once
    std::uint64_t gen = 0;         // bumped on every event from the stack (EPOLLET reports changes)
    int closed_error = -1;         // set by on_closed (0 = orderly)

    // Options (inherited by accepted sockets, applied to the control block when there is one).
    bool reuseaddr = false;
    bool keepalive = false;
    bool nodelay = false;
    bool linger_on = false;
    int linger_sec = 0;
    int keepidle = 0; // seconds, 0 = stack default
    int keepintvl = 0;
    int keepcnt = 0;
    unsigned user_timeout_ms = 0;
    int rcvbuf = 0; // as set (bytes), 0 = default
    int sndbuf = 0;

    void on_connected(tcp::Tcb& c) override;
    void on_readable(tcp::Tcb& c) override;
    void on_peer_fin(tcp::Tcb& c) override;
    void on_writable(tcp::Tcb& c) override;
    void on_closed(tcp::Tcb& c, int error) override;
    void on_acceptable(tcp::Listener& l) override;
};

struct EpollEntry {
    std::uint32_t events = 0;
    std::uint64_t data = 0;
    std::uint64_t gen = ~std::uint64_t{0}; // socket event count at the last report (EPOLLET)
    bool disabled = false;                 // EPOLLONESHOT fired
};

class Adapter final : public tcp::SegmentSink {
public:
    explicit Adapter(Options o);
    ~Adapter() override;
    Adapter(const Adapter&) = delete;
    Adapter& operator=(const Adapter&) = delete;

    // Every operation returns a value >= 0 or -errno; the C entry points turn that into -1/errno.
    long socket(int domain, int type, int protocol);
    long bind(int fd, const sockaddr* addr, unsigned addrlen);
    long listen(int fd, int backlog);
    long accept(int fd, sockaddr* addr, unsigned* addrlen);
    long connect(int fd, const sockaddr* addr, unsigned addrlen);
    long recv(int fd, const iovec* iov, int iovcnt, int flags, sockaddr* from, unsigned* fromlen);
    long send(int fd, const iovec* iov, int iovcnt, int flags);
    long fcntl(int fd, int cmd, long arg);
    long ioctl(int fd, unsigned long request, int* out);
    long close(int fd);
    long shutdown(int fd, int how);
    long getsockopt(int fd, int level, int name, void* val, unsigned* len);
    long setsockopt(int fd, int level, int name, const void* val, unsigned len);
    long poll(pollfd* fds, unsigned long nfds, int timeout_ms);
    long epoll_create(int size);
    long epoll_ctl(int epfd, int op, int fd, epoll_event* ev);
    long epoll_wait(int epfd, epoll_event* evs, int maxevents, int timeout_ms);
    long pipe(int fds[2]);
    bool is_pipe(int fd);

    long netdev_send(const void* buf, std::size_t count);
    long netdev_receive(void* buf, std::size_t* count, long long* time_usecs);
    long usleep(std::uint64_t us);
    void gettimeofday(long long* usecs);

    /// For the tests: the current state file text.
    std::string states_text();

    // Used by Sock callbacks (called with the lock held).
    tcp::TcpStack& stack() { return *stack_; }
    void wake() { cv_.notify_all(); }

private:
    using Lock = std::unique_lock<std::mutex>;
    /// One operation: holds the lock, counts the thread as busy, runs due timers first, and on
    /// the way out rewrites the state file and wakes waiters.
    struct Call {
        explicit Call(Adapter& a) : a(a), lk(a.mu_) {
            ++a.busy_;
            a.run_timers();
        }
        ~Call() {
            a.sync_states();
            if (--a.busy_ == 0) {
                a.idle_cv_.notify_all();
            }
            a.cv_.notify_all();
        }
        Call(const Call&) = delete;
        Call& operator=(const Call&) = delete;
        Adapter& a;
        Lock lk;
    };
    struct Pkt {
        std::vector<std::uint8_t> bytes;
        long long usecs;
    };

    void emit(rte_mbuf* m) override;
    Nanos vnow();
    void jump_to(Nanos t);
    /// Steps the clock to `t` tick by tick, running the timers of each tick and letting the
    /// threads they (or a passed wait deadline) wake finish first. Stops early (and returns true)
    /// when `until_packet` and a packet was emitted.
    bool step_to(Lock& lk, Nanos t, bool until_packet);
    /// Lets woken threads run: releases the lock briefly, then waits until no thread is busy.
    void settle(Lock& lk);
    void run_timers();
    void sync_states();
    std::string render_states();
    void timer_thread();
    long long to_usecs(Nanos t) const;

    std::shared_ptr<Sock> sock(int fd);
    void apply_options(Sock& s);
    void adopt(Sock& s, tcp::Tcb* c);
    void release_conn(Sock& s);
    std::uint32_t poll_mask(int fd);
    /// Waits (releasing the lock) until pred() or the virtual deadline (0 = none) passes.
    template <class Pred>
    bool wait(Lock& lk, Pred pred, Nanos deadline);
    std::uint16_t ephemeral_port();

    Options opt_;
    std::mutex mu_;
    std::condition_variable cv_;      // socket events, clock jumps
    std::condition_variable pkt_cv_;  // outbound packets
    std::condition_variable idle_cv_; // busy_ dropped to 0
    int busy_ = 0;                    // threads running inside an operation (not waiting)
    std::multiset<Nanos> deadlines_;  // virtual deadlines of the threads waiting in wait()

    // Virtual clock: real monotonic time + offset_, never going back.
    std::chrono::steady_clock::time_point real0_;
    long long epoch0_us_ = 0; // wall-clock microseconds at real0_
    Nanos offset_ = 0;
    Nanos last_ = 0;
    ManualClock clock_; // the stack's view, moved from vnow()
    Nanos origin_ = 0;  // the stack's time origin (tick boundaries)

    rte_mempool* mp_ = nullptr;
    std::unique_ptr<tcp::TcpStack> stack_;
    std::deque<Pkt> out_;

    std::map<int, std::shared_ptr<Sock>> socks_;
    std::map<int, std::map<int, EpollEntry>> epolls_;
    std::set<int> pipes_;
    std::uint16_t next_port_ = 40000;
    std::string last_states_;

    bool stop_ = false;
    std::thread timer_;
};

template <class Pred>
bool Adapter::wait(Lock& lk, Pred pred, Nanos deadline) {
    auto it = deadline != 0 ? deadlines_.insert(deadline) : deadlines_.end();
    bool ok = false;
    for (;;) {
        if (pred()) {
            ok = true;
            break;
        }
        const Nanos now = vnow();
        if (deadline != 0 && now >= deadline) {
            break;
        }
        auto real = std::chrono::nanoseconds(std::chrono::milliseconds(20));
        if (deadline != 0) {
            real = std::min(real, std::chrono::nanoseconds(deadline - now));
        }
        sync_states();
        if (--busy_ == 0) {
            idle_cv_.notify_all();
        }
        cv_.wait_for(lk, real);
        ++busy_;
        run_timers();
    }
    if (deadline != 0) {
        deadlines_.erase(it);
    }
    return ok;
}

} // namespace tcpterm::pd
