#include "engine/services.hpp"

#include "tcp/stack.hpp"

#include <fmt/core.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>

namespace tcpterm::engine {

namespace {

// Per-connection HTTP parse state, kept in Tcb::user (no allocation): how much of "\r\n\r\n" and
// of "connection: close" has been matched so far, and whether the request asked to close.
struct HttpState {     // trivial (value-initialised with {}), so it can live in the pointer's bytes
    std::uint8_t crlf; // bytes of "\r\n\r\n" matched
    std::uint8_t close_hdr; // bytes of "connection: close" matched
    bool wants_close;
};
static_assert(sizeof(HttpState) <= sizeof(void*));

HttpState load(const tcp::Tcb& c) {
    HttpState s{};
    std::memcpy(&s, &c.user, sizeof s);
    return s;
}
void store(tcp::Tcb& c, const HttpState& s) {
    std::memcpy(&c.user, &s, sizeof s);
}

constexpr char kEnd[] = "\r\n\r\n";
constexpr char kClose[] = "connection: close";

} // namespace

ServiceApp::ServiceApp(const ListenerConfig& cfg, tcp::TcpStack& stack) : cfg_(cfg), stack_(stack) {
    if (cfg_.service == Service::http) {
        response_ = fmt::format("HTTP/1.1 200 OK\r\nServer: tcpterm\r\nContent-Type: text/plain\r\n"
                                "Content-Length: {}\r\n\r\n",
                                cfg_.http_response_size);
        response_.append(cfg_.http_response_size, 'x');
    }
}

void ServiceApp::on_acceptable(tcp::Listener& l) {
    while (tcp::Tcb* c = stack_.accept(l, this)) {
        c->user = nullptr;
        if (cfg_.keepalive) {
            stack_.set_keepalive(*c, true);
        }
    }
}

void ServiceApp::on_readable(tcp::Tcb& c) {
    switch (cfg_.service) {
    case Service::echo:
        echo(c);
        break;
    case Service::discard: {
        char buf[2048];
        while (stack_.recv(c, buf, sizeof buf) > 0) {
        }
        break;
    }
    case Service::http:
        http(c);
        break;
    }
}

// Echo with flow control and without copies: the received mbufs move to the send queue, never
// more than the send buffer can take; the rest stays in the receive queue (closing our window)
// until on_writable. Once bytes are in the send queue, retransmission delivers them even when
// the mbuf pool is short of headers for a while, so nothing read is ever lost (a copying echo
// that met -ENOBUFS would drop bytes it had already read and acknowledged).
void ServiceApp::echo(tcp::Tcb& c) {
    for (;;) {
        const std::size_t room = c.send_space();
        const std::size_t avail = stack_.readable(c);
        if (avail == 0) {
            if (stack_.peer_closed(c)) {
                stack_.close(c); // everything echoed: now close our side too
            }
            return;
        }
        if (room == 0) {
            stack_.want_writable(c);
            return;
        }
        rte_mbuf* m = stack_.recv_mbuf(c, std::min(room, avail));
        if (m == nullptr) {
            // Splitting an mbuf needs a clone and the pool is empty: the bytes stay queued.
            // Ask for on_writable (our data in flight will be acked) and count it.
            ++mbuf_retries_;
            stack_.want_writable(c);
            return;
        }
        if (stack_.send_mbuf(c, m) < 0) {
            rte_pktmbuf_free(m); // shut for writing or gone: nobody to echo to
            return;
        }
        if (c.dead) {
            return;
        }
    }
}

// Reads one request at a time (peek, then consume only up to the end of the request), as a
// server that parses requests in order does: bytes a client pipelines after a request that closes
// the connection stay unread, and close() then answers them with RST (RFC 2525 2.17).
void ServiceApp::http(tcp::Tcb& c) {
    char buf[2048];
    HttpState st = load(c);
    for (;;) {
        const std::size_t n = stack_.peek(c, buf, sizeof buf);
        if (n == 0) {
            break;
        }
        std::size_t used = 0;
        bool answered = false;
        while (used < n && !answered) {
            const char ch = buf[used++];
            st.crlf =
                ch == kEnd[st.crlf] ? static_cast<std::uint8_t>(st.crlf + 1) : (ch == '\r' ? 1 : 0);
            // ASCII case fold without libc's locale-aware tolower (a call per byte: 9% of the
            // http service's cycles in the CPS benchmark).
            const char lower = ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch | 0x20) : ch;
            st.close_hdr = lower == kClose[st.close_hdr]
                               ? static_cast<std::uint8_t>(st.close_hdr + 1)
                               : (lower == kClose[0] ? 1 : 0);
            if (st.close_hdr == sizeof kClose - 1) {
                st.wants_close = true;
                st.close_hdr = 0;
            }
            answered = st.crlf == 4;
        }
        stack_.consume(c, used);
        if (c.dead) {
            return;
        }
        if (answered) {
            ++requests_;
            stack_.send(c, response_.data(), response_.size());
            if (c.dead) {
                return;
            }
            if (st.wants_close || cfg_.http_closer == Closer::server) {
                stack_.close(c);
                return;
            }
            st = HttpState{};
        }
    }
    store(c, st);
}

void ServiceApp::on_writable(tcp::Tcb& c) {
    if (cfg_.service == Service::echo) {
        echo(c);
    }
}

void ServiceApp::on_peer_fin(tcp::Tcb& c) {
    // The client is done. Echo closes once everything is echoed (closing with bytes unread would
    // send a RST); the others have read everything already.
    if (cfg_.service == Service::echo) {
        echo(c);
    } else {
        stack_.close(c);
    }
}

void ServiceApp::on_closed(tcp::Tcb&, int) {}

} // namespace tcpterm::engine
