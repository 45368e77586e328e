// HttpResponseParser: whole and byte-by-byte responses, keep-alive sequences, every error.
#include "gen/http_response.hpp"

#include <catch2/catch.hpp>

#include <string>

using tcpterm::gen::HttpResponseParser;
using R = HttpResponseParser::Result;
using E = HttpResponseParser::Error;

namespace {
std::string response(std::size_t body, const std::string& extra = "") {
    return "HTTP/1.1 200 OK\r\nServer: tcpterm\r\nContent-Length: " + std::to_string(body) +
           "\r\n" + extra + "\r\n" + std::string(body, 'x');
}
} // namespace

TEST_CASE("http response: whole, then byte by byte", "[gen]") {
    const std::string r = response(128);
    HttpResponseParser p;
    std::size_t used = 0;
    REQUIRE(p.feed(r.data(), r.size(), used) == R::done);
    CHECK(used == r.size());
    CHECK(p.status() == 200);
    CHECK(p.content_length() == 128);
    CHECK(p.bytes() == r.size());

    HttpResponseParser q;
    for (std::size_t i = 0; i < r.size(); ++i) {
        const R res = q.feed(&r[i], 1, used);
        REQUIRE(used == 1);
        REQUIRE(res == (i + 1 == r.size() ? R::done : R::more));
    }
}

TEST_CASE("http response: stops at the end of one response (keep-alive)", "[gen]") {
    const std::string two = response(10) + response(0);
    HttpResponseParser p;
    std::size_t used = 0;
    REQUIRE(p.feed(two.data(), two.size(), used) == R::done);
    CHECK(used == response(10).size());
    p.reset();
    std::size_t used2 = 0;
    REQUIRE(p.feed(two.data() + used, two.size() - used, used2) == R::done);
    CHECK(p.content_length() == 0);
    CHECK(used + used2 == two.size());
}

TEST_CASE("http response: header names without case, LF-only lines, spaces", "[gen]") {
    const std::string r = "HTTP/1.0 200 OK\nconTENT-length:   5\nX: y\n\nhello";
    HttpResponseParser p;
    std::size_t used = 0;
    REQUIRE(p.feed(r.data(), r.size(), used) == R::done);
    CHECK(p.content_length() == 5);
    // A header that merely contains the name is not it.
    const std::string r2 = "HTTP/1.1 200 OK\r\nX-Content-Length: 9\r\nContent-Length: 1\r\n\r\nz";
    HttpResponseParser q;
    REQUIRE(q.feed(r2.data(), r2.size(), used) == R::done);
    CHECK(q.content_length() == 1);
}

TEST_CASE("http response: errors", "[gen]") {
    const auto err = [](const std::string& r) {
        HttpResponseParser p;
        std::size_t used = 0;
        const R res = p.feed(r.data(), r.size(), used);
        return res == R::error ? p.error() : E::none;
    };
    CHECK(err("HTTX/1.1 200 OK\r\n") == E::bad_status_line);
    CHECK(err("HTTP/1.1 20\r\n") == E::bad_status_line);
    CHECK(err("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n") == E::bad_status);
    CHECK(err("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") == E::no_length);
    CHECK(err("HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n") == E::bad_length);
    CHECK(err("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n") == E::bad_length);
    CHECK(err("HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n") == E::bad_length);
    CHECK(err("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n") ==
          E::bad_length);
    CHECK(err("HTTP/1.1 200 OK\r\nX: " + std::string(9000, 'a')) == E::headers_too_long);
    // Incomplete is not an error.
    CHECK(err("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab") == E::none);
}
