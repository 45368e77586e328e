#include "engine/engine.hpp"

#include <fmt/core.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_pdump.h>
#include <rte_thash.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>

namespace tcpterm::engine {

namespace {

std::atomic<int> g_signals{0};

std::atomic<int> g_reloads{0};

void on_signal(int) {
    g_signals.fetch_add(1, std::memory_order_relaxed);
}

void on_hangup(int) {
    g_reloads.fetch_add(1, std::memory_order_relaxed);
}

int worker_main(void* arg) {
    return static_cast<Worker*>(arg)->run();
}

// A symmetric Toeplitz key (0x6d5a repeated): a flow and its reverse hash alike, so both
// directions of a connection land on the same queue.
constexpr std::uint8_t kSymmetricKey[40] = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a};

std::string device_name(const std::string& device) {
    return device.substr(0, device.find(','));
}

bool has_arg(const std::vector<std::string>& v, std::initializer_list<const char*> names) {
    for (const auto& a : v) {
        for (const char* n : names) {
            if (a == n || a.rfind(std::string(n) + "=", 0) == 0) {
                return true;
            }
        }
    }
    return false;
}

} // namespace

std::string ipv4_str(std::uint32_t a) {
    return fmt::format("{}.{}.{}.{}", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

Engine::Engine(EngineConfig cfg) : cfg_(std::move(cfg)) {}

Engine::~Engine() {
    workers_.clear();
    for (std::uint16_t p : port_ids_) {
        rte_eth_dev_stop(p);
        rte_eth_dev_close(p);
    }
    if (mp_ != nullptr) {
        rte_mempool_free(mp_);
    }
    if (eal_up_) {
        if (cfg_.pdump) {
            rte_pdump_uninit();
        }
        rte_eal_cleanup();
    }
}

std::vector<std::string> Engine::eal_args(const std::string& argv0,
                                          const std::vector<std::string>& extra) const {
    std::vector<std::string> a{argv0};
    a.insert(a.end(), cfg_.eal_args.begin(), cfg_.eal_args.end());
    a.insert(a.end(), extra.begin(), extra.end());
    if (!has_arg(a, {"--file-prefix"})) {
        a.push_back("--file-prefix=" +
                    (cfg_.file_prefix.empty() ? std::string("tcpterm") : cfg_.file_prefix));
    }
    if (!has_arg(a, {"-l", "--lcores", "-c"})) {
        a.push_back("-l");
        a.push_back(fmt::format("0-{}", cfg_.workers));
    }
    for (const PortConfig& p : cfg_.ports) {
        if (p.device.rfind("net_", 0) == 0) {
            a.push_back("--vdev=" + p.device);
        } else {
            a.push_back("-a");
            a.push_back(p.device);
        }
    }
    return a;
}

bool Engine::init(const std::string& argv0, const std::vector<std::string>& extra) {
    std::vector<std::string> args = eal_args(argv0, extra);
    std::vector<char*> argv;
    for (auto& s : args) {
        argv.push_back(s.data());
    }
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
        fmt::print(stderr, "tcpterm: EAL initialisation failed: {}\n", rte_strerror(rte_errno));
        return false;
    }
    eal_up_ = true;
    clock_ = std::make_unique<TscClock>();
    if (cfg_.pdump && rte_pdump_init() != 0) {
        fmt::print(stderr, "tcpterm: rte_pdump_init failed (capture unavailable)\n");
    }
    if (rte_lcore_count() < cfg_.workers + 1) {
        fmt::print(stderr, "tcpterm: {} workers need {} lcores, EAL has {}\n", cfg_.workers,
                   cfg_.workers + 1, rte_lcore_count());
        return false;
    }
    const int socket = static_cast<int>(rte_socket_id());
    mp_ = rte_pktmbuf_pool_create("tcpterm_mbufs", cfg_.mbufs, cfg_.mbuf_cache, 0,
                                  RTE_MBUF_DEFAULT_BUF_SIZE, socket);
    if (mp_ == nullptr) {
        fmt::print(stderr,
                   "tcpterm: mbuf pool of {} failed: {} (raise -m or lower [engine] mbufs)\n",
                   cfg_.mbufs, rte_strerror(rte_errno));
        return false;
    }
    net::Checksum csum = net::Checksum::offload;
    rte_convert_rss_key(reinterpret_cast<const std::uint32_t*>(kSymmetricKey),
                        reinterpret_cast<std::uint32_t*>(rss_key_), sizeof rss_key_);
    for (const PortConfig& pc : cfg_.ports) {
        std::uint16_t pid = 0;
        std::vector<std::uint16_t> reta;
        if (!setup_port(pc, pid, csum, reta)) {
            return false;
        }
        port_ids_.push_back(pid);
        retas_.push_back(std::move(reta));
    }
    unsigned lcore = rte_get_next_lcore(-1, 1, 0);
    for (unsigned i = 0; i < cfg_.workers; ++i) {
        std::vector<PortRuntime> prs;
        for (std::size_t k = 0; k < cfg_.ports.size(); ++k) {
            PortRuntime pr;
            pr.port_id = port_ids_[k];
            pr.queue = static_cast<std::uint16_t>(i);
            rte_eth_macaddr_get(pr.port_id, &pr.mac);
            pr.addresses = cfg_.ports[k].addresses;
            pr.gateway = cfg_.ports[k].gateway;
            pr.reta = retas_[k];
            pr.rss_key = rss_key_;
            prs.push_back(std::move(pr));
        }
        workers_.push_back(std::make_unique<Worker>(i, lcore, cfg_.workers, cfg_, std::move(prs),
                                                    mp_, csum, *clock_));
        lcore = rte_get_next_lcore(lcore, 1, 0);
    }
    for (const AppFactory& f : app_factories_) {
        for (auto& w : workers_) {
            w->add_app(f);
        }
    }
    if (!register_telemetry(*this)) {
        fmt::print(stderr, "tcpterm: telemetry registration failed\n");
    }
    return true;
}

bool Engine::setup_port(const PortConfig& pc, std::uint16_t& pid, net::Checksum& csum,
                        std::vector<std::uint16_t>& reta) {
    const std::string name = device_name(pc.device);
    if (rte_eth_dev_get_port_by_name(name.c_str(), &pid) != 0) {
        fmt::print(stderr, "tcpterm: port '{}' not found (device '{}')\n", name, pc.device);
        return false;
    }
    rte_eth_dev_info info{};
    if (rte_eth_dev_info_get(pid, &info) != 0) {
        fmt::print(stderr, "tcpterm: cannot read device info of '{}'\n", name);
        return false;
    }
    const auto queues = static_cast<std::uint16_t>(cfg_.workers);
    if (queues > info.max_rx_queues || queues > info.max_tx_queues) {
        fmt::print(stderr, "tcpterm: '{}' has {} RX / {} TX queues, {} workers need one each\n",
                   name, info.max_rx_queues, info.max_tx_queues, queues);
        return false;
    }
    rte_eth_conf conf{};
    const std::uint64_t tx_csum = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
    const std::uint64_t rx_csum = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
    if (pc.checksum_offload && (info.tx_offload_capa & tx_csum) == tx_csum) {
        conf.txmode.offloads |= tx_csum;
    } else {
        csum = net::Checksum::software; // one port without it: the stack computes checksums
    }
    if (pc.checksum_offload) {
        conf.rxmode.offloads |= info.rx_offload_capa & rx_csum;
    }
    static std::uint8_t key[40];
    std::copy(std::begin(kSymmetricKey), std::end(kSymmetricKey), key);
    if (queues > 1 && pc.rss && info.flow_type_rss_offloads != 0) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_key = key;
        conf.rx_adv_conf.rss_conf.rss_key_len = 40;
        conf.rx_adv_conf.rss_conf.rss_hf =
            info.flow_type_rss_offloads & (RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP);
    } else if (queues > 1) {
        fmt::print(
            stderr,
            "tcpterm: '{}' has no RSS: {} workers would split flows arbitrarily; use 1 worker\n",
            name, queues);
        return false;
    }
    int rc = rte_eth_dev_configure(pid, queues, queues, &conf);
    if (rc != 0) {
        fmt::print(stderr, "tcpterm: configuring '{}' failed: {}\n", name, rte_strerror(-rc));
        return false;
    }
    if (pc.mtu != 1500 && rte_eth_dev_set_mtu(pid, pc.mtu) != 0) {
        fmt::print(stderr, "tcpterm: '{}' refused MTU {}\n", name, pc.mtu);
        return false;
    }
    std::uint16_t rxd = pc.rx_desc;
    std::uint16_t txd = pc.tx_desc;
    rte_eth_dev_adjust_nb_rx_tx_desc(pid, &rxd, &txd);
    const int socket = rte_eth_dev_socket_id(pid);
    for (std::uint16_t q = 0; q < queues; ++q) {
        rte_eth_rxconf rxc = info.default_rxconf;
        rxc.offloads = conf.rxmode.offloads;
        rte_eth_txconf txc = info.default_txconf;
        txc.offloads = conf.txmode.offloads;
        if ((rc = rte_eth_rx_queue_setup(pid, q, rxd, socket < 0 ? SOCKET_ID_ANY : socket, &rxc,
                                         mp_)) != 0 ||
            (rc = rte_eth_tx_queue_setup(pid, q, txd, socket < 0 ? SOCKET_ID_ANY : socket, &txc)) !=
                0) {
            fmt::print(stderr, "tcpterm: queue {} of '{}' failed: {}\n", q, name,
                       rte_strerror(-rc));
            return false;
        }
    }
    if ((rc = rte_eth_dev_start(pid)) != 0) {
        fmt::print(stderr, "tcpterm: starting '{}' failed: {}\n", name, rte_strerror(-rc));
        return false;
    }
    if (pc.promiscuous) {
        rte_eth_promiscuous_enable(pid);
    }
    if (conf.rxmode.mq_mode == RTE_ETH_MQ_RX_RSS) {
        // The redirection table, so workers can pick local ports whose replies come back to
        // them (active opens: the load balancer's backend legs, the generator).
        const std::uint16_t n = info.reta_size;
        std::vector<rte_eth_rss_reta_entry64> entries((n + RTE_ETH_RETA_GROUP_SIZE - 1) /
                                                      RTE_ETH_RETA_GROUP_SIZE);
        for (auto& e : entries) {
            e.mask = ~0ull;
        }
        if (n > 0 && rte_eth_dev_rss_reta_query(pid, entries.data(), n) == 0) {
            reta.resize(n);
            for (std::uint16_t i = 0; i < n; ++i) {
                reta[i] = entries[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE];
            }
        } else {
            // DPDK's default table spreads entries round robin over the queues.
            reta.resize(n > 0 ? n : 128);
            for (std::size_t i = 0; i < reta.size(); ++i) {
                reta[i] = static_cast<std::uint16_t>(i % queues);
            }
            fmt::print(stderr, "tcpterm: '{}' cannot report its RSS table; assuming the default\n",
                       name);
        }
    }
    rte_ether_addr mac{};
    rte_eth_macaddr_get(pid, &mac);
    char macs[RTE_ETHER_ADDR_FMT_SIZE];
    rte_ether_format_addr(macs, sizeof macs, &mac);
    std::string addrs;
    for (const Ipv4Prefix& a : pc.addresses) {
        addrs += fmt::format(" {}/{}", ipv4_str(a.addr), a.len);
    }
    fmt::print("tcpterm: port {} '{}' mac {}{}, {} queue(s), checksum {}, rss {}\n", pid, name,
               macs, addrs, queues, (conf.txmode.offloads & tx_csum) ? "offload" : "software",
               conf.rxmode.mq_mode == RTE_ETH_MQ_RX_RSS ? "on (symmetric)" : "off");
    return true;
}

bool Engine::run_command(std::size_t i, Command& c, Nanos timeout) {
    c.done.store(false, std::memory_order_relaxed);
    if (i >= workers_.size() || workers_[i]->exited() || !workers_[i]->post(c)) {
        return false;
    }
    const Worker& w = *workers_[i];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeout);
    bool late = false;
    while (!c.done.load(std::memory_order_acquire)) {
        if (w.exited()) {
            // The worker left its loop. Whatever it answered before that is visible now; a
            // command still unanswered sits in a ring nobody reads again (the ring is freed with
            // the worker, its entries never touched), so c may go.
            return c.done.load(std::memory_order_acquire) && !late;
        }
        // Past the deadline the worker may still hold a pointer to c: wait for it (or for its
        // exit) rather than let c die, and report the timeout.
        late = late || std::chrono::steady_clock::now() > deadline;
        std::this_thread::sleep_for(late ? std::chrono::milliseconds(1)
                                         : std::chrono::microseconds(100));
    }
    return !late;
}

std::int64_t Engine::open_connections() const {
    std::int64_t n = 0;
    for (const auto& w : workers_) {
        const tcp::TcpStats& s = w->tcp_stats();
        for (tcp::State st : {tcp::State::syn_recv, tcp::State::established, tcp::State::fin_wait1,
                              tcp::State::fin_wait2, tcp::State::close_wait, tcp::State::closing,
                              tcp::State::last_ack, tcp::State::syn_sent}) {
            n += s.in_state(st);
        }
    }
    return n;
}

void Engine::graceful_stop() {
    std::uint64_t half_open = 0;
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        Command c;
        c.kind = Command::Kind::stop_accept;
        if (run_command(i, c, sec(2))) {
            half_open += c.count;
        }
    }
    const std::int64_t at_stop = open_connections();
    fmt::print(
        "tcpterm: stopping: listeners closed, {} half-open reset, {} open connections get {} ms to "
        "finish\n",
        half_open, at_stop, cfg_.drain_timeout / kNsPerMs);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::nanoseconds(cfg_.drain_timeout);
    while (open_connections() > 0 && std::chrono::steady_clock::now() < deadline &&
           g_signals.load(std::memory_order_relaxed) < 2) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::uint64_t reset = 0;
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        Command c;
        c.kind = Command::Kind::reset_all;
        if (run_command(i, c, sec(2))) {
            reset += c.count;
        }
    }
    const std::int64_t finished =
        std::max<std::int64_t>(0, at_stop - static_cast<std::int64_t>(reset));
    fmt::print("tcpterm: stopped: {} half-open reset, {} finished within the drain, {} reset at "
               "the deadline{}\n",
               half_open, finished, reset,
               g_signals.load() >= 2 ? " (second signal: immediate stop)" : "");
}

void Engine::request_stop() noexcept {
    int expected = 0;
    g_signals.compare_exchange_strong(expected, 1, std::memory_order_relaxed);
}

int Engine::run() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    struct sigaction hup {};
    hup.sa_handler = on_hangup;
    sigemptyset(&hup.sa_mask);
    sigaction(SIGHUP, &hup, nullptr);
    for (auto& w : workers_) {
        if (rte_eal_remote_launch(worker_main, w.get(), w->lcore()) != 0) {
            fmt::print(stderr, "tcpterm: launching worker on lcore {} failed\n", w->lcore());
            return 1;
        }
    }
    std::string listeners;
    for (const ListenerConfig& l : cfg_.listeners) {
        listeners += fmt::format(" {}:{}/{}", ipv4_str(l.address), l.port,
                                 l.service == Service::echo   ? "echo"
                                 : l.service == Service::http ? "http"
                                                              : "discard");
    }
    for (const VirtualServerConfig& v : cfg_.virtual_servers) {
        listeners +=
            fmt::format(" {}:{}/lb({} -> pool {})", ipv4_str(v.address), v.port, v.name, v.pool);
    }
    fmt::print("tcpterm: {} worker(s) running; listening on{}\n", workers_.size(), listeners);
    std::fflush(stdout);
    int reloads = 0;
    while (g_signals.load(std::memory_order_relaxed) == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        for (const auto& tick : ticks_) {
            tick();
        }
        if (const int r = g_reloads.load(std::memory_order_relaxed); r != reloads) {
            reloads = r;
            if (reload_hooks_.empty()) {
                fmt::print("tcpterm: SIGHUP: nothing to reload (no virtual servers)\n");
            }
            for (const auto& hook : reload_hooks_) {
                hook();
            }
            std::fflush(stdout);
        }
    }
    graceful_stop();
    for (auto& w : workers_) {
        w->request_stop();
    }
    rte_eal_mp_wait_lcore();
    std::fflush(stdout);
    return 0;
}

} // namespace tcpterm::engine
