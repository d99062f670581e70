// The C++ client library: how a provider's or enterprise's program, an auditor's tool, the `ewx` command
// line and the load generator talk to an ewx server.
//
// Two APIs over one implementation:
//  - AsyncClient, for programs that run their own Boost.Asio io_context: connect() is a coroutine that logs
//    in; after it, any number of requests may be outstanding (pipelining), each answered through its own
//    callback, and notices (fills, contracts, batch summaries) through on_notice. Requests leave in batches:
//    everything queued while the previous write was in flight goes out in one write.
//  - Client, the simple blocking one: each call sends one request and returns its answer (or throws
//    ClientError when the connection fails or the server refuses a query).
// Both speak TLS when the endpoint asks for it, verifying the server's certificate against a CA file (or
// the system's) and its host name.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "gateway/asio.hpp"
#include "gateway/market.hpp"
#include "gateway/server.hpp"
#include "gateway/wire_records.hpp"

namespace ewx::gateway {

struct Endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7400;
  bool tls = false;
  std::string ca_file;  // TLS: the CA that signed the server's certificate; empty: the system's CAs
};

struct Credentials {
  std::string participant;
  std::vector<std::uint8_t> secret;
};

class ClientError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The answer to a submission or a cancel.
struct Answer {
  bool accepted = false;
  std::uint64_t id = 0;  // accepted: the exchange's id
  bool duplicate = false;
  wire::RejectCode code = wire::RejectCode::malformed;  // rejected: why
  std::string reason;
};
Answer answer_from(const wire::Envelope& envelope);

using Notice = std::variant<FillView, ledger::ContractRecord, BatchSummary, ExpiryView>;

class AsyncClient {
 public:
  using OnFrame = std::function<void(const wire::Envelope&)>;

  explicit AsyncClient(boost::asio::io_context& io);
  ~AsyncClient();
  AsyncClient(const AsyncClient&) = delete;
  AsyncClient& operator=(const AsyncClient&) = delete;

  // Connects and logs in; returns the role the server knows the participant by. Throws ClientError.
  boost::asio::awaitable<wire::Role> connect(Endpoint endpoint, Credentials credentials);

  // Sends a request built in builder() (its payload offset); `on_answer` gets the answer, which is valid
  // only during the call. Returns the request id.
  template <typename Table>
  std::uint64_t request(flatbuffers::Offset<Table> payload, OnFrame on_answer) {
    const std::uint64_t id = next_request_++;
    append_envelope(outbox_, builder_, id, payload);
    waiting_.emplace(id, std::move(on_answer));
    flush();
    return id;
  }
  flatbuffers::FlatBufferBuilder& builder() { return builder_; }

  void submit(const OrderRequest& order, std::function<void(const Answer&)> done);
  void submit(const OfferRequest& offer, std::function<void(const Answer&)> done);
  void cancel(wire::Side side, std::uint64_t id, std::function<void(const Answer&)> done);

  // Frames that answer no request: notices, and Rejects the server sends before closing.
  void on_notice(OnFrame handler) { on_notice_ = std::move(handler); }
  // Called once when the connection ends, with why; requests still waiting get no answer.
  void on_closed(std::function<void(const std::string&)> handler) { on_closed_ = std::move(handler); }

  void close();
  bool is_open() const { return open_; }
  std::size_t outstanding() const { return waiting_.size(); }
  std::size_t unsent_bytes() const { return outbox_.size(); }

 private:
  struct Connection;
  boost::asio::awaitable<void> read_loop();
  boost::asio::awaitable<void> write_loop();
  void flush();
  void closed(const std::string& why);

  boost::asio::io_context& io_;
  std::unique_ptr<Connection> connection_;
  flatbuffers::FlatBufferBuilder builder_{1024};
  std::vector<std::uint8_t> outbox_, sending_;
  std::unordered_map<std::uint64_t, OnFrame> waiting_;
  std::uint64_t next_request_ = 1;
  OnFrame on_notice_;
  std::function<void(const std::string&)> on_closed_;
  bool open_ = false;
};

class Client {
 public:
  // Connects and logs in. Throws ClientError (naming the server and the reason) when it cannot.
  Client(const Endpoint& endpoint, const Credentials& credentials,
         std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~Client();

  wire::Role role() const { return role_; }

  Answer submit(const OrderRequest& order);
  Answer submit(const OfferRequest& offer);
  Answer cancel(wire::Side side, std::uint64_t id);
  std::vector<OpenOrderView> open_orders();

  // Queries; a Reject other than unknown_id throws ClientError with its reason.
  ledger::ContractPage contracts(wire::ContractFilter filter, std::uint64_t key, std::uint64_t start = 0,
                                 std::uint32_t limit = 100, std::int64_t from_time = 0, std::int64_t to_time = 0);
  std::optional<ledger::ContractRecord> contract(std::uint64_t id);
  std::optional<ledger::BatchRecord> batch(std::uint64_t number);
  HeadView head();
  std::optional<std::vector<ledger::Hash>> inclusion_proof(std::uint64_t contract, std::uint64_t log_size);
  std::optional<std::vector<ledger::Hash>> consistency_proof(std::uint64_t old_size, std::uint64_t new_size);

  void subscribe(bool batches, bool own_contracts);
  // The next notice, waiting up to `timeout`; nothing when none came. Throws ClientError when the
  // connection has closed and no notice is left.
  std::optional<Notice> next_notice(std::chrono::milliseconds timeout);

 private:
  // Sends the request built by `build` and runs `read` on its answer.
  template <typename Build>
  void call(Build build, const AsyncClient::OnFrame& read);
  // call() for a query answered with a `Table`: `read` gets it, or nullptr for Reject(unknown_id); any other
  // Reject throws ClientError.
  template <typename Table, typename Build, typename Read>
  void query(Build build, Read read);
  // Runs the io_context until `done` or the timeout; false on timeout or when nothing is left to run.
  bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout, const char* what);

  boost::asio::io_context io_;
  AsyncClient client_;
  wire::Role role_ = wire::Role::enterprise;
  std::chrono::milliseconds timeout_;
  std::deque<Notice> notices_;
  std::string closed_why_;
};

}  // namespace ewx::gateway
