// The client library (design in client.hpp). The reader and writer coroutines mirror the server's session;
// the blocking Client runs its own io_context on the calling thread only while it waits for an answer.
#include "gateway/client.hpp"

#include <openssl/ssl.h>

#include "gateway/asio.hpp"
#include "gateway/stream.hpp"

namespace ewx::gateway {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

struct AsyncClient::Connection {
  explicit Connection(asio::io_context& io) : tls(asio::ssl::context::tls_client), wake(io) {}
  asio::ssl::context tls;
  std::optional<Stream> stream;
  FrameReader frames;
  asio::steady_timer wake;
};

Answer answer_from(const wire::Envelope& e) {
  Answer a;
  if (const auto* ack = e.payload_as_Ack()) {
    a.accepted = true;
    a.id = ack->id();
    a.duplicate = ack->duplicate();
  } else if (const auto* reject = e.payload_as_Reject()) {
    a.code = reject->code();
    a.reason = reject->reason() ? reject->reason()->str() : std::string();
  } else {
    a.code = wire::RejectCode::unsupported;
    a.reason = std::string("unexpected answer ") + wire::EnumNamePayload(e.payload_type());
  }
  return a;
}

namespace {

std::string reject_text(const wire::Reject& r) {
  return std::string(wire::EnumNameRejectCode(r.code())) + ": " + (r.reason() ? r.reason()->str() : std::string());
}

// Reads until one whole frame is buffered (during login, before the reader loop runs).
awaitable<void> read_frame(Stream& stream, FrameReader& frames) {
  std::array<std::uint8_t, 4096> buffer;
  for (;;) {
    switch (frames.next()) {
      case FrameReader::Result::frame:
        co_return;
      case FrameReader::Result::need_more:
        break;
      default:
        throw ClientError(std::string("the server sent a bad frame while logging in: ") + frames.error());
    }
    const std::size_t n = co_await stream.read_some(asio::buffer(buffer));
    frames.append({buffer.data(), n});
  }
}

}  // namespace

AsyncClient::AsyncClient(asio::io_context& io) : io_(io) {}

AsyncClient::~AsyncClient() { close(); }

awaitable<wire::Role> AsyncClient::connect(Endpoint endpoint, Credentials credentials) {
  const std::string where = endpoint.host + ":" + std::to_string(endpoint.port);
  auto c = std::make_unique<Connection>(io_);
  try {
    tcp::resolver resolver(io_);
    const auto addresses = co_await resolver.async_resolve(endpoint.host, std::to_string(endpoint.port), use_awaitable);
    tcp::socket socket(io_);
    co_await asio::async_connect(socket, addresses, use_awaitable);
    socket.set_option(tcp::no_delay(true));
    if (endpoint.tls) {
      if (endpoint.ca_file.empty())
        c->tls.set_default_verify_paths();
      else
        c->tls.load_verify_file(endpoint.ca_file);
    }
    c->stream.emplace(std::move(socket), endpoint.tls ? &c->tls : nullptr);
    if (Stream::Tls* tls = c->stream->tls()) {
      SSL_set_tlsext_host_name(tls->native_handle(), endpoint.host.c_str());
      tls->set_verify_mode(asio::ssl::verify_peer);
      tls->set_verify_callback(asio::ssl::host_name_verification(endpoint.host));
      co_await tls->async_handshake(asio::ssl::stream_base::client, use_awaitable);
    }
  } catch (const boost::system::system_error& e) {
    throw ClientError("cannot connect to " + where + ": " + e.code().message());
  }

  // Hello, Challenge, Authenticate, Welcome.
  try {
    std::vector<std::uint8_t> out;
    const auto name = builder_.CreateString(credentials.participant);
    append_envelope(out, builder_, 0, wire::CreateHello(builder_, name));
    co_await c->stream->write(asio::buffer(out));
    co_await read_frame(*c->stream, c->frames);
    const wire::Envelope* e = c->frames.envelope();
    if (const auto* reject = e->payload_as_Reject()) throw ClientError("login refused: " + reject_text(*reject));
    const auto* challenge = e->payload_as_Challenge();
    if (!challenge || !challenge->nonce()) throw ClientError("the server did not send a login challenge");
    const Mac mac = hmac_sha256(credentials.secret, {challenge->nonce()->data(), challenge->nonce()->size()});
    out.clear();
    const auto hmac = builder_.CreateVector(mac.data(), mac.size());
    append_envelope(out, builder_, 0, wire::CreateAuthenticate(builder_, hmac));
    co_await c->stream->write(asio::buffer(out));
    co_await read_frame(*c->stream, c->frames);
    e = c->frames.envelope();
    if (const auto* reject = e->payload_as_Reject())
      throw ClientError("login as '" + credentials.participant + "' refused: " + reject_text(*reject));
    const auto* welcome = e->payload_as_Welcome();
    if (!welcome) throw ClientError("the server did not answer the login with Welcome");
    const wire::Role role = welcome->role();
    connection_ = std::move(c);
    open_ = true;
    asio::co_spawn(io_, read_loop(), asio::detached);
    asio::co_spawn(io_, write_loop(), asio::detached);
    co_return role;
  } catch (const boost::system::system_error& e) {
    throw ClientError("logging in to " + where + ": " + e.code().message());
  }
}

awaitable<void> AsyncClient::read_loop() {
  Connection& c = *connection_;
  std::vector<std::uint8_t> buffer(64 * 1024);
  std::string why = "closed by the server";
  try {
    // Frames left over from login (a server may already have sent a notice) come first.
    for (bool reading = true; reading;) {
      for (;;) {
        const auto result = c.frames.next();
        if (result == FrameReader::Result::need_more) break;
        if (result != FrameReader::Result::frame) {
          why = "the server sent a bad frame: " + c.frames.error();
          reading = false;
          break;
        }
        const wire::Envelope& e = *c.frames.envelope();
        if (const auto it = waiting_.find(e.request_id()); e.request_id() != 0 && it != waiting_.end()) {
          OnFrame handler = std::move(it->second);
          waiting_.erase(it);
          handler(e);
        } else if (on_notice_) {
          on_notice_(e);
        }
      }
      if (!reading || !open_) break;
      const std::size_t n = co_await c.stream->read_some(asio::buffer(buffer));
      c.frames.append({buffer.data(), n});
    }
  } catch (const boost::system::system_error& e) {
    if (e.code() != asio::error::eof) why = e.code().message();
  }
  closed(why);
}

awaitable<void> AsyncClient::write_loop() {
  Connection& c = *connection_;
  try {
    while (open_) {
      if (outbox_.empty()) {
        c.wake.expires_at(asio::steady_timer::time_point::max());
        boost::system::error_code ignored;
        co_await c.wake.async_wait(asio::redirect_error(use_awaitable, ignored));
        continue;
      }
      sending_.swap(outbox_);
      co_await c.stream->write(asio::buffer(sending_));
      sending_.clear();
    }
  } catch (const boost::system::system_error& e) {
    closed(e.code().message());
  }
}

void AsyncClient::flush() {
  if (connection_) connection_->wake.cancel();
}

void AsyncClient::closed(const std::string& why) {
  if (!open_) return;
  open_ = false;
  boost::system::error_code ignored;
  connection_->stream->socket().close(ignored);
  connection_->wake.cancel();
  if (on_closed_) on_closed_(why);
}

void AsyncClient::close() {
  waiting_.clear();
  if (open_) closed("closed by the client");
}

void AsyncClient::submit(const OrderRequest& order, std::function<void(const Answer&)> done) {
  request(to_wire(builder_, order), [done = std::move(done)](const wire::Envelope& e) { done(answer_from(e)); });
}

void AsyncClient::submit(const OfferRequest& offer, std::function<void(const Answer&)> done) {
  request(to_wire(builder_, offer), [done = std::move(done)](const wire::Envelope& e) { done(answer_from(e)); });
}

void AsyncClient::cancel(wire::Side side, std::uint64_t id, std::function<void(const Answer&)> done) {
  request(wire::CreateCancel(builder_, side, id),
          [done = std::move(done)](const wire::Envelope& e) { done(answer_from(e)); });
}

// The blocking client -------------------------------------------------------------------------------

Client::Client(const Endpoint& endpoint, const Credentials& credentials, std::chrono::milliseconds timeout)
    : client_(io_), timeout_(timeout) {
  std::exception_ptr failure;
  bool done = false;
  asio::co_spawn(io_, client_.connect(endpoint, credentials), [&](std::exception_ptr e, wire::Role role) {
    failure = e;
    role_ = role;
    done = true;
  });
  if (!wait_until([&] { return done; }, timeout_, "logging in")) {
    throw ClientError("logging in to " + endpoint.host + ":" + std::to_string(endpoint.port) + " timed out");
  }
  if (failure) std::rethrow_exception(failure);
  client_.on_closed([this](const std::string& why) {
    if (closed_why_.empty()) closed_why_ = why;
  });
  client_.on_notice([this](const wire::Envelope& e) {
    if (const auto* fill = e.payload_as_Fill())
      notices_.push_back(FillView{fill->side(), fill->id(), fill->units(), fill->remaining(), fill->batch()});
    else if (const auto* notice = e.payload_as_ContractNotice(); notice && notice->contract())
      notices_.push_back(from_wire(*notice->contract()));
    else if (const auto* expired = e.payload_as_Expired())
      notices_.push_back(ExpiryView{expired->side(), expired->id(), expired->remaining(), expired->expired_at()});
    else if (const auto* summary = e.payload_as_BatchCleared())
      notices_.push_back(from_wire(*summary));
    else if (const auto* reject = e.payload_as_Reject())
      closed_why_ = reject_text(*reject);
  });
}

Client::~Client() { client_.close(); }

bool Client::wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout, const char*) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (io_.stopped()) io_.restart();
    if (io_.run_one_until(deadline) == 0 && std::chrono::steady_clock::now() >= deadline) return false;
    if (!done() && io_.stopped()) return false;  // nothing left that could answer: the connection is gone
  }
  return true;
}

template <typename Build>
void Client::call(Build build, const AsyncClient::OnFrame& read) {
  if (!client_.is_open())
    throw ClientError("the connection is closed" + (closed_why_.empty() ? std::string() : ": " + closed_why_));
  bool done = false;
  client_.request(build(client_.builder()), [&](const wire::Envelope& e) {
    read(e);
    done = true;
  });
  if (!wait_until([&] { return done; }, timeout_, "answer")) {
    client_.close();  // the answer's handler refers to this frame: no late answer may reach it
    throw ClientError(closed_why_.empty()
                          ? "no answer from the server within " + std::to_string(timeout_.count()) + " ms"
                          : "the connection closed: " + closed_why_);
  }
}

Answer Client::submit(const OrderRequest& order) {
  Answer answer;
  call([&](auto& b) { return to_wire(b, order); }, [&](const wire::Envelope& e) { answer = answer_from(e); });
  return answer;
}

Answer Client::submit(const OfferRequest& offer) {
  Answer answer;
  call([&](auto& b) { return to_wire(b, offer); }, [&](const wire::Envelope& e) { answer = answer_from(e); });
  return answer;
}

Answer Client::cancel(wire::Side side, std::uint64_t id) {
  Answer answer;
  call([&](auto& b) { return wire::CreateCancel(b, side, id); },
       [&](const wire::Envelope& e) { answer = answer_from(e); });
  return answer;
}

namespace {
// A query's answer: the expected table, nothing for Reject(unknown_id), ClientError for any other Reject.
template <typename Table>
const Table* expect(const wire::Envelope& e) {
  if (const auto* table = e.template payload_as<Table>()) return table;
  if (const auto* reject = e.payload_as_Reject()) {
    if (reject->code() == wire::RejectCode::unknown_id) return nullptr;
    throw ClientError(reject_text(*reject));
  }
  throw ClientError(std::string("unexpected answer ") + wire::EnumNamePayload(e.payload_type()));
}

std::optional<std::vector<ledger::Hash>> hashes_from(const wire::ProofResult* proof) {
  if (!proof) return std::nullopt;
  std::vector<ledger::Hash> hashes;
  if (proof->hashes())
    for (const auto* h : *proof->hashes()) {
      const auto hash = hash_from_wire(h->bytes());
      if (!hash) throw ClientError("a proof hash is not 32 bytes");
      hashes.push_back(*hash);
    }
  return hashes;
}
}  // namespace

template <typename Table, typename Build, typename Read>
void Client::query(Build build, Read read) {
  // A Reject is turned into ClientError only once the answer's handler has returned: an exception must not
  // cross the reader coroutine that calls it.
  std::optional<std::string> error;
  call(build, [&](const wire::Envelope& e) {
    try {
      read(expect<Table>(e));
    } catch (const ClientError& failure) {
      error = failure.what();
    }
  });
  if (error) throw ClientError(*error);
}

std::vector<OpenOrderView> Client::open_orders() {
  std::vector<OpenOrderView> open;
  query<wire::OrdersResult>(
      [](auto& b) { return wire::CreateQueryOrders(b); },
      [&](const wire::OrdersResult* result) {
        if (result && result->orders())
          for (const auto* o : *result->orders())
            open.push_back({o->side(), o->id(), o->client_order_id(), o->remaining(), o->units()});
      });
  return open;
}

ledger::ContractPage Client::contracts(wire::ContractFilter filter, std::uint64_t key, std::uint64_t start,
                                       std::uint32_t limit, std::int64_t from_time, std::int64_t to_time) {
  ledger::ContractPage page;
  query<wire::ContractsResult>(
      [&](auto& b) { return wire::CreateQueryContracts(b, filter, key, from_time, to_time, start, limit); },
      [&](const wire::ContractsResult* result) {
        if (!result) return;
        if (result->contracts())
          for (const auto* c : *result->contracts()) page.contracts.push_back(from_wire(*c));
        if (result->more()) page.next_start = result->next_start();
      });
  return page;
}

std::optional<ledger::ContractRecord> Client::contract(std::uint64_t id) {
  std::optional<ledger::ContractRecord> contract;
  query<wire::ContractsResult>([&](auto& b) { return wire::CreateQueryContract(b, id); },
                               [&](const wire::ContractsResult* result) {
                                 if (result && result->contracts() && result->contracts()->size() == 1)
                                   contract = from_wire(*result->contracts()->Get(0));
                               });
  return contract;
}

std::optional<ledger::BatchRecord> Client::batch(std::uint64_t number) {
  std::optional<ledger::BatchRecord> record;
  query<wire::BatchResult>([&](auto& b) { return wire::CreateQueryBatch(b, number); },
                           [&](const wire::BatchResult* result) {
                             if (result) record = from_wire(*result);
                           });
  return record;
}

HeadView Client::head() {
  std::optional<HeadView> head;
  query<wire::HeadResult>([](auto& b) { return wire::CreateQuerySignedHead(b); },
                          [&](const wire::HeadResult* result) {
                            if (result) head = from_wire(*result);
                          });
  if (!head) throw ClientError("the server has no signed head");
  return *head;
}

std::optional<std::vector<ledger::Hash>> Client::inclusion_proof(std::uint64_t contract, std::uint64_t log_size) {
  std::optional<std::vector<ledger::Hash>> proof;
  query<wire::ProofResult>([&](auto& b) { return wire::CreateQueryInclusionProof(b, contract, log_size); },
                           [&](const wire::ProofResult* result) { proof = hashes_from(result); });
  return proof;
}

std::optional<std::vector<ledger::Hash>> Client::consistency_proof(std::uint64_t old_size, std::uint64_t new_size) {
  std::optional<std::vector<ledger::Hash>> proof;
  query<wire::ProofResult>([&](auto& b) { return wire::CreateQueryConsistencyProof(b, old_size, new_size); },
                           [&](const wire::ProofResult* result) { proof = hashes_from(result); });
  return proof;
}

void Client::subscribe(bool batches, bool own_contracts) {
  Answer answer;
  call([&](auto& b) { return wire::CreateSubscribe(b, batches, own_contracts); },
       [&](const wire::Envelope& e) { answer = answer_from(e); });
  if (!answer.accepted) throw ClientError("subscribe refused: " + answer.reason);
}

std::optional<Notice> Client::next_notice(std::chrono::milliseconds timeout) {
  wait_until([&] { return !notices_.empty() || !client_.is_open(); }, timeout, "notice");
  if (notices_.empty()) {
    if (!client_.is_open()) throw ClientError("the connection closed: " + closed_why_);
    return std::nullopt;
  }
  Notice notice = std::move(notices_.front());
  notices_.pop_front();
  return notice;
}

}  // namespace ewx::gateway
