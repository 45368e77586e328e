// MbufQueue: a byte stream held in mbuf segments linked through rte_mbuf::next. It is the send
// queue (unacked + unsent bytes, in sequence order from SND.UNA) and the receive queue (in-order
// bytes the application has not read) of a connection. Received segments are queued as they
// arrived (headers stripped, no copy); the application's writes fill mbufs from the stack's pool.
// Bytes are consumed from the front (ACKed data, application reads) without copying the rest.
#pragma once

#include <cstddef>
#include <cstdint>

struct rte_mbuf;
struct rte_mempool;

namespace tcpterm::tcp {

class MbufQueue {
public:
    MbufQueue() = default;
    MbufQueue(const MbufQueue&) = delete;
    MbufQueue& operator=(const MbufQueue&) = delete;
    ~MbufQueue() { clear(); }

    [[nodiscard]] std::uint32_t bytes() const noexcept { return bytes_; }
    [[nodiscard]] bool empty() const noexcept { return bytes_ == 0; }
    [[nodiscard]] rte_mbuf* head() const noexcept { return head_; }

    /// Appends a packet (or chain) whose data_len fields give the bytes; takes ownership.
    /// Zero-length segments are freed, not queued.
    void append(rte_mbuf* m) noexcept;
    /// Appends bytes [off, off + len) of packet `m` (a chain); the rest of `m` is freed. Takes
    /// ownership of `m`.
    void append_range(rte_mbuf* m, std::uint32_t off, std::uint32_t len) noexcept;
    /// Copies `len` bytes into mbufs from `mp`, filling the last one first. Returns the bytes
    /// queued (fewer than len only if the pool ran dry).
    std::size_t append_copy(rte_mempool* mp, const void* data, std::size_t len) noexcept;
    /// Copies up to `len` bytes starting `off` bytes from the front; returns the count copied.
    std::size_t copy_out(std::size_t off, void* dst, std::size_t len) const noexcept;
    /// Drops `len` bytes from the front, freeing emptied segments.
    void drop_front(std::size_t len) noexcept;
    /// Detaches up to `len` bytes from the front as a separate chain (zero copy: whole segments
    /// move; a segment split at the boundary is cloned). Returns nullptr if empty.
    /// The returned chain's head has nb_segs/pkt_len set.
    rte_mbuf* take_front(std::size_t len, rte_mempool* clone_pool) noexcept;
    /// Moves every segment of `other` to the back of this queue (O(1)); `other` ends empty.
    void splice_back(MbufQueue& other) noexcept;
    void clear() noexcept;

private:
    rte_mbuf* head_ = nullptr;
    rte_mbuf* tail_ = nullptr;
    std::uint32_t bytes_ = 0;
};

} // namespace tcpterm::tcp
