// Built-in services for tests, demos and benchmarks: echo, discard and a minimal HTTP/1.1
// responder (fixed response of a configurable size, keep-alive honoured, a choice of which side
// closes first). They are ordinary applications of the TCP API (tcp/api.hpp): nothing here
// reaches around it.
#pragma once

#include "engine/config.hpp"
#include "tcp/api.hpp"

#include <string>

namespace tcpterm::tcp {
class TcpStack;
}

namespace tcpterm::engine {

class ServiceApp final : public tcp::ListenHandler, public tcp::ConnHandler {
public:
    ServiceApp(const ListenerConfig& cfg, tcp::TcpStack& stack);

    void on_acceptable(tcp::Listener& l) override;
    void on_readable(tcp::Tcb& c) override;
    void on_writable(tcp::Tcb& c) override;
    void on_peer_fin(tcp::Tcb& c) override;
    void on_closed(tcp::Tcb& c, int err) override;

    [[nodiscard]] const ListenerConfig& config() const noexcept { return cfg_; }
    [[nodiscard]] std::uint64_t requests() const noexcept { return requests_; }

private:
    void echo(tcp::Tcb& c);
    void http(tcp::Tcb& c);

    ListenerConfig cfg_;
    tcp::TcpStack& stack_;
    std::string response_;
    std::uint64_t requests_ = 0;
    std::uint64_t mbuf_retries_ = 0; // echo could not split an mbuf (pool empty): retried later
};

} // namespace tcpterm::engine
