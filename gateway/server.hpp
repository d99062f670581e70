// The TCP server participants connect to: sessions over Boost.Asio with C++20 coroutines, plain or TLS.
//
// One session per connection, with a reader and a writer coroutine sharing an outbound buffer (the shape of
// Asio's own chat server example). The reader takes whatever the socket has, cuts it into frames, checks
// each (size cap, FlatBuffers Verifier), and handles every complete frame at once, so a client may pipeline
// as many requests as it likes; answers carry the request's id and leave in the order they are ready. The
// writer sends everything queued in one write, so under load many answers share a system call.
//
// What keeps a hostile or careless peer from hurting anyone else:
//  - backpressure: the reader stops reading while the session's unsent answers exceed a soft limit or too
//    many of its submissions await durability, so a client that does not read cannot grow server memory;
//    pushed notices have a hard limit past which the session is closed;
//  - a rate limit per connection (GCRA: a steady rate with a burst), answered with Reject(rate_limited);
//  - a login deadline, an idle timeout, a cap on connections (the next one gets Reject(server_busy));
//  - every bad frame gets a Reject naming what was wrong; a connection that keeps sending them, or sends a
//    length past the cap (the stream cannot be resynchronised), is closed after its answers are sent.
//
// Roles are enforced here, before the market sees anything: enterprises bid, providers offer, auditors only
// read; traders see and cancel only their own orders and read only their own contracts.
//
// stop() is the graceful shutdown SIGTERM triggers: no new connections, no more reading, every submission
// already handed to the market answered, every answer sent, then each connection closed.
//
// Everything here runs on one thread: the io_context's, which the caller runs. The market is called and
// answers on it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "gateway/asio.hpp"
#include "gateway/market.hpp"
#include "gateway/participants.hpp"
#include "gateway/wire_records.hpp"
#include "matcher/topology.hpp"

namespace ewx::gateway {

// "host:port", split at the last colon (the form of ewxd --listen and every client's --server); nothing when
// there is no colon or the port is not a number from 0 to 65535.
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};
std::optional<HostPort> parse_host_port(std::string_view text);

struct ServerConfig {
  std::string address = "127.0.0.1";
  std::uint16_t port = 7400;  // 0: any free port (see Server::port)
  std::size_t max_connections = 1024;
  std::chrono::milliseconds login_timeout{10'000};
  std::chrono::milliseconds idle_timeout{300'000};
  std::uint32_t requests_per_second = 500'000;  // per connection
  std::uint32_t request_burst = 100'000;
  std::size_t outbound_soft_limit = 1u << 20;       // stop reading a session whose unsent answers exceed this
  std::size_t outbound_hard_limit = 16u << 20;      // close a session that falls this far behind on notices
  std::size_t max_in_flight = 65'536;               // per session: submissions awaiting durability
  int max_bad_frames = 8;                           // per session, then it is closed
  std::chrono::milliseconds linger_timeout{2'000};  // at the end, how long to wait for the peer to close
  std::shared_ptr<boost::asio::ssl::context> tls;   // set: every connection speaks TLS
};

struct ServerStats {
  std::uint64_t connections_open = 0;
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_refused = 0;
  std::uint64_t frames_received = 0;
  std::uint64_t acks_sent = 0;
  std::uint64_t rejects_sent = 0;
};

// A participant's order or offer partly or wholly filled in a batch (the Fill notice).
struct FillView {
  wire::Side side = wire::Side::order;
  std::uint64_t id = 0;
  Units units = 0;
  Units remaining = 0;
  std::uint64_t batch = 0;
};

// A participant's order or offer closed by the exchange at a batch close because its window passed (the
// Expired notice).
struct ExpiryView {
  wire::Side side = wire::Side::order;
  std::uint64_t id = 0;
  Units remaining = 0;
  std::int64_t expired_at = 0;  // Unix seconds
};

class Server {
 public:
  Server(boost::asio::io_context& io, ServerConfig config, const Participants& participants, const Topology& topology,
         Market& market);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting. Throws std::runtime_error naming the address when it cannot bind.
  void start();
  std::uint16_t port() const;
  void stop();
  bool stopped() const;

  // Notices, pushed to subscribed sessions (call on the io_context's thread).
  void publish_batch(const BatchSummary& summary);
  void notify_contract(ParticipantId account, const ledger::ContractRecord& contract);
  void notify_fill(ParticipantId account, const FillView& fill);
  void notify_expired(ParticipantId account, const ExpiryView& expiry);

  ServerStats stats() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace ewx::gateway
