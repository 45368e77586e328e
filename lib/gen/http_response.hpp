// HttpResponseParser: reads one HTTP/1.x response incrementally, as bytes arrive in whatever
// pieces TCP delivers them, with a few bytes of state per connection (it lives in the generator's
// preallocated connection slot). It checks what a load generator must know to call a response
// good: the status line ("HTTP/1.x 200"), the Content-Length header (required: the generator
// measures fixed-size responses, so chunked or close-delimited bodies are refused), the end of
// the headers and then exactly Content-Length body bytes. Header names are matched without case.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tcpterm::gen {

class HttpResponseParser {
public:
    enum class Result : std::uint8_t { more, done, error };
    enum class Error : std::uint8_t {
        none,
        bad_status_line, // not "HTTP/1.x NNN ..."
        bad_status,      // status other than 200
        no_length,       // headers ended without Content-Length
        bad_length,      // Content-Length not a number (or repeated with another value)
        headers_too_long // more than kMaxHeaderBytes before the blank line
    };
    static constexpr std::uint32_t kMaxHeaderBytes = 8192;

    void reset() noexcept { *this = HttpResponseParser{}; }
    /// Consumes bytes of the response; `used` says how many were taken (fewer than n only when
    /// the response ended (done) or was refused (error) inside the piece).
    Result feed(const char* p, std::size_t n, std::size_t& used) noexcept;

    [[nodiscard]] Error error() const noexcept { return error_; }
    [[nodiscard]] std::uint16_t status() const noexcept { return status_; }
    [[nodiscard]] std::uint64_t content_length() const noexcept { return length_; }
    /// Bytes taken so far (headers and body).
    [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_; }

private:
    enum class Phase : std::uint8_t { status, headers, body, done, failed };
    Result fail(Error e) noexcept {
        error_ = e;
        phase_ = Phase::failed;
        return Result::error;
    }
    Result header_byte(char ch) noexcept;

    std::uint64_t length_ = 0;    // Content-Length
    std::uint64_t body_left_ = 0; // body bytes still expected
    std::uint64_t bytes_ = 0;
    std::uint32_t line_len_ = 0; // bytes of the current line, CR/LF excluded
    std::uint16_t status_ = 0;
    Phase phase_ = Phase::status;
    Error error_ = Error::none;
    std::uint8_t name_match_ = 0; // bytes of "content-length:" matched at the line's start
    bool in_length_ = false;      // reading the Content-Length value
    bool have_length_ = false;
    bool length_digits_ = false;
    std::uint64_t value_ = 0; // the Content-Length value being read
};

std::string_view error_name(HttpResponseParser::Error e) noexcept;

} // namespace tcpterm::gen
