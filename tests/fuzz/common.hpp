// Shared pieces of the libFuzzer targets: EAL start-up (once per process), one mbuf pool, a
// failure macro that aborts (libFuzzer reports it as a crash and saves the input), a reader that
// takes bytes from the front of the input (so seeds can be written by a script), mbufs whose data
// lives in an exact-size heap buffer (so AddressSanitizer sees a read one byte past the packet,
// which it cannot in DPDK's pool memory), and an RFC 1071 checksum used as an independent
// reference.
#pragma once

#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <netinet/in.h>
#include <sched.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n  ", __FILE__, __LINE__, #cond); \
            std::fprintf(stderr, __VA_ARGS__);                                                     \
            std::fprintf(stderr, "\n");                                                            \
            std::abort();                                                                          \
        }                                                                                          \
    } while (0)

namespace fuzz {

/// Starts EAL once (no hugepages, no PCI, no telemetry, a per-process file prefix) and creates
/// the pool. EAL pins the calling thread to lcore 0's CPU; the original affinity is restored so
/// that several fuzzers can run side by side on a small machine.
inline rte_mempool* init_eal_and_pool(const char* pool_name, unsigned mbufs) {
    // Each input builds a TcpStack, whose tables live in 2 MiB Regions asking for transparent
    // huge pages: the kernel would zero a whole huge page per table per run. 4 KiB pages cost a
    // run only what it touches.
    prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
    cpu_set_t cpus;
    const bool have_cpus = sched_getaffinity(0, sizeof cpus, &cpus) == 0;
    const std::string prefix = "--file-prefix=tcpterm-fuzz-" + std::to_string(getpid());
    std::vector<std::string> args = {"tcpterm-fuzz", "--no-huge",      "-m",   "128",
                                     "--no-pci",     "--no-telemetry", prefix, "-l",
                                     "0",            "--log-level=*:error"};
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
        std::fprintf(stderr, "fuzz: rte_eal_init failed (root is needed)\n");
        std::exit(2);
    }
    if (have_cpus) {
        sched_setaffinity(0, sizeof cpus, &cpus);
    }
    // No per-lcore cache: rte_mempool_in_use_count() is then exact, and a leak is visible.
    rte_mempool* mp = rte_pktmbuf_pool_create(pool_name, mbufs, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                              SOCKET_ID_ANY);
    if (mp == nullptr) {
        std::fprintf(stderr, "fuzz: mbuf pool creation failed\n");
        std::exit(2);
    }
    return mp;
}

/// Bytes from the front of the input; zeros once it is exhausted.
struct Reader {
    const std::uint8_t* p;
    std::size_t n;
    std::size_t i = 0;

    [[nodiscard]] bool done() const { return i >= n; }
    std::uint8_t u8() { return i < n ? p[i++] : 0; }
    std::uint16_t u16() {
        const std::uint16_t hi = u8();
        return static_cast<std::uint16_t>((hi << 8) | u8());
    }
    std::uint32_t u32() {
        const std::uint32_t hi = u16();
        return (hi << 16) | u16();
    }
};

inline std::uint16_t load16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t load32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           p[3];
}
inline void store16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
inline void store32(std::uint8_t* p, std::uint32_t v) {
    store16(p, static_cast<std::uint16_t>(v >> 16));
    store16(p + 2, static_cast<std::uint16_t>(v));
}

/// RFC 1071 one's-complement sum (not complemented), 32-bit accumulator folded at the end.
inline std::uint32_t sum16(const std::uint8_t* p, std::size_t len, std::uint32_t acc = 0) {
    for (std::size_t i = 0; i + 1 < len; i += 2) {
        acc += load16(p + i);
    }
    if (len & 1) {
        acc += std::uint32_t{p[len - 1]} << 8;
    }
    return acc;
}
inline std::uint16_t fold(std::uint32_t acc) {
    while (acc >> 16) {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    return static_cast<std::uint16_t>(acc);
}
/// The checksum to store: ~fold(sum). Verifying: fold(sum over data including it) == 0xFFFF.
inline std::uint16_t cksum(const std::uint8_t* p, std::size_t len, std::uint32_t acc = 0) {
    return static_cast<std::uint16_t>(~fold(sum16(p, len, acc)));
}
/// The IPv4 pseudo-header sum for an L4 length.
inline std::uint32_t pseudo_sum(const std::uint8_t* ip, std::uint8_t proto, std::uint16_t l4_len) {
    return sum16(ip + 12, 8) + proto + l4_len;
}

// ---- mbufs over exact-size heap buffers ----------------------------------------------------------

inline void ext_free(void* addr, void* opaque) {
    delete[] static_cast<std::uint8_t*>(addr);
    delete static_cast<rte_mbuf_ext_shared_info*>(opaque);
}

/// One mbuf (metadata from `mp`) whose data is a new heap buffer of exactly `len` bytes (no
/// headroom, no tailroom). nullptr if the pool is empty.
inline rte_mbuf* ext_segment(rte_mempool* mp, const std::uint8_t* data, std::size_t len) {
    rte_mbuf* m = rte_pktmbuf_alloc(mp);
    if (m == nullptr) {
        return nullptr;
    }
    auto* buf = new std::uint8_t[len == 0 ? 1 : len];
    if (len > 0) {
        std::memcpy(buf, data, len);
    }
    auto* sh = new rte_mbuf_ext_shared_info{};
    sh->free_cb = ext_free;
    sh->fcb_opaque = sh;
    rte_mbuf_ext_refcnt_set(sh, 1);
    rte_pktmbuf_attach_extbuf(m, buf, 0, static_cast<std::uint16_t>(len), sh);
    m->data_off = 0;
    m->data_len = static_cast<std::uint16_t>(len);
    m->pkt_len = static_cast<std::uint32_t>(len);
    return m;
}

/// A chain of exact-size segments cut at `cuts` (strictly increasing, inside (0, len)).
inline rte_mbuf* ext_chain(rte_mempool* mp, const std::uint8_t* data, std::size_t len,
                           const std::vector<std::size_t>& cuts) {
    rte_mbuf* head = nullptr;
    rte_mbuf* tail = nullptr;
    std::size_t start = 0;
    std::uint16_t segs = 0;
    for (std::size_t k = 0; k <= cuts.size(); ++k) {
        const std::size_t end = k < cuts.size() ? cuts[k] : len;
        rte_mbuf* s = ext_segment(mp, data + start, end - start);
        FUZZ_CHECK(s != nullptr, "fuzz pool exhausted");
        if (head == nullptr) {
            head = s;
        } else {
            tail->next = s;
        }
        tail = s;
        ++segs;
        start = end;
    }
    head->nb_segs = segs;
    head->pkt_len = static_cast<std::uint32_t>(len);
    return head;
}

/// Copies the packet bytes of `m` (whole chain) into a vector, checking the chain's bookkeeping.
inline std::vector<std::uint8_t> flatten(const rte_mbuf* m) {
    std::vector<std::uint8_t> out;
    std::uint32_t total = 0;
    std::uint16_t segs = 0;
    for (const rte_mbuf* s = m; s != nullptr; s = s->next) {
        const auto* p = rte_pktmbuf_mtod(s, const std::uint8_t*);
        out.insert(out.end(), p, p + s->data_len);
        total += s->data_len;
        ++segs;
    }
    FUZZ_CHECK(total == m->pkt_len, "chain: sum of data_len %u != pkt_len %u", total, m->pkt_len);
    FUZZ_CHECK(segs == m->nb_segs, "chain: %u segments but nb_segs %u", segs, m->nb_segs);
    return out;
}

} // namespace fuzz
