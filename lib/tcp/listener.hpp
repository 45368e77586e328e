// Listener: a passive open (RFC 9293 LISTEN) on an address and port, with its SYN queue
// (connections in SYN_RECV) and accept queue (handshake done, not yet accepted), each bounded
// (syn_backlog, backlog). Closing a listener resets everything on both queues; connections
// already accepted belong to the application and are not touched.
#pragma once

#include "tcp/tcb.hpp"

#include <boost/intrusive/list.hpp>

#include <cstdint>

namespace tcpterm::tcp {

class ListenHandler;

struct Listener {
    /// What a SYN meets: accepted, dropped, or answered with RST (an application's connection
    /// limit, e.g. a virtual server's max_connections).
    enum class Gate : std::uint8_t { open, drop, reset };

    using Queue =
        boost::intrusive::list<Tcb,
                               boost::intrusive::member_hook<Tcb, Tcb::ListHook, &Tcb::listen_hook>,
                               boost::intrusive::constant_time_size<true>>;

    std::uint32_t laddr = 0; // network order; 0 = any local address
    std::uint16_t lport = 0; // network order
    std::uint32_t backlog = 0;
    std::uint32_t syn_backlog = 0;
    ListenHandler* handler = nullptr;
    Gate gate = Gate::open;
    void* user = nullptr;
    Queue syn_queue;
    Queue accept_queue;
    Listener* next = nullptr; // other listeners on the same port (different addresses)
    Nanos last_cookie = 0;    // last SYN cookie sent: ACKs are checked as cookies for 2 minutes
};

} // namespace tcpterm::tcp
