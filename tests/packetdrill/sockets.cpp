// The socket calls of the packetdrill adapter, mapped onto TcpStack with Linux's POSIX semantics:
// the errno values, blocking and non-blocking behaviour, poll masks (after Linux's tcp_poll) and
// option handling a script written against Linux expects. Each call runs under the adapter's lock
// (Adapter::Call) and returns a value >= 0 or -errno.
//
// Design choice: the stack is event driven, the POSIX API is pull based. Each socket copies the
// bytes the stack makes readable into its own buffer at once (on_readable), records end of stream
// and errors from the callbacks, and the calls read that state; blocking calls wait on the
// adapter's condition variable until the state they need appears.
#include "adapter.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace tcpterm::pd {

// ---- callbacks from the stack (lock held)
// --------------------------------------------------------

void Sock::on_connected(tcp::Tcb&) {
    kind = Kind::connected;
    ++gen;
    a.wake();
}

void Sock::on_readable(tcp::Tcb& c) {
    char buf[16384];
    std::size_t n;
    while ((n = a.stack().recv(c, buf, sizeof buf)) > 0) {
        if (!rd_shut) {
            rbuf.append(buf, n);
        }
    }
    ++gen;
    a.wake();
}

void Sock::on_peer_fin(tcp::Tcb&) {
    peer_fin = true;
    ++gen;
    a.wake();
}

void Sock::on_writable(tcp::Tcb&) {
    ++gen;
    a.wake();
}

void Sock::on_closed(tcp::Tcb&, int error) {
    tcb = nullptr;
    closed_error = error;
    if (error != 0) {
        so_error = error;
    }
    kind = Kind::closed;
    ++gen;
    a.wake();
}

void Sock::on_acceptable(tcp::Listener&) {
    ++gen;
    a.wake();
}

// ---- helpers
// -------------------------------------------------------------------------------------

std::shared_ptr<Sock> Adapter::sock(int fd) {
    auto it = socks_.find(fd);
    return it == socks_.end() ? nullptr : it->second;
}

bool Adapter::is_pipe(int fd) {
    Lock lk(mu_);
    return pipes_.count(fd) != 0;
}

std::uint16_t Adapter::ephemeral_port() {
    for (int tries = 0; tries < 30000; ++tries) {
        const std::uint16_t p = htons(next_port_);
        next_port_ = next_port_ >= 60999 ? 40000 : static_cast<std::uint16_t>(next_port_ + 1);
        bool used = false;
        for (auto& [fd, s] : socks_) {
            used = used || (s->bound && s->lport == p);
        }
        if (!used) {
            return p;
        }
    }
    return 0;
}

void Adapter::apply_options(Sock& s) {
    if (s.tcb == nullptr) {
        return;
    }
    tcp::Tcb& c = *s.tcb;
    stack_->set_nodelay(c, s.nodelay);
    if (s.tcb == nullptr) {
        return; // set_nodelay may send, and a send may fail the connection
    }
    stack_->set_keepalive(c, s.keepalive, sec(static_cast<std::uint64_t>(s.keepidle)),
                          sec(static_cast<std::uint64_t>(s.keepintvl)),
                          static_cast<std::uint32_t>(s.keepcnt));
    stack_->set_linger(c, s.linger_on, sec(static_cast<std::uint64_t>(s.linger_sec)));
    if (s.user_timeout_ms != 0) {
        stack_->set_user_timeout(c, ms(s.user_timeout_ms));
    }
    if (s.sndbuf > 0) {
        c.snd_buf = 2 * static_cast<std::uint32_t>(s.sndbuf); // Linux doubles it too
    }
}

// A control block now belongs to `s` (accepted): take the bytes and FIN that came before.
void Adapter::adopt(Sock& s, tcp::Tcb* c) {
    s.tcb = c;
    s.kind = Sock::Kind::connected;
    s.bound = true;
    s.laddr = c->key.laddr;
    s.lport = c->key.lport;
    s.raddr = c->key.raddr;
    s.rport = c->key.rport;
    s.on_readable(*c);
    s.peer_fin = c->fin_received;
    apply_options(s);
}

// Detaches the socket from its control block so no callback reaches it any more.
void Adapter::release_conn(Sock& s) {
    if (s.tcb != nullptr) {
        stack_->set_handler(*s.tcb, nullptr);
        s.tcb = nullptr;
    }
}

// Linux's tcp_poll (and inet_csk_listen_poll for listeners).
std::uint32_t Adapter::poll_mask(int fd) {
    auto s = sock(fd);
    if (s == nullptr) {
        if (pipes_.count(fd) != 0) {
            pollfd p{fd, POLLIN | POLLOUT, 0};
            ::poll(&p, 1, 0);
            return static_cast<std::uint32_t>(p.revents);
        }
        return POLLNVAL;
    }
    std::uint32_t m = 0;
    if (s->kind == Sock::Kind::listening) {
        return s->listener != nullptr && !s->listener->accept_queue.empty() ? POLLIN | POLLRDNORM
                                                                            : 0;
    }
    const bool closed = s->kind == Sock::Kind::fresh || s->kind == Sock::Kind::closed;
    const bool rcv_shut = s->peer_fin || s->rd_shut || s->kind == Sock::Kind::closed;
    const bool snd_shut = s->wr_shut || s->kind == Sock::Kind::closed;
    if ((rcv_shut && snd_shut) || closed) {
        m |= POLLHUP;
    }
    if (rcv_shut) {
        m |= POLLIN | POLLRDNORM | POLLRDHUP;
    }
    if (s->kind != Sock::Kind::connecting) {
        if (!s->rbuf.empty()) {
            m |= POLLIN | POLLRDNORM;
        }
        if (snd_shut || s->tcb == nullptr || s->tcb->send_space() > 0) {
            m |= POLLOUT | POLLWRNORM;
        }
    }
    if (s->so_error != 0) {
        m |= POLLERR;
    }
    return m;
}

// ---- calls
// ---------------------------------------------------------------------------------------

long Adapter::socket(int domain, int type, int protocol) {
    Call call(*this);
    if (domain != AF_INET) {
        return -EAFNOSUPPORT;
    }
    if ((type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) != SOCK_STREAM) {
        return -ENOTSUP;
    }
    if (protocol != 0 && protocol != IPPROTO_TCP) {
        return -EPROTONOSUPPORT;
    }
    const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) {
        return -errno;
    }
    if (auto stale = sock(fd)) {
        // The number was ours and closed behind our back (kernel close): forget that socket.
        if (stale->listener != nullptr) {
            stack_->close_listener(*stale->listener);
        } else if (stale->tcb != nullptr) {
            tcp::Tcb* c = stale->tcb;
            release_conn(*stale);
            stack_->close(*c);
        }
        socks_.erase(fd);
    }
    epolls_.erase(fd);
    pipes_.erase(fd);
    auto s = std::make_shared<Sock>(*this, fd);
    s->nonblock = (type & SOCK_NONBLOCK) != 0;
    socks_.emplace(fd, std::move(s));
    return fd;
}

long Adapter::bind(int fd, const sockaddr* addr, unsigned addrlen) {
    Call call(*this);
    auto s = sock(fd);
    if (s == nullptr) {
        return -EBADF;
    }
    if (addr == nullptr || addrlen < sizeof(sockaddr_in)) {
        return -EINVAL;
    }
    if (addr->sa_family != AF_INET) {
        return -EAFNOSUPPORT;
    }
    if (s->bound || s->kind != Sock::Kind::fresh) {
        return -EINVAL;
    }
    sockaddr_in in{};
    std::memcpy(&in, addr, sizeof in);
    std::uint16_t port = in.sin_port;
    if (port == 0) {
        port = ephemeral_port();
    }
    for (auto& [ofd, o] : socks_) {
        if (o == s || !o->bound || o->lport != port) {
            continue;
        }
        const bool same_addr =
            o->laddr == in.sin_addr.s_addr || o->laddr == 0 || in.sin_addr.s_addr == 0;
        const bool reuse = s->reuseaddr && o->reuseaddr && o->kind != Sock::Kind::listening;
        if (same_addr && !reuse) {
            return -EADDRINUSE;
        }
    }
    s->bound = true;
    s->laddr = in.sin_addr.s_addr;
    s->lport = port;
    return 0;
}

long Adapter::listen(int fd, int backlog) {
    Call call(*this);
    auto s = sock(fd);
    if (s == nullptr) {
        return -EBADF;
    }
    if (s->kind == Sock::Kind::listening) {
        s->listener->backlog = static_cast<std::uint32_t>(std::max(backlog, 0) + 1);
        return 0;
    }
    if (s->kind != Sock::Kind::fresh) {
        return -EINVAL;
    }
    if (!s->bound) {
        s->bound = true;
        s->laddr = 0;
        s->lport = ephemeral_port();
    }
    int err = 0;
    // Linux's accept queue holds backlog + 1 connections.
    tcp::Listener* l = stack_->listen(s->laddr, s->lport, s.get(),
                                      static_cast<std::uint32_t>(std::max(backlog, 0) + 1), &err);
    if (l == nullptr) {
        return -(err != 0 ? err : EADDRINUSE);
    }
    s->listener = l;
    s->kind = Sock::Kind::listening;
    return 0;
}

long Adapter::accept(int fd, sockaddr* addr, unsigned* addrlen) {
    Call call(*this);
    auto s = sock(fd);
    if (s == nullptr) {
        return -EBADF;
    }
    if (s->kind != Sock::Kind::listening) {
        return -EINVAL;
    }
    auto ready = [&] {
        return s->kind != Sock::Kind::listening || !s->listener->accept_queue.empty();
    };
    if (!ready()) {
        if (s->nonblock) {
            return -EAGAIN;
        }
        wait(call.lk, ready, 0);
        if (s->kind != Sock::Kind::listening) {
            return -EINVAL; // closed by another thread
        }
    }
    const int nfd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (nfd < 0) {
        return -errno;
    }
    socks_.erase(nfd); // a stale number (see socket())
    auto ns = std::make_shared<Sock>(*this, nfd);
    tcp::Tcb* c = stack_->accept(*s->listener, ns.get());
    if (c == nullptr) {
        ::close(nfd);
        return -EAGAIN;
    }
    Sock& n = *ns;
    socks_.emplace(nfd, ns);
    // Options are inherited from the listener, as in Linux.
    n.reuseaddr = s->reuseaddr;
    n.keepalive = s->keepalive;
    n.nodelay = s->nodelay;
    n.linger_on = s->linger_on;
    n.linger_sec = s->linger_sec;
    n.keepidle = s->keepidle;
    n.keepintvl = s->keepintvl;
    n.keepcnt = s->keepcnt;
    n.user_timeout_ms = s->user_timeout_ms;
    n.rcvbuf = s->rcvbuf;
    n.sndbuf = s->sndbuf;
    adopt(n, c);
    if (addr != nullptr && addrlen != nullptr) {
        sockaddr_in in{};
        in.sin_family = AF_INET;
        in.sin_addr.s_addr = n.raddr;
        in.sin_port = n.rport;
        std::memcpy(addr, &in, std::min<std::size_t>(*addrlen, sizeof in));
        *addrlen = sizeof in;
    }
    return nfd;
}

long Adapter::connect(int fd, const sockaddr* addr, unsigned addrlen) {
    Call call(*this);
    auto s = sock(fd);
    if (s == nullptr) {
        return -EBADF;
    }
    if (addr == nullptr || addrlen < sizeof(sa_family_t)) {
        return -EINVAL;
    }
    if (addr->sa_family != AF_INET) {
        return -EAFNOSUPPORT; // AF_UNSPEC (disconnect) and IPv6 are not supported
    }
    if (addrlen < sizeof(sockaddr_in)) {
        return -EINVAL;
    }
    switch (s->kind) {
    case Sock::Kind::listening:
        return -EISCONN;
    case Sock::Kind::connected:
        if (s->nonblock && !s->connect_reported) {
            s->connect_reported = true; // the non-blocking connect's completion, as Linux does
            return 0;
        }
        return -EISCONN;
    case Sock::Kind::connecting:
        if (s->nonblock) {
            return -EALREADY;
        }
        break;
    case Sock::Kind::closed:
        if (s->so_error != 0) {
            const int e = s->so_error;
            s->so_error = 0;
            return -e;
        }
        s->kind = Sock::Kind::fresh; // a failed connect may be retried
        [[fallthrough]];
    case Sock::Kind::fresh: {
        sockaddr_in in{};
        std::memcpy(&in, addr, sizeof in);
        if (!s->bound) {
            s->bound = true;
            s->laddr = 0;
            s->lport = ephemeral_port();
        }
        FourTuple t;
        t.laddr = s->laddr != 0 ? s->laddr : opt_.ip;
        t.lport = s->lport;
        t.raddr = in.sin_addr.s_addr;
        t.rport = in.sin_port;
        int err = 0;
        tcp::Tcb* c = stack_->connect(t, s.get(), &err);
        if (c == nullptr) {
            return -(err != 0 ? err : ENOBUFS);
        }
        s->tcb = c;
        s->laddr = t.laddr;
        s->raddr = t.raddr;
        s->rport = t.rport;
        s->kind = Sock::Kind::connecting;
        s->peer_fin = false;
        s->rbuf.clear();
        apply_options(*s);
        if (s->nonblock) {
            return -EINPROGRESS;
        }
        break;
    }
    }
    wait(
        call.lk, [&] { return s->kind != Sock::Kind::connecting; }, 0);
    if (s->kind == Sock::Kind::connected) {
        s->connect_reported = true;
        return 0;
    }
    const int e = s->so_error != 0 ? s->so_error : ECONNREFUSED;
    s->so_error = 0;
    return -e;
}

long Adapter::recv(int fd, const iovec* iov, int iovcnt, int flags, sockaddr* from,
                   unsigned* fromlen) {
    Call call(*this);
    auto s = sock(fd);
    if (s == nullptr) {
        return -EBADF;
    }
    if (iovcnt < 0) {
        return -EINVAL;
    }
    if (flags & MSG_OOB) {
        return -EINVAL; // urgent data is ordinary data in tcpterm: there is never any OOB byte
    }
    if (s->kind == Sock::Kind::listening) {
        return -ENOTCONN;
    }
    std::size_t total = 0;
    for (int i = 0; i < iovcnt; ++i) {
        total += iov[i].iov_len;
    }
    const bool dontwait = s->nonblock || (flags & MSG_DONTWAIT);
    const bool peek = flags & MSG_PEEK;
    const bool waitall = (flags & MSG_WAITALL) && !peek && !dontwait;
    auto eof = [&] { return s->peer_fin || s->rd_shut || s->kind == Sock::Kind::closed; };
    auto ready = [&] {
        return (waitall ? s->rbuf.size() >= total : !s->rbuf.empty()) || s->so_error != 0 || eof();
    };
    if (total == 0) {
        return 0;
    }
    if (s->rbuf.empty() && s->so_error == 0 && !eof()) {
        if (s->kind == Sock::Kind::fresh) {
            return -ENOTCONN;
        }
        if (dontwait) {
            return -EAGAIN;
        }
    }
    if (!ready() && !dontwait) {
        wait(call.lk, ready, 0);
    }
    if (!s->rbuf.empty()) {
        std::size_t n = std::min(total, s->rbuf.size());
        std::size_t off = 0;
        for (int i = 0; i < iovcnt && off < n; ++i) {
            const std::size_t k = std::min(iov[i].iov_len, n - off);
            std::memcpy(iov[i].iov_base, s->rbuf.data() + off, k);
            off += k;
        }
        if (!peek) {
            s->rbuf.erase(0, n);
        }
        if (from != nullptr && fromlen != nullptr) {
            sockaddr_in in{};
            in.sin_family = AF_INET;
            in.sin_addr.s_addr = s->raddr;
            in.sin_port = s->rport;
            std::memcpy(from, &in, std::min<std::size_t>(*fromlen, sizeof in));
            *fromlen = sizeof in;
        }
        return static_cast<long>(n);
    }
    if (s->so_error != 0) {
        const int e = s->so_error;
        s->so_error = 0;
        return -e;
    }
    return 0; // end of stream
}

long Adapter::send(int fd, const iovec* iov, int iovcnt, int flags) {
    Call call(*this);
    auto s = sock(fd);
    if (s == nullptr) {
        return -EBADF;
    }
    if (iovcnt < 0) {
        return -EINVAL;
    }
    if (flags & (MSG_OOB | MSG_ZEROCOPY | MSG_FASTOPEN)) {
        return -ENOTSUP;
    }
    const bool dontwait = s->nonblock || (flags & MSG_DONTWAIT);
    if (s->kind == Sock::Kind::connecting) {
        if (dontwait) {
            return -EAGAIN;
        }
        wait(
            call.lk, [&] { return s->kind != Sock::Kind::connecting; }, 0);
    }
    if (s->so_error != 0) {
        const int e = s->so_error;
        s->so_error = 0;
        return -e;
    }
    if (s->wr_shut || s->tcb == nullptr || s->kind != Sock::Kind::connected) {
        return -EPIPE;
    }
    std::string data;
    for (int i = 0; i < iovcnt; ++i) {
        data.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    }
    std::size_t done = 0;
    while (done < data.size()) {
        if (s->tcb == nullptr) {
            break;
        }
        const long r = stack_->send(*s->tcb, data.data() + done, data.size() - done);
        if (opt_.verbose) {
            std::fprintf(stderr, "tcpterm pd: send fd %d: %ld of %zu (space %u)\n", fd, r,
                         data.size() - done, s->tcb != nullptr ? s->tcb->send_space() : 0);
        }
        if (r < 0) {
            if (done > 0) {
                break;
            }
            return r;
        }
        done += static_cast<std::size_t>(r);
        if (done == data.size()) {
            break;
        }
        if (dontwait) {
            break;
        }
        wait(
            call.lk,
            [&] { return s->tcb == nullptr || s->so_error != 0 || s->tcb->send_space() > 0; }, 0);
    }
    if (done == 0 && !data.empty()) {
        if (s->so_error != 0) {
            const int e = s->so_error;
            s->so_error = 0;
            return -e;
        }
        return s->tcb == nullptr ? -EPIPE : -EAGAIN;
    }
    return static_cast<long>(done);
}

long Adapter::fcntl(int fd, int cmd, long arg) {
    Call call(*this);
    auto s = sock(fd);
    if (s == nullptr) {
        return -EBADF;
    }
    switch (cmd) {
    case F_GETFL:
        return O_RDWR | (s->nonblock ? O_NONBLOCK : 0);
    case F_SETFL:
        s->nonblock = (arg & O_NONBLOCK) != 0;
        return 0;
    case F_GETFD:
        return FD_CLOEXEC;
    case F_SETFD:
        return 0;
    default:
        return -ENOTSUP;
    }
}

long Adapter::ioctl(int fd, unsigned long request, int* out) {
    Call call(*this);
    auto s = sock(fd);
    if (s == nullptr) {
        return -EBADF;
    }
    if (out == nullptr) {
        return -EFAULT;
    }
    switch (request) {
    case SIOCINQ: // FIONREAD
        if (s->kind == Sock::Kind::listening) {
            return -EINVAL;
        }
        *out = static_cast<int>(s->rbuf.size());
        return 0;
    case SIOCOUTQ:
        *out = s->tcb != nullptr ? static_cast<int>(s->tcb->snd_q.bytes()) : 0;
        return 0;
    case SIOCOUTQNSD:
        *out = s->tcb != nullptr ? static_cast<int>(s->tcb->unsent()) : 0;
        return 0;
    default:
        return -ENOTSUP;
    }
}

long Adapter::close(int fd) {
    Call call(*this);
    if (epolls_.erase(fd) != 0) {
        ::close(fd);
        return 0;
    }
    if (pipes_.erase(fd) != 0) {
        return ::close(fd) == 0 ? 0 : -errno;
    }
    auto s = sock(fd);
    if (s == nullptr) {
        return -EBADF;
    }
    if (s->kind == Sock::Kind::listening) {
        tcp::Listener* l = s->listener;
        s->listener = nullptr;
        s->kind = Sock::Kind::closed;
        stack_->close_listener(*l);
    } else if (s->tcb != nullptr) {
        tcp::Tcb* c = s->tcb;
        if (!s->rbuf.empty()) {
            // Unread data: the connection is reset (RFC 2525 2.17, as TcpStack::close does for
            // bytes still in its own queue; here they were already copied to the socket).
            release_conn(*s);
            stack_->abort(*c);
        } else if (s->linger_on && s->linger_sec > 0 && !s->nonblock) {
            // SO_LINGER with a timeout: close() blocks until the FIN is acked or time is up.
            stack_->close(*c);
            wait(
                call.lk, [&] { return s->tcb == nullptr; },
                vnow() + sec(static_cast<std::uint64_t>(s->linger_sec)));
            release_conn(*s);
        } else {
            release_conn(*s);
            stack_->close(*c);
        }
    }
    for (auto& [efd, set] : epolls_) {
        set.erase(fd);
    }
    s->kind = Sock::Kind::closed; // a call blocked on it in another thread returns
    socks_.erase(fd);
    ::close(fd);
    return 0;
}

long Adapter::shutdown(int fd, int how) {
    Call call(*this);
    auto s = sock(fd);
    if (s == nullptr) {
        return -EBADF;
    }
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) {
        return -EINVAL;
    }
    if (s->tcb == nullptr || s->kind == Sock::Kind::listening) {
        return -ENOTCONN;
    }
    const tcp::Shutdown h = how == SHUT_RD   ? tcp::Shutdown::rd
                            : how == SHUT_WR ? tcp::Shutdown::wr
                                             : tcp::Shutdown::rdwr;
    if (how != SHUT_WR) {
        s->rd_shut = true;
        s->rbuf.clear();
    }
    if (how != SHUT_RD) {
        s->wr_shut = true;
    }
    const int r = stack_->shutdown(*s->tcb, h);
    return r < 0 ? r : 0;
}

long Adapter::getsockopt(int fd, int level, int name, void* val, unsigned* len) {
    Call call(*this);
    auto s = sock(fd);
    if (s == nullptr) {
        return -EBADF;
    }
    if (val == nullptr || len == nullptr) {
        return -EFAULT;
    }
    auto put_int = [&](int v) -> long {
        if (*len < sizeof(int)) {
            return -EINVAL;
        }
        std::memcpy(val, &v, sizeof v);
        *len = sizeof v;
        return 0;
    };
    const tcp::TcpConfig& k = opt_.cfg.tcp;
    if (level == SOL_SOCKET) {
        switch (name) {
        case SO_REUSEADDR:
            return put_int(s->reuseaddr);
        case SO_KEEPALIVE:
            return put_int(s->keepalive);
        case SO_TYPE:
            return put_int(SOCK_STREAM);
        case SO_DOMAIN:
            return put_int(AF_INET);
        case SO_PROTOCOL:
            return put_int(IPPROTO_TCP);
        case SO_ACCEPTCONN:
            return put_int(s->kind == Sock::Kind::listening);
        case SO_ERROR: {
            const int e = s->so_error;
            s->so_error = 0;
            return put_int(e);
        }
        case SO_RCVBUF: // Linux reports twice the value set (bookkeeping overhead)
            return put_int(s->rcvbuf > 0 ? 2 * s->rcvbuf : static_cast<int>(k.rcv_buf));
        case SO_SNDBUF:
            return put_int(s->sndbuf > 0 ? 2 * s->sndbuf : static_cast<int>(k.snd_buf));
        case SO_LINGER: {
            if (*len < sizeof(linger)) {
                return -EINVAL;
            }
            linger l{s->linger_on ? 1 : 0, s->linger_sec};
            std::memcpy(val, &l, sizeof l);
            *len = sizeof l;
            return 0;
        }
        default:
            return -ENOTSUP;
        }
    }
    if (level == IPPROTO_TCP) {
        switch (name) {
        case TCP_NODELAY:
            return put_int(s->nodelay);
        case TCP_MAXSEG:
            return put_int(s->tcb != nullptr ? s->tcb->mss : k.mss);
        case TCP_KEEPIDLE:
            return put_int(s->keepidle > 0 ? s->keepidle
                                           : static_cast<int>(k.keepalive_time / kNsPerSec));
        case TCP_KEEPINTVL:
            return put_int(s->keepintvl > 0 ? s->keepintvl
                                            : static_cast<int>(k.keepalive_intvl / kNsPerSec));
        case TCP_KEEPCNT:
            return put_int(s->keepcnt > 0 ? s->keepcnt : static_cast<int>(k.keepalive_probes));
        case TCP_USER_TIMEOUT:
            return put_int(static_cast<int>(s->user_timeout_ms));
        default:
            return -ENOTSUP; // TCP_INFO, TCP_CONGESTION, ... are Linux's internals
        }
    }
    return -ENOTSUP;
}

long Adapter::setsockopt(int fd, int level, int name, const void* val, unsigned len) {
    Call call(*this);
    auto s = sock(fd);
    if (s == nullptr) {
        return -EBADF;
    }
    if (val == nullptr) {
        return -EFAULT;
    }
    int v = 0;
    const bool is_linger = level == SOL_SOCKET && name == SO_LINGER;
    if (!is_linger) {
        if (len < sizeof(int)) {
            return -EINVAL;
        }
        std::memcpy(&v, val, sizeof v);
    }
    if (level == SOL_SOCKET) {
        switch (name) {
        case SO_REUSEADDR:
        case SO_REUSEPORT:
            s->reuseaddr = v != 0;
            return 0;
        case SO_KEEPALIVE:
            s->keepalive = v != 0;
            break;
        case SO_LINGER: {
            if (len < sizeof(linger)) {
                return -EINVAL;
            }
            linger l{};
            std::memcpy(&l, val, sizeof l);
            s->linger_on = l.l_onoff != 0;
            s->linger_sec = std::max(l.l_linger, 0);
            break;
        }
        case SO_RCVBUF:
            s->rcvbuf = std::max(v, 1152); // Linux's minimum (SOCK_MIN_RCVBUF / 2)
            return 0; // receive bytes are copied to the socket at once: no window effect
        case SO_SNDBUF:
            s->sndbuf = std::max(v, 2304);
            break;
        default:
            return -ENOTSUP;
        }
    } else if (level == IPPROTO_TCP) {
        switch (name) {
        case TCP_NODELAY:
            s->nodelay = v != 0;
            break;
        case TCP_KEEPIDLE:
        case TCP_KEEPINTVL:
            if (v < 1 || v > 32767) {
                return -EINVAL;
            }
            (name == TCP_KEEPIDLE ? s->keepidle : s->keepintvl) = v;
            break;
        case TCP_KEEPCNT:
            if (v < 1 || v > 127) {
                return -EINVAL;
            }
            s->keepcnt = v;
            break;
        case TCP_USER_TIMEOUT:
            if (v < 0) {
                return -EINVAL;
            }
            s->user_timeout_ms = static_cast<unsigned>(v);
            if (s->tcb != nullptr) {
                stack_->set_user_timeout(*s->tcb, ms(s->user_timeout_ms));
            }
            return 0;
        default:
            return -ENOTSUP;
        }
    } else {
        return -ENOTSUP;
    }
    apply_options(*s);
    return 0;
}

long Adapter::poll(pollfd* fds, unsigned long nfds, int timeout_ms) {
    Call call(*this);
    if (fds == nullptr && nfds > 0) {
        return -EFAULT;
    }
    auto scan = [&] {
        long n = 0;
        for (unsigned long i = 0; i < nfds; ++i) {
            fds[i].revents = 0;
            if (fds[i].fd < 0) {
                continue;
            }
            const std::uint32_t want =
                static_cast<std::uint16_t>(fds[i].events) | POLLERR | POLLHUP | POLLNVAL;
            fds[i].revents = static_cast<short>(poll_mask(fds[i].fd) & want);
            n += fds[i].revents != 0 ? 1 : 0;
        }
        return n;
    };
    long n = scan();
    if (n > 0 || timeout_ms == 0) {
        return n;
    }
    const Nanos deadline = timeout_ms < 0 ? 0 : vnow() + ms(static_cast<std::uint64_t>(timeout_ms));
    wait(
        call.lk, [&] { return (n = scan()) > 0; }, deadline);
    return n;
}

long Adapter::epoll_create(int size) {
    Call call(*this);
    if (size <= 0) {
        return -EINVAL;
    }
    const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) {
        return -errno;
    }
    socks_.erase(fd);
    pipes_.erase(fd);
    epolls_[fd].clear();
    return fd;
}

long Adapter::epoll_ctl(int epfd, int op, int fd, epoll_event* ev) {
    Call call(*this);
    auto e = epolls_.find(epfd);
    if (e == epolls_.end()) {
        return sock(epfd) != nullptr ? -EINVAL : -EBADF;
    }
    if (sock(fd) == nullptr && pipes_.count(fd) == 0) {
        return -EBADF;
    }
    auto& set = e->second;
    switch (op) {
    case EPOLL_CTL_ADD:
        if (ev == nullptr) {
            return -EFAULT;
        }
        if (set.count(fd) != 0) {
            return -EEXIST;
        }
        set[fd] = EpollEntry{ev->events, ev->data.u64, ~std::uint64_t{0}, false};
        return 0;
    case EPOLL_CTL_MOD:
        if (ev == nullptr) {
            return -EFAULT;
        }
        if (set.count(fd) == 0) {
            return -ENOENT;
        }
        set[fd] = EpollEntry{ev->events, ev->data.u64, ~std::uint64_t{0}, false};
        return 0;
    case EPOLL_CTL_DEL:
        return set.erase(fd) != 0 ? 0 : -ENOENT;
    default:
        return -EINVAL;
    }
}

long Adapter::epoll_wait(int epfd, epoll_event* evs, int maxevents, int timeout_ms) {
    Call call(*this);
    if (epolls_.count(epfd) == 0) {
        return sock(epfd) != nullptr ? -EINVAL : -EBADF;
    }
    if (maxevents <= 0 || evs == nullptr) {
        return -EINVAL;
    }
    // Level-triggered; EPOLLET reports a ready descriptor only when an event (data, ACK, FIN,
    // error, connection) reached its socket since the last report, as Linux's wake-ups do;
    // EPOLLONESHOT disables it after one report.
    auto scan = [&](bool consume) {
        long n = 0;
        for (auto& [fd, en] : epolls_[epfd]) {
            if (en.disabled) {
                continue;
            }
            const std::uint32_t m =
                poll_mask(fd) & (en.events | EPOLLERR | EPOLLHUP) & ~std::uint32_t{POLLNVAL};
            const auto s = sock(fd);
            const std::uint64_t gen = s != nullptr ? s->gen : 0;
            const bool edge = (en.events & EPOLLET) != 0;
            const bool report = m != 0 && (!edge || gen != en.gen);
            if (!report || n >= maxevents) {
                continue;
            }
            if (consume) {
                en.gen = gen;
                evs[n].events = m;
                evs[n].data.u64 = en.data;
                if (en.events & EPOLLONESHOT) {
                    en.disabled = true;
                }
            }
            ++n;
        }
        return n;
    };
    if (scan(false) == 0 && timeout_ms != 0) {
        const Nanos deadline =
            timeout_ms < 0 ? 0 : vnow() + ms(static_cast<std::uint64_t>(timeout_ms));
        wait(
            call.lk, [&] { return epolls_.count(epfd) == 0 || scan(false) > 0; }, deadline);
        if (epolls_.count(epfd) == 0) {
            return -EBADF;
        }
    }
    return scan(true);
}

long Adapter::pipe(int fds[2]) {
    Call call(*this);
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return -errno;
    }
    for (int i = 0; i < 2; ++i) {
        socks_.erase(fds[i]);
        epolls_.erase(fds[i]);
        pipes_.insert(fds[i]);
    }
    return 0;
}

} // namespace tcpterm::pd
