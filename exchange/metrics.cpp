// The Prometheus text format and its HTTP endpoint (design in metrics.hpp). The server is the shape of
// Beast's own coroutine example (http_server_awaitable): one coroutine per connection, read a request,
// write the answer, repeat while the client keeps the connection alive, with a deadline on each read.
#include "exchange/metrics.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <set>

namespace ewx {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

void LatencyHistogram::observe(std::chrono::microseconds value) {
  const std::int64_t us = value.count();
  for (std::size_t k = 0; k < kBoundsUs.size(); ++k)
    if (us <= kBoundsUs[k]) ++cumulative_[k];
  ++count_;
  sum_us_ += us;
}

namespace {
// Microseconds as seconds, exactly: six decimals, no floating point.
std::string seconds(std::int64_t us) { return fmt::format("{}.{:06}", us / 1'000'000, us % 1'000'000); }
}  // namespace

void PrometheusText::header(std::string_view name, std::string_view help, std::string_view type) {
  text_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void PrometheusText::counter(std::string_view name, std::string_view help, std::uint64_t value) {
  header(name, help, "counter");
  text_ += fmt::format("{} {}\n", name, value);
}

void PrometheusText::gauge(std::string_view name, std::string_view help, std::int64_t value) {
  header(name, help, "gauge");
  text_ += fmt::format("{} {}\n", name, value);
}

void PrometheusText::histogram(std::string_view name, std::string_view help, const LatencyHistogram& h) {
  header(name, help, "histogram");
  for (std::size_t k = 0; k < LatencyHistogram::kBoundsUs.size(); ++k)
    text_ += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, seconds(LatencyHistogram::kBoundsUs[k]), h.at_most(k));
  text_ += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, h.count(), name,
                       seconds(h.sum_us()), name, h.count());
}

struct MetricsEndpoint::State {
  State(asio::io_context& io, std::string address, std::uint16_t port, std::function<std::string()> render)
      : io(io), address(std::move(address)), port(port), acceptor(io), render(std::move(render)) {}
  asio::io_context& io;
  std::string address;
  std::uint16_t port;
  tcp::acceptor acceptor;
  std::function<std::string()> render;
  std::set<beast::tcp_stream*> open;
  bool stopped = false;
};

namespace {

asio::awaitable<void> serve(std::shared_ptr<MetricsEndpoint::State> state, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  state->open.insert(&stream);
  beast::flat_buffer buffer;
  boost::system::error_code ec;
  for (;;) {
    stream.expires_after(std::chrono::seconds(30));
    http::request_parser<http::empty_body> parser;
    parser.header_limit(8 * 1024);
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    const auto& request = parser.get();
    http::response<http::string_body> response;
    response.version(request.version());
    response.keep_alive(request.keep_alive());
    response.set(http::field::server, "ewxd");
    const bool known = request.target() == "/metrics";
    if (!known) {
      response.result(http::status::not_found);
      response.set(http::field::content_type, "text/plain");
      response.body() = "ewxd serves /metrics only\n";
    } else if (request.method() != http::verb::get && request.method() != http::verb::head) {
      response.result(http::status::method_not_allowed);
      response.set(http::field::allow, "GET, HEAD");
    } else {
      response.result(http::status::ok);
      response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      response.body() = state->render();
    }
    response.prepare_payload();
    if (request.method() == http::verb::head) response.body().clear();
    co_await http::async_write(stream, response, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !response.keep_alive() || state->stopped) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  state->open.erase(&stream);
}

asio::awaitable<void> accept(std::shared_ptr<MetricsEndpoint::State> state) {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket = co_await state->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (state->stopped) co_return;
    if (ec) continue;
    asio::co_spawn(state->io, serve(state, std::move(socket)), asio::detached);
  }
}

}  // namespace

MetricsEndpoint::MetricsEndpoint(asio::io_context& io, std::string address, std::uint16_t port,
                                 std::function<std::string()> render)
    : state_(std::make_shared<State>(io, std::move(address), port, std::move(render))) {}

MetricsEndpoint::~MetricsEndpoint() { stop(); }

void MetricsEndpoint::start() {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(state_->address, ec);
  if (ec) throw std::runtime_error("metrics address '" + state_->address + "' is not an IP address");
  const tcp::endpoint endpoint(address, state_->port);
  state_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) state_->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) state_->acceptor.bind(endpoint, ec);
  if (!ec) state_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error(
        fmt::format("cannot serve metrics on {}:{}: {}", state_->address, state_->port, ec.message()));
  asio::co_spawn(state_->io, accept(state_), asio::detached);
}

std::uint16_t MetricsEndpoint::port() const { return state_->acceptor.local_endpoint().port(); }

void MetricsEndpoint::stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  boost::system::error_code ignored;
  state_->acceptor.close(ignored);
  for (beast::tcp_stream* stream : state_->open) stream->socket().close(ignored);
}

}  // namespace ewx
