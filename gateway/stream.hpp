// A connection's byte stream, plain TCP or TLS over it, chosen at run time, so that sessions and clients
// are written once rather than templated on the stream type.
#pragma once

#include <variant>

#include "gateway/asio.hpp"

namespace ewx::gateway {

class Stream {
 public:
  using Tcp = boost::asio::ip::tcp::socket;
  using Tls = boost::asio::ssl::stream<Tcp>;

  Stream(Tcp socket, boost::asio::ssl::context* tls) {
    if (tls)
      stream_.emplace<Tls>(std::move(socket), *tls);
    else
      stream_.emplace<Tcp>(std::move(socket));
  }
  Tcp& socket() {
    if (auto* tls = std::get_if<Tls>(&stream_)) return tls->next_layer();
    return std::get<Tcp>(stream_);
  }
  Tls* tls() { return std::get_if<Tls>(&stream_); }

  boost::asio::awaitable<std::size_t> read_some(boost::asio::mutable_buffer buffer) {
    return std::visit(
        [&](auto& s) -> boost::asio::awaitable<std::size_t> {
          if constexpr (std::is_same_v<std::decay_t<decltype(s)>, std::monostate>)
            throw std::logic_error("stream not set");
          else
            return s.async_read_some(buffer, boost::asio::use_awaitable);
        },
        stream_);
  }
  boost::asio::awaitable<std::size_t> write(boost::asio::const_buffer buffer) {
    return std::visit(
        [&](auto& s) -> boost::asio::awaitable<std::size_t> {
          if constexpr (std::is_same_v<std::decay_t<decltype(s)>, std::monostate>)
            throw std::logic_error("stream not set");
          else
            return boost::asio::async_write(s, buffer, boost::asio::use_awaitable);
        },
        stream_);
  }

 private:
  std::variant<std::monostate, Tcp, Tls> stream_;
};

}  // namespace ewx::gateway
