// The application API: event callbacks an application implements, per connection and per
// listener. The operations (send, recv, shutdown, close, abort, linger, keepalive, timeouts) are
// methods of TcpStack (stack.hpp) taking the connection. The load balancer, the built-in
// responders and the generator are written on this API only.
//
// Errors are the errno values operators know: ECONNRESET (peer RST), EPIPE (send after the
// write side was shut or the connection is gone), ETIMEDOUT (keepalive, retransmission, user or
// idle timeout), ECONNREFUSED (RST in answer to our SYN).
#pragma once

namespace tcpterm::tcp {

struct Tcb;
struct Listener;

class ConnHandler {
public:
    virtual ~ConnHandler() = default;
    /// An active open completed (SYN_SENT -> ESTABLISHED).
    virtual void on_connected(Tcb&) {}
    /// New in-order bytes are available to recv().
    virtual void on_readable(Tcb&) {}
    /// The peer sent FIN: end of stream, after the bytes already readable. Not an error.
    virtual void on_peer_fin(Tcb&) {}
    /// Send space opened up after send() had filled the buffer.
    virtual void on_writable(Tcb&) {}
    /// The connection is gone for the application: error is 0 for an orderly end, or ECONNRESET,
    /// ETIMEDOUT, ECONNREFUSED, ECONNABORTED. The Tcb must not be used after this returns.
    /// Not called after close() (the connection is an orphan then) unless linger with a timeout
    /// is on, in which case it reports how the close ended.
    virtual void on_closed(Tcb&, int /*error*/) {}
};

class ListenHandler {
public:
    virtual ~ListenHandler() = default;
    /// A connection completed the handshake and waits in the accept queue.
    virtual void on_acceptable(Listener&) = 0;
};

} // namespace tcpterm::tcp
