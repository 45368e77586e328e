#include "gen/http_response.hpp"

#include <algorithm>

namespace tcpterm::gen {

namespace {

constexpr std::string_view kLengthName = "content-length:";
constexpr std::string_view kVersion = "HTTP/1.";

char lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

} // namespace

std::string_view error_name(HttpResponseParser::Error e) noexcept {
    switch (e) {
    case HttpResponseParser::Error::none:
        return "none";
    case HttpResponseParser::Error::bad_status_line:
        return "bad_status_line";
    case HttpResponseParser::Error::bad_status:
        return "bad_status";
    case HttpResponseParser::Error::no_length:
        return "no_length";
    case HttpResponseParser::Error::bad_length:
        return "bad_length";
    case HttpResponseParser::Error::headers_too_long:
        return "headers_too_long";
    }
    return "?";
}

// One byte of the status line or of the headers. Lines end with LF (a CR before it is dropped).
HttpResponseParser::Result HttpResponseParser::header_byte(char ch) noexcept {
    if (bytes_ > kMaxHeaderBytes) {
        return fail(Error::headers_too_long);
    }
    if (ch == '\r') {
        return Result::more;
    }
    if (ch == '\n') {
        if (phase_ == Phase::status) {
            // "HTTP/1.x NNN" at least; the reason phrase may be empty.
            if (line_len_ < 12) {
                return fail(Error::bad_status_line);
            }
            phase_ = Phase::headers;
        } else if (line_len_ == 0) { // the blank line: headers are over
            if (!have_length_) {
                return fail(Error::no_length);
            }
            if (status_ != 200) {
                return fail(Error::bad_status);
            }
            length_ = value_;
            body_left_ = value_;
            phase_ = body_left_ == 0 ? Phase::done : Phase::body;
        } else if (in_length_) {
            if (!length_digits_) {
                return fail(Error::bad_length);
            }
            in_length_ = false;
        }
        line_len_ = 0;
        name_match_ = 0;
        return phase_ == Phase::done ? Result::done : Result::more;
    }
    const std::uint32_t pos = line_len_++;
    if (phase_ == Phase::status) {
        if (pos < kVersion.size()) {
            if (ch != kVersion[pos]) {
                return fail(Error::bad_status_line);
            }
        } else if (pos == 7) {
            if (ch < '0' || ch > '9') {
                return fail(Error::bad_status_line);
            }
        } else if (pos == 8) {
            if (ch != ' ') {
                return fail(Error::bad_status_line);
            }
        } else if (pos >= 9 && pos <= 11) {
            if (ch < '0' || ch > '9') {
                return fail(Error::bad_status_line);
            }
            status_ = static_cast<std::uint16_t>(status_ * 10 + (ch - '0'));
        }
        return Result::more;
    }
    if (in_length_) {
        if (ch == ' ' || ch == '\t') {
            return length_digits_ ? fail(Error::bad_length) : Result::more;
        }
        if (ch < '0' || ch > '9' || value_ > (~0ull - 9) / 10) {
            return fail(Error::bad_length);
        }
        value_ = value_ * 10 + static_cast<std::uint64_t>(ch - '0');
        length_digits_ = true;
        return Result::more;
    }
    if (pos == name_match_ && name_match_ < kLengthName.size()) {
        if (lower(ch) == kLengthName[name_match_]) {
            if (++name_match_ == kLengthName.size()) {
                if (have_length_) {
                    return fail(Error::bad_length); // a second Content-Length
                }
                have_length_ = true;
                in_length_ = true;
                value_ = 0;
            }
        } else {
            name_match_ = 0xff; // not this header; no match later in the line
        }
    }
    return Result::more;
}

HttpResponseParser::Result HttpResponseParser::feed(const char* p, std::size_t n,
                                                    std::size_t& used) noexcept {
    used = 0;
    while (used < n) {
        switch (phase_) {
        case Phase::status:
        case Phase::headers: {
            const Result r = header_byte(p[used]);
            ++used;
            ++bytes_;
            if (r != Result::more) {
                return r;
            }
            break;
        }
        case Phase::body: {
            const auto take = static_cast<std::size_t>(
                std::min<std::uint64_t>(body_left_, static_cast<std::uint64_t>(n - used)));
            used += take;
            bytes_ += take;
            body_left_ -= take;
            if (body_left_ == 0) {
                phase_ = Phase::done;
                return Result::done;
            }
            break;
        }
        case Phase::done:
            return Result::done;
        case Phase::failed:
            return Result::error;
        }
    }
    return phase_ == Phase::done ? Result::done
                                 : (phase_ == Phase::failed ? Result::error : Result::more);
}

} // namespace tcpterm::gen
