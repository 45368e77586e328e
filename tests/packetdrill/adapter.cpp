// The adapter's machinery: construction and teardown, the virtual clock and its timer stepping,
// the netdev hooks (packets in and out), the timer thread and the state file. The socket calls are
// in sockets.cpp, the C entry points in interface.cpp.
//
// Design choice: virtual time. Stepping the timer wheel one tick at a time when the clock jumps
// (usleep, or netdev_receive waiting on a timer) makes every expiry happen at its own deadline, and
// a thread that a timer or a deadline wakes gets to run (the stepping waits for it, "settles")
// before time moves on, so blocking calls also return at the time the script expects.
#include "adapter.hpp"

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <arpa/inet.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace tcpterm::pd {

namespace {
constexpr Nanos kBase = sec(1); // virtual time of the adapter's start (non-zero)

std::string ip_str(std::uint32_t be) {
    char b[INET_ADDRSTRLEN] = {};
    in_addr a{};
    a.s_addr = be;
    inet_ntop(AF_INET, &a, b, sizeof b);
    return b;
}
} // namespace

Adapter::Adapter(Options o) : opt_(std::move(o)) {
    real0_ = std::chrono::steady_clock::now();
    timeval tv{};
    ::gettimeofday(&tv, nullptr);
    epoch0_us_ = static_cast<long long>(tv.tv_sec) * 1'000'000 + tv.tv_usec;
    last_ = kBase;
    clock_.set(kBase);
    origin_ = kBase;

    static std::atomic<int> n{0};
    const std::string name = "pd" + std::to_string(getpid()) + "_" + std::to_string(n++);
    mp_ =
        rte_pktmbuf_pool_create(name.c_str(), 8191, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (mp_ == nullptr) {
        throw std::runtime_error("tcpterm packetdrill adapter: mbuf pool creation failed");
    }
    stack_ = std::make_unique<tcp::TcpStack>(opt_.cfg, mp_, *this, kBase);
    sync_states();
    timer_ = std::thread([this] { timer_thread(); });
}

Adapter::~Adapter() {
    {
        Lock lk(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    timer_.join();
    Lock lk(mu_);
    for (auto& [fd, s] : socks_) {
        if (s->tcb != nullptr) {
            stack_->set_handler(*s->tcb, nullptr);
        }
    }
    stack_.reset(); // frees every connection silently
    out_.clear();
    // Descriptors packetdrill has not closed itself (it closes leftovers with the kernel's
    // close() before calling free, so a number may already be reused: close only eventfds).
    auto close_if_ours = [](int fd) {
        char link[64] = {};
        const std::string p = "/proc/self/fd/" + std::to_string(fd);
        const ssize_t n = readlink(p.c_str(), link, sizeof link - 1);
        if (n > 0 && std::strstr(link, "eventfd") != nullptr) {
            ::close(fd);
        }
    };
    for (auto& [fd, s] : socks_) {
        close_if_ours(fd);
    }
    for (auto& [fd, e] : epolls_) {
        close_if_ours(fd);
    }
    socks_.clear();
    epolls_.clear();
    rte_mempool_free(mp_);
}

// ---- clock
// ---------------------------------------------------------------------------------------

Nanos Adapter::vnow() {
    const auto real = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now() - real0_)
                          .count();
    Nanos t = kBase + static_cast<Nanos>(real) + offset_;
    if (t < last_) {
        t = last_;
    }
    last_ = t;
    clock_.set(t);
    return t;
}

void Adapter::jump_to(Nanos t) {
    const Nanos n = vnow();
    if (t > n) {
        offset_ += t - n;
        last_ = t;
        clock_.set(t);
    }
}

long long Adapter::to_usecs(Nanos t) const {
    return epoch0_us_ + static_cast<long long>((t - kBase) / kNsPerUs);
}

void Adapter::gettimeofday(long long* usecs) {
    Lock lk(mu_);
    run_timers();
    *usecs = to_usecs(vnow());
}

void Adapter::run_timers() {
    if (stack_->advance(vnow()) > 0) {
        sync_states();
        cv_.notify_all();
    }
}

void Adapter::settle(Lock& lk) {
    cv_.notify_all();
    lk.unlock();
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    lk.lock();
    const auto limit = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
    while (busy_ > 0 && std::chrono::steady_clock::now() < limit) {
        idle_cv_.wait_until(lk, limit);
    }
}

bool Adapter::step_to(Lock& lk, Nanos t, bool until_packet) {
    const std::size_t before = out_.size();
    const Nanos tick = opt_.cfg.timer_tick;
    Nanos prev = vnow();
    for (;;) {
        const Nanos n = vnow();
        bool woke = stack_->advance(n) > 0;
        const auto d = deadlines_.upper_bound(prev);
        if (d != deadlines_.end() && *d <= n) {
            woke = true; // a waiter's deadline passed: it returns now
        }
        prev = n;
        if (woke) {
            sync_states();
            settle(lk);
        }
        if (until_packet && out_.size() > before) {
            return true;
        }
        if (n >= t) {
            return false;
        }
        Nanos next = origin_ + ((n - origin_) / tick + 1) * tick;
        const auto w = deadlines_.upper_bound(n);
        if (w != deadlines_.end()) {
            next = std::min(next, *w); // land exactly on a waiter's deadline
        }
        jump_to(std::min(next, t));
    }
}

long Adapter::usleep(std::uint64_t us) {
    Lock lk(mu_);
    settle(lk); // a call the last event woke returns at the time of that event
    step_to(lk, vnow() + us * kNsPerUs, false);
    sync_states();
    return 0;
}

void Adapter::timer_thread() {
    Lock lk(mu_);
    while (!stop_) {
        run_timers();
        cv_.wait_for(lk, std::chrono::milliseconds(1));
    }
}

// ---- packets
// -------------------------------------------------------------------------------------

void Adapter::emit(rte_mbuf* m) {
    Pkt p;
    p.bytes.resize(m->pkt_len);
    const void* d = rte_pktmbuf_read(m, 0, m->pkt_len, p.bytes.data());
    if (d != nullptr && d != p.bytes.data()) {
        std::memcpy(p.bytes.data(), d, m->pkt_len);
    }
    rte_pktmbuf_free(m);
    p.usecs = to_usecs(clock_.now());
    out_.push_back(std::move(p));
    pkt_cv_.notify_all();
}

long Adapter::netdev_send(const void* buf, std::size_t count) {
    Call call(*this);
    const auto* b = static_cast<const std::uint8_t*>(buf);
    if (count < 20 || count > 65535) {
        return -EINVAL;
    }
    if ((b[0] >> 4) != 4) {
        return -EAFNOSUPPORT; // IPv6: the core is IPv4 only
    }
    rte_mbuf* head = nullptr;
    std::size_t off = 0;
    while (off < count) {
        rte_mbuf* seg = rte_pktmbuf_alloc(mp_);
        if (seg == nullptr) {
            rte_pktmbuf_free(head);
            return -ENOBUFS;
        }
        const auto n = static_cast<std::uint16_t>(
            std::min<std::size_t>(count - off, rte_pktmbuf_tailroom(seg)));
        std::memcpy(rte_pktmbuf_append(seg, n), b + off, n);
        off += n;
        if (head == nullptr) {
            head = seg;
        } else if (rte_pktmbuf_chain(head, seg) != 0) {
            rte_pktmbuf_free(seg);
            rte_pktmbuf_free(head);
            return -ENOBUFS;
        }
    }
    stack_->input(head, vnow());
    return 0;
}

long Adapter::netdev_receive(void* buf, std::size_t* count, long long* time_usecs) {
    Lock lk(mu_);
    const auto start = std::chrono::steady_clock::now();
    auto idle_since = start;
    for (;;) {
        if (!out_.empty()) {
            Pkt p = std::move(out_.front());
            out_.pop_front();
            const std::size_t n = std::min(*count, p.bytes.size());
            std::memcpy(buf, p.bytes.data(), n);
            *count = n;
            *time_usecs = p.usecs;
            return 0;
        }
        const auto now = std::chrono::steady_clock::now();
        if (busy_ > 0) {
            idle_since = now;
        } else if (now - idle_since >= std::chrono::milliseconds(2)) {
            if (stack_->wheel().size() > 0) {
                // Nothing runs and nothing is queued: only a timer can produce the packet. Move
                // the clock to it (60 s of virtual time at most per round, then let others in).
                step_to(lk, vnow() + sec(60), true);
                sync_states();
                lk.unlock();
                std::this_thread::yield();
                lk.lock();
                continue;
            }
            if (now - idle_since >= std::chrono::seconds(2) && *count >= 20) {
                // No timer, no call in progress: no packet can ever come, and packetdrill (which
                // retries this call forever) is waiting for one. Hand it a truncated IPv4 header
                // so that it stops with an error instead of hanging.
                std::fprintf(stderr, "tcpterm packetdrill adapter: the script waits for a packet "
                                     "that the stack will never send (no timer pending, no call "
                                     "running)\n");
                std::memset(buf, 0, 20);
                static_cast<std::uint8_t*>(buf)[0] = 0x44; // IPv4, header length 16: invalid
                *count = 20;
                *time_usecs = to_usecs(vnow());
                return 0;
            }
        }
        if (now - start > std::chrono::seconds(3)) {
            *count = 0;
            return -EAGAIN; // packetdrill asks again
        }
        run_timers();
        pkt_cv_.wait_for(lk, std::chrono::milliseconds(1));
    }
}

// ---- state file
// ----------------------------------------------------------------------------------

std::string Adapter::render_states() {
    std::vector<std::string> lines;
    for (auto& [fd, s] : socks_) {
        if (s->kind == Sock::Kind::listening) {
            lines.push_back(ip_str(s->laddr) + ":" + std::to_string(ntohs(s->lport)) +
                            " 0.0.0.0:0 LISTEN");
        }
    }
    stack_->for_each_connection([&](const ConnEntry& e, tcp::State st) {
        lines.push_back(ip_str(e.key.laddr) + ":" + std::to_string(ntohs(e.key.lport)) + " " +
                        ip_str(e.key.raddr) + ":" + std::to_string(ntohs(e.key.rport)) + " " +
                        std::string(tcp::state_bsd_name(st)));
    });
    std::sort(lines.begin(), lines.end());
    std::string out;
    for (auto& l : lines) {
        out += l;
        out += '\n';
    }
    return out;
}

std::string Adapter::states_text() {
    Lock lk(mu_);
    return render_states();
}

void Adapter::sync_states() {
    if (opt_.states.empty()) {
        return;
    }
    std::string s = render_states();
    if (s == last_states_) {
        return;
    }
    const int saved = errno;
    const std::string tmp = opt_.states + ".tmp";
    {
        std::ofstream f(tmp, std::ios::trunc);
        f << s;
    }
    if (std::rename(tmp.c_str(), opt_.states.c_str()) == 0) {
        last_states_ = std::move(s);
    }
    errno = saved;
}

} // namespace tcpterm::pd
