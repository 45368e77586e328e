#include "tcp/mbuf_queue.hpp"

#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>

namespace tcpterm::tcp {

void MbufQueue::append(rte_mbuf* m) noexcept {
    while (m != nullptr) {
        rte_mbuf* next = m->next;
        m->next = nullptr;
        if (m->data_len == 0) {
            rte_pktmbuf_free_seg(m);
        } else {
            m->nb_segs = 1;
            m->pkt_len = m->data_len;
            if (tail_ != nullptr) {
                tail_->next = m;
            } else {
                head_ = m;
            }
            tail_ = m;
            bytes_ += m->data_len;
        }
        m = next;
    }
}

void MbufQueue::append_range(rte_mbuf* m, std::uint32_t off, std::uint32_t len) noexcept {
    rte_mbuf* keep_head = nullptr;
    rte_mbuf* keep_tail = nullptr;
    while (m != nullptr) {
        rte_mbuf* next = m->next;
        m->next = nullptr;
        const std::uint32_t dl = m->data_len;
        if (off >= dl || len == 0) { // wholly before the range, or past its end
            off -= std::min(off, dl);
            rte_pktmbuf_free_seg(m);
        } else {
            m->data_off = static_cast<std::uint16_t>(m->data_off + off);
            m->data_len = static_cast<std::uint16_t>(std::min(dl - off, len));
            len -= m->data_len;
            off = 0;
            if (keep_tail != nullptr) {
                keep_tail->next = m;
            } else {
                keep_head = m;
            }
            keep_tail = m;
        }
        m = next;
    }
    append(keep_head);
}

void MbufQueue::splice_back(MbufQueue& other) noexcept {
    if (other.head_ == nullptr) {
        return;
    }
    if (tail_ != nullptr) {
        tail_->next = other.head_;
    } else {
        head_ = other.head_;
    }
    tail_ = other.tail_;
    bytes_ += other.bytes_;
    other.head_ = other.tail_ = nullptr;
    other.bytes_ = 0;
}

std::size_t MbufQueue::append_copy(rte_mempool* mp, const void* data, std::size_t len) noexcept {
    const auto* src = static_cast<const std::uint8_t*>(data);
    std::size_t done = 0;
    // Fill the tail first if it is a plain, unshared buffer of ours.
    if (tail_ != nullptr && RTE_MBUF_DIRECT(tail_) && rte_mbuf_refcnt_read(tail_) == 1) {
        const std::size_t room = rte_pktmbuf_tailroom(tail_);
        const std::size_t n = std::min(room, len);
        if (n > 0) {
            std::memcpy(rte_pktmbuf_mtod_offset(tail_, std::uint8_t*, tail_->data_len), src, n);
            tail_->data_len = static_cast<std::uint16_t>(tail_->data_len + n);
            tail_->pkt_len = tail_->data_len;
            bytes_ += static_cast<std::uint32_t>(n);
            done = n;
        }
    }
    while (done < len) {
        rte_mbuf* m = rte_pktmbuf_alloc(mp);
        if (m == nullptr) {
            break;
        }
        const std::size_t n = std::min<std::size_t>(rte_pktmbuf_tailroom(m), len - done);
        std::memcpy(rte_pktmbuf_mtod(m, std::uint8_t*), src + done, n);
        m->data_len = static_cast<std::uint16_t>(n);
        m->pkt_len = static_cast<std::uint32_t>(n);
        append(m);
        done += n;
    }
    return done;
}

std::size_t MbufQueue::copy_out(std::size_t off, void* dst, std::size_t len) const noexcept {
    auto* out = static_cast<std::uint8_t*>(dst);
    std::size_t copied = 0;
    for (rte_mbuf* m = head_; m != nullptr && copied < len; m = m->next) {
        if (off >= m->data_len) {
            off -= m->data_len;
            continue;
        }
        const std::size_t n = std::min<std::size_t>(m->data_len - off, len - copied);
        std::memcpy(out + copied, rte_pktmbuf_mtod_offset(m, const std::uint8_t*, off), n);
        copied += n;
        off = 0;
    }
    return copied;
}

void MbufQueue::drop_front(std::size_t len) noexcept {
    len = std::min<std::size_t>(len, bytes_);
    bytes_ -= static_cast<std::uint32_t>(len);
    while (len > 0 && head_ != nullptr) {
        if (len >= head_->data_len) {
            len -= head_->data_len;
            rte_mbuf* next = head_->next;
            head_->next = nullptr;
            rte_pktmbuf_free_seg(head_);
            head_ = next;
        } else {
            head_->data_off = static_cast<std::uint16_t>(head_->data_off + len);
            head_->data_len = static_cast<std::uint16_t>(head_->data_len - len);
            head_->pkt_len = head_->data_len;
            len = 0;
        }
    }
    if (head_ == nullptr) {
        tail_ = nullptr;
    }
}

rte_mbuf* MbufQueue::take_front(std::size_t len, rte_mempool* clone_pool) noexcept {
    len = std::min<std::size_t>(len, bytes_);
    if (len == 0) {
        return nullptr;
    }
    rte_mbuf* first = nullptr;
    rte_mbuf* last = nullptr;
    std::uint32_t taken = 0;
    std::uint16_t segs = 0;
    while (taken < len && head_ != nullptr) {
        rte_mbuf* m;
        if (head_->data_len <= len - taken) {
            m = head_;
            head_ = m->next;
            m->next = nullptr;
        } else {
            // Split: clone the head for the part taken, advance the original past it.
            const std::uint16_t part = static_cast<std::uint16_t>(len - taken);
            // rte_pktmbuf_clone clones a whole chain: detach the head from the queue first.
            rte_mbuf* rest = head_->next;
            head_->next = nullptr;
            m = rte_pktmbuf_clone(head_, clone_pool);
            head_->next = rest;
            if (m == nullptr) {
                break;
            }
            m->data_len = part;
            m->pkt_len = part;
            head_->data_off = static_cast<std::uint16_t>(head_->data_off + part);
            head_->data_len = static_cast<std::uint16_t>(head_->data_len - part);
            head_->pkt_len = head_->data_len;
        }
        taken += m->data_len;
        ++segs;
        if (last != nullptr) {
            last->next = m;
        } else {
            first = m;
        }
        last = m;
    }
    if (head_ == nullptr) {
        tail_ = nullptr;
    }
    bytes_ -= taken;
    if (first != nullptr) {
        first->nb_segs = segs;
        first->pkt_len = taken;
    }
    return first;
}

void MbufQueue::clear() noexcept {
    while (head_ != nullptr) {
        rte_mbuf* next = head_->next;
        head_->next = nullptr;
        rte_pktmbuf_free_seg(head_);
        head_ = next;
    }
    tail_ = nullptr;
    bytes_ = 0;
}

} // namespace tcpterm::tcp
