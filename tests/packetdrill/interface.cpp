// libtcpterm_packetdrill.so's entry point: packetdrill_interface_init() parses --so_flags, starts
// DPDK's EAL once per process (no hugepages, no PCI, a private file prefix: only mempools are
// used), creates the Adapter and fills every function pointer of packetdrill's interface with a
// C thunk. The thunks turn the Adapter's "-errno" results into POSIX's -1 + errno and never let an
// exception cross into packetdrill's C code.
//
// --so_flags keys (';'-separated key=value):
//   ip=A.B.C.D        local address for connect() (must match packetdrill's --local_ip)
//   states=PATH       keep PATH current with one line per connection and listener
//   mss=N             advertised MSS (1460)
//   ts=0|1 ws=0|1     timestamps, window scaling (on, as Linux)
//   wscale=N          window scale advertised (sets the receive buffer; default 8, as Linux)
//   rcvbuf=N sndbuf=N buffer sizes in bytes
//   fin_timeout=S time_wait=S   FIN_WAIT2 orphan timeout and 2MSL, in seconds
//   rto_min=MS rto_initial=MS delack=MS quickack=0|1 syn_retries=N synack_retries=N
//   retries2=N orphan_retries=N tw_reuse=0|1 verbose=0|1
//   Linux profile, on by default (TcpConfig's Linux-compatibility knobs):
//   sack=0|1          offer SACK-permitted in the handshake when the peer does (blocks ignored)
//   push=linux|queue  PSH per write and every half window (Linux), or when the queue empties
//   quickack_start=0|1  quick-ACK mode for the first segments (Linux icsk_ack.quick)
#include "adapter.hpp"
#include "packetdrill_interface.h"

#include <rte_eal.h>
#include <rte_errno.h>

#include <dlfcn.h>
#include <getopt.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <new>
#include <string>
#include <vector>

namespace tcpterm::pd {

Options parse_flags(const char* flags, std::string& err) {
    Options o;
    o.ip = htonl(0xC0A80002u); // 192.168.0.2
    tcp::StackConfig& c = o.cfg;
    c.max_connections = 4096;
    c.max_time_wait = 4096;
    c.tcp.timestamps = true;
    c.tcp.window_scaling = true;
    c.tcp.rcv_buf = 65535u << 8; // window scale 8, as Linux with the corpus's tcp_rmem
    // Linux profile: SACK-permitted in the handshake, Linux's PSH marks, quick-ACK at the start.
    c.tcp.sack_permitted = true;
    c.tcp.push_policy = tcp::PushPolicy::linux_like;
    c.tcp.quickack_start = true;
    std::string s = flags != nullptr ? flags : "";
    std::size_t pos = 0;
    while (pos <= s.size()) {
        std::size_t end = s.find(';', pos);
        if (end == std::string::npos) {
            end = s.size();
        }
        const std::string kv = s.substr(pos, end - pos);
        pos = end + 1;
        if (kv.empty()) {
            continue;
        }
        const std::size_t eq = kv.find('=');
        const std::string k = kv.substr(0, eq);
        const std::string v = eq == std::string::npos ? "1" : kv.substr(eq + 1);
        char* endp = nullptr;
        const unsigned long long n = std::strtoull(v.c_str(), &endp, 10);
        const bool num = !v.empty() && endp != nullptr && *endp == '\0';
        auto need_num = [&]() {
            if (!num) {
                err += "bad value for " + k + ": " + v + "\n";
            }
            return num;
        };
        if (k == "ip") {
            in_addr a{};
            if (inet_pton(AF_INET, v.c_str(), &a) == 1) {
                o.ip = a.s_addr;
            } else {
                err += "bad ip: " + v + "\n";
            }
        } else if (k == "states") {
            o.states = v;
        } else if (k == "verbose") {
            o.verbose = v != "0";
        } else if (k == "push") {
            if (v == "linux") {
                c.tcp.push_policy = tcp::PushPolicy::linux_like;
            } else if (v == "queue") {
                c.tcp.push_policy = tcp::PushPolicy::queue_empty;
            } else {
                err += "bad value for push (linux or queue): " + v + "\n";
            }
        } else if (!need_num()) {
            continue;
        } else if (k == "mss") {
            c.tcp.mss = static_cast<std::uint16_t>(n);
        } else if (k == "ts") {
            c.tcp.timestamps = n != 0;
        } else if (k == "ws") {
            c.tcp.window_scaling = n != 0;
        } else if (k == "wscale") {
            c.tcp.rcv_buf = 65535u << std::min<unsigned long long>(n, 14);
        } else if (k == "rcvbuf") {
            c.tcp.rcv_buf = static_cast<std::uint32_t>(n);
        } else if (k == "sndbuf") {
            c.tcp.snd_buf = static_cast<std::uint32_t>(n);
        } else if (k == "fin_timeout") {
            c.tcp.fin_timeout = sec(n);
        } else if (k == "time_wait") {
            c.tcp.time_wait = sec(n);
        } else if (k == "rto_min") {
            c.tcp.rto_min = ms(n);
        } else if (k == "rto_initial") {
            c.tcp.rto_initial = ms(n);
        } else if (k == "delack") {
            c.tcp.delayed_ack = ms(n);
        } else if (k == "quickack") {
            c.tcp.quickack = n != 0;
        } else if (k == "syn_retries") {
            c.tcp.syn_retries = static_cast<std::uint32_t>(n);
        } else if (k == "synack_retries") {
            c.tcp.synack_retries = static_cast<std::uint32_t>(n);
        } else if (k == "retries2") {
            c.tcp.retries2 = static_cast<std::uint32_t>(n);
        } else if (k == "orphan_retries") {
            c.tcp.orphan_retries = static_cast<std::uint32_t>(n);
        } else if (k == "tw_reuse") {
            c.tcp.tw_reuse = n != 0;
        } else if (k == "sack") {
            c.tcp.sack_permitted = n != 0;
        } else if (k == "quickack_start") {
            c.tcp.quickack_start = n != 0;
        } else {
            err += "unknown so_flags key: " + k + "\n";
        }
    }
    return o;
}

namespace {

bool init_eal() {
    static std::once_flag once;
    static bool ok = false;
    std::call_once(once, [] {
        // EAL pins the calling thread to lcore 0: give packetdrill's thread its CPUs back.
        cpu_set_t saved;
        const bool have = sched_getaffinity(0, sizeof saved, &saved) == 0;
        static std::vector<std::string> args = {"tcpterm-packetdrill",
                                                "--no-huge",
                                                "-m",
                                                "256",
                                                "--no-pci",
                                                "--no-telemetry",
                                                "--file-prefix=tcpterm-pd-" +
                                                    std::to_string(getpid()),
                                                "-l",
                                                "0",
                                                "--log-level=*:error"};
        static std::vector<char*> argv;
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        const int r = rte_eal_init(static_cast<int>(argv.size()), argv.data());
        ok = r >= 0 || rte_errno == EALREADY;
        if (r >= 0) {
            // --in-memory cannot go with --no-huge: remove our runtime directory at exit.
            std::atexit([] {
                const std::filesystem::path dir = rte_eal_get_runtime_dir();
                if (dir.filename().string().rfind("tcpterm-pd-", 0) == 0) {
                    std::error_code ec;
                    std::filesystem::remove_all(dir, ec);
                }
            });
        }
        if (have) {
            sched_setaffinity(0, sizeof saved, &saved);
        }
    });
    return ok;
}

Adapter* A(void* u) {
    return static_cast<Adapter*>(u);
}

template <class F>
long guarded(F&& f) {
    try {
        return f();
    } catch (const std::bad_alloc&) {
        return -ENOMEM;
    } catch (...) {
        return -EIO;
    }
}

template <class T>
T posix(long r) {
    if (r < 0) {
        errno = static_cast<int>(-r);
        return static_cast<T>(-1);
    }
    return static_cast<T>(r);
}

} // namespace

} // namespace tcpterm::pd

using tcpterm::pd::A;
using tcpterm::pd::guarded;
using tcpterm::pd::posix;

extern "C" {

static void pd_free(void* u) {
    delete A(u);
}

static int pd_socket(void* u, int d, int t, int p) {
    return posix<int>(guarded([&] { return A(u)->socket(d, t, p); }));
}

static int pd_bind(void* u, int fd, const sockaddr* a, socklen_t l) {
    return posix<int>(guarded([&] { return A(u)->bind(fd, a, l); }));
}

static int pd_listen(void* u, int fd, int backlog) {
    return posix<int>(guarded([&] { return A(u)->listen(fd, backlog); }));
}

static int pd_accept(void* u, int fd, sockaddr* a, socklen_t* l) {
    return posix<int>(guarded([&] {
        unsigned len = l != nullptr ? *l : 0;
        const long r = A(u)->accept(fd, a, l != nullptr ? &len : nullptr);
        if (r >= 0 && l != nullptr) {
            *l = len;
        }
        return r;
    }));
}

static int pd_connect(void* u, int fd, const sockaddr* a, socklen_t l) {
    return posix<int>(guarded([&] { return A(u)->connect(fd, a, l); }));
}

static ssize_t pd_recvv(void* u, int fd, const iovec* iov, int n, int flags, sockaddr* from,
                        socklen_t* fromlen) {
    if (A(u)->is_pipe(fd)) {
        return flags == 0 && from == nullptr ? ::readv(fd, iov, n) : (errno = ENOTSOCK, -1);
    }
    return posix<ssize_t>(guarded([&] {
        unsigned len = fromlen != nullptr ? *fromlen : 0;
        const long r = A(u)->recv(fd, iov, n, flags, from, fromlen != nullptr ? &len : nullptr);
        if (r >= 0 && fromlen != nullptr) {
            *fromlen = len;
        }
        return r;
    }));
}

static ssize_t pd_sendv(void* u, int fd, const iovec* iov, int n, int flags) {
    if (A(u)->is_pipe(fd)) {
        return flags == 0 ? ::writev(fd, iov, n) : (errno = ENOTSOCK, -1);
    }
    return posix<ssize_t>(guarded([&] { return A(u)->send(fd, iov, n, flags); }));
}

static ssize_t pd_read(void* u, int fd, void* buf, size_t count) {
    const iovec v{buf, count};
    return pd_recvv(u, fd, &v, 1, 0, nullptr, nullptr);
}

static ssize_t pd_readv(void* u, int fd, const iovec* iov, int n) {
    return pd_recvv(u, fd, iov, n, 0, nullptr, nullptr);
}

static ssize_t pd_recv(void* u, int fd, void* buf, size_t len, int flags) {
    const iovec v{buf, len};
    return pd_recvv(u, fd, &v, 1, flags, nullptr, nullptr);
}

static ssize_t pd_recvfrom(void* u, int fd, void* buf, size_t len, int flags, sockaddr* from,
                           socklen_t* fromlen) {
    const iovec v{buf, len};
    return pd_recvv(u, fd, &v, 1, flags, from, fromlen);
}

static ssize_t pd_recvmsg(void* u, int fd, msghdr* msg, int flags) {
    if (msg == nullptr) {
        errno = EFAULT;
        return -1;
    }
    msg->msg_controllen = 0; // no ancillary data
    msg->msg_flags = 0;
    socklen_t namelen = msg->msg_namelen;
    const ssize_t r = pd_recvv(u, fd, msg->msg_iov, static_cast<int>(msg->msg_iovlen), flags,
                               static_cast<sockaddr*>(msg->msg_name),
                               msg->msg_name != nullptr ? &namelen : nullptr);
    if (r >= 0) {
        msg->msg_namelen = msg->msg_name != nullptr ? namelen : 0;
    }
    return r;
}

static ssize_t pd_write(void* u, int fd, const void* buf, size_t count) {
    const iovec v{const_cast<void*>(buf), count};
    return pd_sendv(u, fd, &v, 1, 0);
}

static ssize_t pd_writev(void* u, int fd, const iovec* iov, int n) {
    return pd_sendv(u, fd, iov, n, 0);
}

static ssize_t pd_send(void* u, int fd, const void* buf, size_t len, int flags) {
    const iovec v{const_cast<void*>(buf), len};
    return pd_sendv(u, fd, &v, 1, flags);
}

static ssize_t pd_sendto(void* u, int fd, const void* buf, size_t len, int flags, const sockaddr*,
                         socklen_t) {
    const iovec v{const_cast<void*>(buf), len}; // TCP ignores the address of sendto()
    return pd_sendv(u, fd, &v, 1, flags);
}

static ssize_t pd_sendmsg(void* u, int fd, const msghdr* msg, int flags) {
    if (msg == nullptr) {
        errno = EFAULT;
        return -1;
    }
    if (msg->msg_controllen != 0) {
        errno = ENOTSUP; // ancillary data (SCM_TIMESTAMPING, ...) is not supported
        return -1;
    }
    return pd_sendv(u, fd, msg->msg_iov, static_cast<int>(msg->msg_iovlen), flags);
}

static int pd_fcntl(void* u, int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    long arg = 0;
    if (cmd == F_SETFL || cmd == F_SETFD) {
        arg = va_arg(ap, int);
    }
    va_end(ap);
    if (A(u)->is_pipe(fd)) {
        return ::fcntl(fd, cmd, arg);
    }
    return posix<int>(guarded([&] { return A(u)->fcntl(fd, cmd, arg); }));
}

static int pd_ioctl(void* u, int fd, unsigned long request, ...) {
    va_list ap;
    va_start(ap, request);
    int* out = va_arg(ap, int*);
    va_end(ap);
    return posix<int>(guarded([&] { return A(u)->ioctl(fd, request, out); }));
}

static int pd_close(void* u, int fd) {
    return posix<int>(guarded([&] { return A(u)->close(fd); }));
}

static int pd_shutdown(void* u, int fd, int how) {
    return posix<int>(guarded([&] { return A(u)->shutdown(fd, how); }));
}

static int pd_getsockopt(void* u, int fd, int level, int name, void* val, socklen_t* len) {
    return posix<int>(guarded([&] {
        unsigned l = len != nullptr ? *len : 0;
        const long r = A(u)->getsockopt(fd, level, name, val, len != nullptr ? &l : nullptr);
        if (r >= 0 && len != nullptr) {
            *len = l;
        }
        return r;
    }));
}

static int pd_setsockopt(void* u, int fd, int level, int name, const void* val, socklen_t len) {
    return posix<int>(guarded([&] { return A(u)->setsockopt(fd, level, name, val, len); }));
}

static int pd_poll(void* u, pollfd* fds, nfds_t n, int timeout) {
    return posix<int>(guarded([&] { return A(u)->poll(fds, n, timeout); }));
}

static int pd_netdev_send(void* u, const void* buf, size_t count) {
    return posix<int>(guarded([&] { return A(u)->netdev_send(buf, count); }));
}

static int pd_netdev_receive(void* u, void* buf, size_t* count, long long* time_usecs) {
    return posix<int>(guarded([&] { return A(u)->netdev_receive(buf, count, time_usecs); }));
}

static int pd_usleep(void* u, useconds_t us) {
    return posix<int>(guarded([&] { return A(u)->usleep(us); }));
}

static int pd_gettimeofday(void* u, timeval* tv, struct timezone*) {
    long long us = 0;
    A(u)->gettimeofday(&us);
    tv->tv_sec = static_cast<time_t>(us / 1'000'000);
    tv->tv_usec = static_cast<suseconds_t>(us % 1'000'000);
    return 0;
}

static int pd_epoll_create(void* u, int size) {
    return posix<int>(guarded([&] { return A(u)->epoll_create(size); }));
}

static int pd_epoll_ctl(void* u, int epfd, int op, int fd, epoll_event* ev) {
    return posix<int>(guarded([&] { return A(u)->epoll_ctl(epfd, op, fd, ev); }));
}

static int pd_epoll_wait(void* u, int epfd, epoll_event* evs, int max, int timeout) {
    return posix<int>(guarded([&] { return A(u)->epoll_wait(epfd, evs, max, timeout); }));
}

static int pd_pipe(void* u, int fds[2]) {
    return posix<int>(guarded([&] { return A(u)->pipe(fds); }));
}

static int pd_splice(void*, int, loff_t*, int, loff_t*, size_t, unsigned int) {
    errno = ENOTSUP;
    return -1;
}

// packetdrill dlopen()s this library with RTLD_DEEPBIND. packetdrill's executable uses getopt, so
// optind/optarg live in its own copies (copy relocations) and glibc's getopt_long works on those,
// while DPDK's EAL, bound "deeply", reads glibc's original variables and never sees an argument
// (rte_eal_init crashes on a NULL optarg). EAL's lookups find this definition first: it keeps the
// two sets of variables in step around glibc's real getopt_long. Without deep binding (the tests)
// both sets are the same and this is a plain pass-through, which EAL does not even reach.
__attribute__((visibility("default"))) int getopt_long(int argc, char* const argv[],
                                                       const char* shortopts,
                                                       const struct option* longopts, int* index) {
    using Fn = int (*)(int, char* const*, const char*, const struct option*, int*);
    static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "getopt_long"));
    // The program's global scope (RTLD_DEFAULT would search ours, deep-bound, first).
    static void* prog = dlopen(nullptr, RTLD_NOW);
    auto* g_optind = static_cast<int*>(dlsym(prog, "optind"));
    auto* g_opterr = static_cast<int*>(dlsym(prog, "opterr"));
    auto* g_optopt = static_cast<int*>(dlsym(prog, "optopt"));
    auto* g_optarg = static_cast<char**>(dlsym(prog, "optarg"));
    const bool split = g_optind != nullptr && g_optind != &optind && g_opterr != nullptr &&
                       g_optopt != nullptr && g_optarg != nullptr;
    if (split) {
        *g_optind = optind;
        *g_opterr = opterr;
        *g_optopt = optopt;
        *g_optarg = optarg;
    }
    const int r = real(argc, argv, shortopts, longopts, index);
    if (split) {
        optind = *g_optind;
        optopt = *g_optopt;
        optarg = *g_optarg;
    }
    return r;
}

__attribute__((visibility("default"))) void
packetdrill_interface_init(const char* flags, struct packetdrill_interface* ifc) {
    std::string err;
    tcpterm::pd::Options o = tcpterm::pd::parse_flags(flags, err);
    if (!err.empty()) {
        std::fprintf(stderr, "tcpterm packetdrill adapter: %s", err.c_str());
    }
    if (!tcpterm::pd::init_eal()) {
        std::fprintf(stderr,
                     "tcpterm packetdrill adapter: rte_eal_init failed (%s); are we "
                     "root?\n",
                     rte_strerror(rte_errno));
        std::exit(EXIT_FAILURE);
    }
    tcpterm::pd::Adapter* a = nullptr;
    try {
        a = new tcpterm::pd::Adapter(std::move(o));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tcpterm packetdrill adapter: %s\n", e.what());
        std::exit(EXIT_FAILURE);
    }
    *ifc = packetdrill_interface{};
    ifc->userdata = a;
    ifc->free = pd_free;
    ifc->socket = pd_socket;
    ifc->bind = pd_bind;
    ifc->listen = pd_listen;
    ifc->accept = pd_accept;
    ifc->connect = pd_connect;
    ifc->read = pd_read;
    ifc->readv = pd_readv;
    ifc->recv = pd_recv;
    ifc->recvfrom = pd_recvfrom;
    ifc->recvmsg = pd_recvmsg;
    ifc->write = pd_write;
    ifc->writev = pd_writev;
    ifc->send = pd_send;
    ifc->sendto = pd_sendto;
    ifc->sendmsg = pd_sendmsg;
    ifc->fcntl = pd_fcntl;
    ifc->ioctl = pd_ioctl;
    ifc->close = pd_close;
    ifc->shutdown = pd_shutdown;
    ifc->getsockopt = pd_getsockopt;
    ifc->setsockopt = pd_setsockopt;
    ifc->poll = pd_poll;
    ifc->netdev_send = pd_netdev_send;
    ifc->netdev_receive = pd_netdev_receive;
    ifc->usleep = pd_usleep;
    ifc->gettimeofday = pd_gettimeofday;
    ifc->epoll_create = pd_epoll_create;
    ifc->epoll_ctl = pd_epoll_ctl;
    ifc->epoll_wait = pd_epoll_wait;
    ifc->pipe = pd_pipe;
    ifc->splice = pd_splice;
}

} // extern "C"
