// Sessions and the acceptor (design in server.hpp).
//
// A session's life: the reader and writer coroutines and a watchdog each hold a shared_ptr to it, so it
// lives until all three have finished; the server's list holds plain pointers, removed by the destructor.
// The reader may stop on its own (peer closed, garbage, login failed) or be told to (drain); the writer
// ends the session once reading has stopped and every answer owed has been sent, so a submission the
// market already took is always answered, whatever happens on the reading side.
//
// Ending is a lingering close: the writer half-closes (FIN after the last answer) and the reader goes on
// reading, and dropping, whatever the peer still sends until the peer closes too or linger_timeout passes.
// Closing a socket that has unread input makes the kernel reset the connection, and a reset can destroy
// answers still on their way to the peer: a pipelining client stopped mid-stream would lose acks for
// orders that are durable.
//
// Waiting without polling: a coroutine that must wait for the other parks on a steady_timer set to
// expire never, and is woken by cancelling it. Everything runs on one thread, so a wake-up that comes
// before the wait is never lost: each loop re-checks its condition before parking.
#include "gateway/server.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include "gateway/asio.hpp"
#include "gateway/stream.hpp"

namespace ewx::gateway {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

class Session;

struct Server::State {
  State(asio::io_context& io, ServerConfig config, const Participants& participants, const Topology& topology,
        Market& market)
      : io(io),
        config(std::move(config)),
        participants(participants),
        topology(topology),
        market(market),
        acceptor(io) {}

  asio::io_context& io;
  ServerConfig config;
  const Participants& participants;
  const Topology& topology;
  Market& market;
  tcp::acceptor acceptor;
  std::unordered_set<Session*> sessions;
  // The sessions subscribed to their own contracts, by account: a batch's notices (two per contract, one
  // per fill) find their few listeners without a pass over every session, and a notice nobody listens to
  // is never built (74,000 contracts cost the io thread 28 ms before the batch summary went out).
  std::unordered_map<ParticipantId, std::vector<Session*>> listeners;
  bool stopping = false;

  std::atomic<std::uint64_t> connections_open{0}, connections_accepted{0}, connections_refused{0};
  std::atomic<std::uint64_t> frames_received{0}, acks_sent{0}, rejects_sent{0};
};

namespace {

// GCRA, the generic cell rate algorithm: a request conforms when it arrives no earlier than its theoretical
// arrival time minus the burst tolerance. Integer nanoseconds, one comparison and one add per request.
class RateLimit {
 public:
  RateLimit(std::uint32_t per_second, std::uint32_t burst)
      : interval_(1'000'000'000 / std::max<std::uint32_t>(per_second, 1)),
        tolerance_(interval_ * static_cast<std::int64_t>(burst)) {}
  bool allow(Clock::time_point now) {
    const std::int64_t t = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
    if (arrival_ < t) arrival_ = t;
    if (arrival_ - t > tolerance_) return false;
    arrival_ += interval_;
    return true;
  }

 private:
  std::int64_t interval_;
  std::int64_t tolerance_;
  std::int64_t arrival_ = 0;
};

awaitable<void> park(asio::steady_timer& timer) {
  timer.expires_at(Clock::time_point::max());
  boost::system::error_code ignored;
  co_await timer.async_wait(asio::redirect_error(use_awaitable, ignored));
}

void append_reject(std::vector<std::uint8_t>& out, flatbuffers::FlatBufferBuilder& b, std::uint64_t request_id,
                   wire::RejectCode code, std::string_view reason, std::uint64_t client_order_id = 0) {
  const auto text = b.CreateString(reason);
  append_envelope(out, b, request_id, wire::CreateReject(b, code, text, client_order_id));
}

}  // namespace

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<Server::State> server, tcp::socket socket)
      : server_(std::move(server)),
        stream_(std::move(socket), server_->config.tls.get()),
        rate_(server_->config.requests_per_second, server_->config.request_burst),
        writer_wake_(server_->io),
        reader_wake_(server_->io),
        watchdog_(server_->io),
        linger_(server_->io) {
    server_->sessions.insert(this);
    server_->connections_open.fetch_add(1, std::memory_order_relaxed);
    boost::system::error_code ec;
    const auto peer = stream_.socket().remote_endpoint(ec);
    peer_ = ec ? std::string("?") : peer.address().to_string() + ":" + std::to_string(peer.port());
  }
  ~Session() {
    listen_to_own_contracts(false);
    server_->sessions.erase(this);
    server_->connections_open.fetch_sub(1, std::memory_order_relaxed);
  }

  void start() {
    auto self = shared_from_this();
    asio::co_spawn(
        server_->io, [self] { return self->read_loop(); }, asio::detached);
    asio::co_spawn(
        server_->io, [self] { return self->write_loop(); }, asio::detached);
    asio::co_spawn(
        server_->io, [self] { return self->watchdog(); }, asio::detached);
  }

  // Graceful end: take no more requests; answer what is owed, then close (lingering).
  void drain() { stop_reading(); }

  void close() {
    if (closed_) return;
    closed_ = true;
    reading_stopped_ = true;
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    writer_wake_.cancel();
    reader_wake_.cancel();
    watchdog_.cancel();
    linger_.cancel();
  }

  // A notice pushed by the exchange. A subscriber that falls too far behind is closed rather than allowed
  // to hold unbounded memory.
  void push(std::span<const std::uint8_t> frame) {
    if (closed_) return;
    if (outbox_.size() + frame.size() > server_->config.outbound_hard_limit) {
      spdlog::warn("event=session_closed peer={} participant={} reason=notices_unread bytes={}", peer_, name(),
                   outbox_.size());
      close();
      return;
    }
    outbox_.insert(outbox_.end(), frame.begin(), frame.end());
    writer_wake_.cancel();
  }

  const Participant* participant() const { return participant_; }
  bool wants_batches() const { return wants_batches_; }

 private:
  std::string name() const { return participant_ ? participant_->name : std::string("not logged in"); }

  void listen_to_own_contracts(bool listen) {
    if (listen == wants_contracts_) return;
    wants_contracts_ = listen;
    auto& listening = server_->listeners[participant_->account];
    if (listen) {
      listening.push_back(this);
    } else {
      std::erase(listening, this);
      if (listening.empty()) server_->listeners.erase(participant_->account);
    }
  }

  bool backlogged() const {
    return outbox_.size() > server_->config.outbound_soft_limit || in_flight_ >= server_->config.max_in_flight;
  }

  void stop_reading() {
    reading_stopped_ = true;
    reader_wake_.cancel();
    writer_wake_.cancel();
  }

  awaitable<void> read_loop() {
    auto self = shared_from_this();
    try {
      if (Stream::Tls* tls = stream_.tls())
        co_await tls->async_handshake(asio::ssl::stream_base::server, use_awaitable);
      std::vector<std::uint8_t> buffer(64 * 1024);
      while (!closed_) {
        if (!reading_stopped_ && backlogged()) {
          co_await park(reader_wake_);
          continue;
        }
        const std::size_t n = co_await stream_.read_some(asio::buffer(buffer));
        if (reading_stopped_) continue;  // lingering: dropped
        last_frame_ = Clock::now();      // also the time every frame of this read arrived, for the rate limit
        frames_.append({buffer.data(), n});
        handle_frames();
      }
    } catch (const boost::system::system_error& e) {
      if (e.code() != asio::error::eof && e.code() != asio::error::operation_aborted)
        spdlog::debug("event=session_read_error peer={} participant={} error=\"{}\"", peer_, name(),
                      e.code().message());
    }
    reader_done_ = true;
    stop_reading();
    linger_.cancel();
  }

  awaitable<void> write_loop() {
    auto self = shared_from_this();
    try {
      for (;;) {
        if (outbox_.empty()) {
          if (closed_) break;
          if (reading_stopped_ && in_flight_ == 0) {
            co_await linger();
            break;
          }
          co_await park(writer_wake_);
          continue;
        }
        sending_.swap(outbox_);
        co_await stream_.write(asio::buffer(sending_));
        sending_.clear();
        if (!backlogged()) reader_wake_.cancel();
      }
    } catch (const boost::system::system_error& e) {
      spdlog::debug("event=session_write_error peer={} participant={} error=\"{}\"", peer_, name(), e.code().message());
    }
    close();
  }

  // Half-closes, then waits for the reader to see the peer's end, at most linger_timeout.
  awaitable<void> linger() {
    boost::system::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec || reader_done_) co_return;
    linger_.expires_after(server_->config.linger_timeout);
    co_await linger_.async_wait(asio::redirect_error(use_awaitable, ec));
  }

  // Closes a session that has not logged in by its deadline, or that has been silent past the idle timeout
  // (subscribers excepted: they only listen).
  awaitable<void> watchdog() {
    auto self = shared_from_this();
    const auto login_deadline = Clock::now() + server_->config.login_timeout;
    while (!closed_) {
      const bool listening = wants_batches_ || wants_contracts_;
      const auto deadline = !participant_ ? login_deadline
                            : listening   ? Clock::time_point::max()
                                          : last_frame_ + server_->config.idle_timeout;
      if (Clock::now() >= deadline) {
        spdlog::info("event=session_closed peer={} participant={} reason={}_timeout", peer_, name(),
                     participant_ ? "idle" : "login");
        close();
        break;
      }
      watchdog_.expires_at(deadline);
      boost::system::error_code ignored;
      co_await watchdog_.async_wait(asio::redirect_error(use_awaitable, ignored));
    }
  }

  void handle_frames() {
    while (!reading_stopped_) {
      switch (frames_.next()) {
        case FrameReader::Result::need_more:
          return;
        case FrameReader::Result::too_large:
          reject(0, wire::RejectCode::too_large, frames_.error());
          stop_reading();
          return;
        case FrameReader::Result::malformed:
          reject(0, wire::RejectCode::malformed, frames_.error());
          bad_frame();
          break;
        case FrameReader::Result::unsupported:
          reject(frames_.envelope()->request_id(), wire::RejectCode::unsupported, frames_.error());
          break;
        case FrameReader::Result::frame:
          server_->frames_received.fetch_add(1, std::memory_order_relaxed);
          handle(*frames_.envelope());
          break;
      }
    }
  }

  void bad_frame() {
    if (++bad_frames_ < server_->config.max_bad_frames) return;
    spdlog::warn("event=session_closed peer={} participant={} reason=bad_frames count={}", peer_, name(), bad_frames_);
    stop_reading();
  }

  void handle(const wire::Envelope& e) {
    const std::uint64_t rid = e.request_id();
    if (!participant_) return handle_login(e);
    if (server_->stopping) return reject(rid, wire::RejectCode::shutting_down, "the exchange is shutting down");
    if (!rate_.allow(last_frame_))
      return reject(rid, wire::RejectCode::rate_limited,
                    "more than " + std::to_string(server_->config.requests_per_second) +
                        " requests per second on this connection");
    using P = wire::Payload;
    switch (e.payload_type()) {
      case P::SubmitOrder: {
        const auto* r = e.payload_as_SubmitOrder();
        return submit(rid, r->client_order_id(), order_entry(*r, *participant_, 0, server_->topology));
      }
      case P::SubmitOffer: {
        const auto* r = e.payload_as_SubmitOffer();
        return submit(rid, r->client_order_id(), offer_entry(*r, *participant_, 0, server_->topology));
      }
      case P::Cancel:
        return cancel(rid, *e.payload_as_Cancel());
      case P::QueryOrders:
        return query_orders(rid);
      case P::Subscribe:
        wants_batches_ = e.payload_as_Subscribe()->batches();
        listen_to_own_contracts(e.payload_as_Subscribe()->own_contracts() && participant_->role != Role::auditor);
        return ack(rid, 0, 0, false);
      case P::QueryContract:
      case P::QueryContracts:
      case P::QueryBatch:
      case P::QueryInclusionProof:
      case P::QueryConsistencyProof:
      case P::QuerySignedHead:
        return query_ledger(rid, e);
      case P::Hello:
      case P::Authenticate:
        return reject(rid, wire::RejectCode::malformed, "already logged in as " + participant_->name);
      default:
        reject(rid, wire::RejectCode::unsupported,
               std::string("a ") + wire::EnumNamePayload(e.payload_type()) + " is an answer, not a request");
        return bad_frame();
    }
  }

  void handle_login(const wire::Envelope& e) {
    const std::uint64_t rid = e.request_id();
    if (e.payload_type() == wire::Payload::Hello && challenge_.empty()) {
      const auto* hello = e.payload_as_Hello();
      // An unknown name still gets a challenge, so that a prober cannot tell which names exist.
      candidate_ = hello->participant() ? server_->participants.find(hello->participant()->string_view()) : nullptr;
      challenge_ = fresh_challenge();
      const auto nonce = builder_.CreateVector(challenge_);
      return answer(rid, wire::CreateChallenge(builder_, nonce));
    }
    if (e.payload_type() == wire::Payload::Authenticate && !challenge_.empty()) {
      const auto* hmac = e.payload_as_Authenticate()->hmac();
      if (candidate_ && hmac && authenticates(*candidate_, challenge_, {hmac->data(), hmac->size()})) {
        participant_ = candidate_;
        last_frame_ = Clock::now();
        spdlog::info("event=login peer={} participant={} role={}", peer_, participant_->name,
                     role_name(participant_->role));
        const auto role = static_cast<wire::Role>(participant_->role);
        return answer(rid, wire::CreateWelcome(builder_, role, std::time(nullptr)));
      }
      spdlog::warn("event=login_failed peer={}", peer_);
      reject(rid, wire::RejectCode::authentication_failed, "unknown participant or wrong key");
      return stop_reading();
    }
    reject(rid, wire::RejectCode::not_authenticated,
           challenge_.empty() ? "log in first: send Hello, then Authenticate" : "expected Authenticate");
    bad_frame();
  }

  void submit(std::uint64_t rid, std::uint64_t client_order_id, Submission submission) {
    if (const auto* rejection = std::get_if<Rejection>(&submission))
      return reject(rid, rejection->code, rejection->reason, client_order_id);
    if (client_order_id == 0)
      return reject(rid, wire::RejectCode::malformed, "client_order_id: must be nonzero (it makes resends idempotent)");
    auto& entry = std::get<ledger::JournalEntry>(submission);
    entry.client_order_id = client_order_id;
    ++in_flight_;
    server_->market.submit(
        *participant_, std::move(entry),
        [self = shared_from_this(), rid, client_order_id](Decision d) { self->decided(rid, client_order_id, d); });
  }

  void cancel(std::uint64_t rid, const wire::Cancel& request) {
    const Role role = participant_->role;
    if (role == Role::auditor) return reject(rid, wire::RejectCode::forbidden, "auditors cannot cancel");
    const auto own_side = role == Role::enterprise ? wire::Side::order : wire::Side::offer;
    if (request.side() != own_side)
      return reject(
          rid, wire::RejectCode::forbidden,
          role == Role::enterprise ? "enterprises cancel orders, not offers" : "providers cancel offers, not orders");
    ++in_flight_;
    server_->market.cancel(*participant_, request.side(), request.id(),
                           [self = shared_from_this(), rid](Decision d) { self->decided(rid, 0, d); });
  }

  void decided(std::uint64_t rid, std::uint64_t client_order_id, const Decision& decision) {
    --in_flight_;
    if (const auto* accepted = std::get_if<Accepted>(&decision))
      ack(rid, client_order_id, accepted->id, accepted->duplicate);
    else
      reject(rid, std::get<Rejection>(decision).code, std::get<Rejection>(decision).reason, client_order_id);
    if (!backlogged()) reader_wake_.cancel();
  }

  void query_orders(std::uint64_t rid) {
    if (participant_->role == Role::auditor)
      return reject(rid, wire::RejectCode::forbidden, "auditors have no orders; query contracts instead");
    ++in_flight_;
    server_->market.open_orders(*participant_, [self = shared_from_this(), rid](std::vector<OpenOrderView> open) {
      --self->in_flight_;
      auto& b = self->builder_;
      std::vector<flatbuffers::Offset<wire::OpenOrder>> rows;
      rows.reserve(open.size());
      for (const OpenOrderView& o : open)
        rows.push_back(wire::CreateOpenOrder(b, o.side, o.id, o.client_order_id, o.remaining, o.units));
      const auto vector = b.CreateVector(rows);
      self->answer(rid, wire::CreateOrdersResult(b, vector));
    });
  }

  // Auditor queries run where the ledger is; the query copies what it needs from the envelope now, since
  // the envelope is gone by the time it runs.
  void query_ledger(std::uint64_t rid, const wire::Envelope& e) {
    const Participant& who = *participant_;
    const bool auditor = who.role == Role::auditor;
    const ParticipantId account = who.account;
    Market::LedgerQuery query;
    using P = wire::Payload;
    switch (e.payload_type()) {
      case P::QueryContract:
        query = [rid, id = e.payload_as_QueryContract()->id(), auditor, account](const ledger::Ledger& l) {
          std::vector<std::uint8_t> out;
          flatbuffers::FlatBufferBuilder b;
          const auto contract = l.contract(id);
          if (!contract || (!auditor && contract->buyer != account && contract->seller != account)) {
            append_reject(out, b, rid, wire::RejectCode::unknown_id,
                          "no contract " + std::to_string(id) + (auditor ? "" : " among yours"));
            return out;
          }
          const auto row = to_wire(b, *contract);
          const auto rows = b.CreateVector(&row, 1);
          append_envelope(out, b, rid, wire::CreateContractsResult(b, rows, 0, false));
          return out;
        };
        break;
      case P::QueryContracts: {
        const auto* q = e.payload_as_QueryContracts();
        const auto own_filter =
            who.role == Role::enterprise ? wire::ContractFilter::by_buyer : wire::ContractFilter::by_seller;
        // A trader reads only its own contracts: its side's filter, keyed by its account (0 stands for it).
        if (!auditor && (q->filter() != own_filter || (q->key() != 0 && q->key() != account)))
          return reject(rid, wire::RejectCode::forbidden,
                        std::string("a trader may query only its own contracts (") +
                            wire::EnumNameContractFilter(own_filter) + ", key 0 or " + std::to_string(account) + ")");
        query = [rid, filter = q->filter(), key = auditor ? q->key() : account, from = q->from_time(),
                 to = q->to_time(), start = q->start(),
                 limit = std::clamp<std::uint32_t>(q->limit(), 1, 1000)](const ledger::Ledger& l) {
          ledger::ContractPage page;
          using F = wire::ContractFilter;
          switch (filter) {
            case F::by_buyer:
              page = l.contracts_by(ledger::ContractIndex::buyer, key, start, limit);
              break;
            case F::by_seller:
              page = l.contracts_by(ledger::ContractIndex::seller, key, start, limit);
              break;
            case F::by_hub:
              page = l.contracts_by(ledger::ContractIndex::hub, key, start, limit);
              break;
            case F::by_cluster:
              page = l.contracts_by(ledger::ContractIndex::cluster, key, start, limit);
              break;
            case F::by_batch:
              page = l.contracts_in_batch(key, start, limit);
              break;
            case F::by_time:
              page = l.contracts_cleared_between(from, to, start, limit);
              break;
          }
          std::vector<std::uint8_t> out;
          flatbuffers::FlatBufferBuilder b;
          std::vector<flatbuffers::Offset<wire::ContractRecord>> rows;
          for (const auto& c : page.contracts) rows.push_back(to_wire(b, c));
          const auto vector = b.CreateVector(rows);
          append_envelope(
              out, b, rid,
              wire::CreateContractsResult(b, vector, page.next_start.value_or(0), page.next_start.has_value()));
          return out;
        };
        break;
      }
      case P::QueryBatch:
        query = [rid, number = e.payload_as_QueryBatch()->number()](const ledger::Ledger& l) {
          std::vector<std::uint8_t> out;
          flatbuffers::FlatBufferBuilder b;
          if (const auto record = l.batch_record(number))
            append_envelope(out, b, rid, to_wire(b, *record));
          else
            append_reject(out, b, rid, wire::RejectCode::unknown_id, "no batch " + std::to_string(number));
          return out;
        };
        break;
      case P::QueryInclusionProof: {
        const auto* q = e.payload_as_QueryInclusionProof();
        query = [rid, contract = q->contract(), size = q->log_size()](const ledger::Ledger& l) {
          return proof_frame(rid, l.inclusion_proof(contract, size),
                             "no proof for contract " + std::to_string(contract) + " in a log of " +
                                 std::to_string(size) + " (the log holds " + std::to_string(l.log_size()) + ")");
        };
        break;
      }
      case P::QueryConsistencyProof: {
        const auto* q = e.payload_as_QueryConsistencyProof();
        query = [rid, old_size = q->old_size(), new_size = q->new_size()](const ledger::Ledger& l) {
          return proof_frame(rid, l.consistency_proof(old_size, new_size),
                             "no consistency proof from " + std::to_string(old_size) + " to " +
                                 std::to_string(new_size) + " (the log holds " + std::to_string(l.log_size()) + ")");
        };
        break;
      }
      default:  // QuerySignedHead
        query = [rid](const ledger::Ledger& l) {
          std::vector<std::uint8_t> out;
          flatbuffers::FlatBufferBuilder b;
          append_envelope(out, b, rid, to_wire(b, HeadView{l.head(), l.public_key()}));
          return out;
        };
        break;
    }
    ++in_flight_;
    server_->market.read_ledger(std::move(query), [self = shared_from_this()](std::vector<std::uint8_t> frame) {
      --self->in_flight_;
      self->outbox_.insert(self->outbox_.end(), frame.begin(), frame.end());
      self->writer_wake_.cancel();
    });
  }

  static std::vector<std::uint8_t> proof_frame(std::uint64_t rid, const std::optional<std::vector<ledger::Hash>>& proof,
                                               const std::string& missing) {
    std::vector<std::uint8_t> out;
    flatbuffers::FlatBufferBuilder b;
    if (!proof) {
      append_reject(out, b, rid, wire::RejectCode::unknown_id, missing);
      return out;
    }
    std::vector<flatbuffers::Offset<wire::Hash32>> hashes;
    for (const auto& h : *proof) hashes.push_back(wire::CreateHash32(b, b.CreateVector(h.data(), h.size())));
    const auto vector = b.CreateVector(hashes);
    append_envelope(out, b, rid, wire::CreateProofResult(b, vector));
    return out;
  }

  template <typename Table>
  void answer(std::uint64_t rid, flatbuffers::Offset<Table> payload) {
    append_envelope(outbox_, builder_, rid, payload);
    writer_wake_.cancel();
  }

  void ack(std::uint64_t rid, std::uint64_t client_order_id, std::uint64_t id, bool duplicate) {
    server_->acks_sent.fetch_add(1, std::memory_order_relaxed);
    answer(rid, wire::CreateAck(builder_, client_order_id, id, duplicate));
  }

  void reject(std::uint64_t rid, wire::RejectCode code, std::string_view reason, std::uint64_t client_order_id = 0) {
    server_->rejects_sent.fetch_add(1, std::memory_order_relaxed);
    append_reject(outbox_, builder_, rid, code, reason, client_order_id);
    writer_wake_.cancel();
  }

  std::shared_ptr<Server::State> server_;
  Stream stream_;
  std::string peer_;
  FrameReader frames_;
  flatbuffers::FlatBufferBuilder builder_{1024};
  std::vector<std::uint8_t> outbox_, sending_;
  RateLimit rate_;
  asio::steady_timer writer_wake_, reader_wake_, watchdog_, linger_;
  Clock::time_point last_frame_ = Clock::now();

  std::vector<std::uint8_t> challenge_;
  const Participant* candidate_ = nullptr;
  const Participant* participant_ = nullptr;  // set once logged in
  bool wants_batches_ = false;
  bool wants_contracts_ = false;

  std::size_t in_flight_ = 0;  // calls to the market not yet answered
  int bad_frames_ = 0;
  bool reading_stopped_ = false;
  bool reader_done_ = false;
  bool closed_ = false;
};

namespace {

// Past the connection cap: say why, without waiting for the peer, and close.
void refuse(tcp::socket socket) {
  std::vector<std::uint8_t> frame;
  flatbuffers::FlatBufferBuilder b;
  append_reject(frame, b, 0, wire::RejectCode::server_busy, "the exchange is at its connection limit; try later");
  boost::system::error_code ignored;
  socket.non_blocking(true, ignored);
  socket.write_some(asio::buffer(frame), ignored);
  socket.close(ignored);
}

awaitable<void> accept_loop(std::shared_ptr<Server::State> state) {
  for (;;) {
    tcp::socket socket(state->io);
    boost::system::error_code ec;
    co_await state->acceptor.async_accept(socket, asio::redirect_error(use_awaitable, ec));
    if (state->stopping || ec == asio::error::operation_aborted) break;
    if (ec) {
      // Out of file descriptors and the like: back off briefly instead of spinning.
      spdlog::warn("event=accept_error error=\"{}\"", ec.message());
      asio::steady_timer pause(state->io, std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    if (state->sessions.size() >= state->config.max_connections) {
      state->connections_refused.fetch_add(1, std::memory_order_relaxed);
      refuse(std::move(socket));
      continue;
    }
    state->connections_accepted.fetch_add(1, std::memory_order_relaxed);
    socket.set_option(tcp::no_delay(true), ec);
    std::make_shared<Session>(state, std::move(socket))->start();
  }
}

}  // namespace

std::optional<HostPort> parse_host_port(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view digits = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() || port > 65535)
    return std::nullopt;
  return HostPort{std::string(text.substr(0, colon)), static_cast<std::uint16_t>(port)};
}

Server::Server(asio::io_context& io, ServerConfig config, const Participants& participants, const Topology& topology,
               Market& market)
    : state_(std::make_shared<State>(io, std::move(config), participants, topology, market)) {}

Server::~Server() = default;

void Server::start() {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(state_->config.address, ec);
  if (ec) throw std::runtime_error("listen address '" + state_->config.address + "': " + ec.message());
  const tcp::endpoint endpoint(address, state_->config.port);
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("cannot listen on " + state_->config.address + ":" + std::to_string(state_->config.port) +
                             ": " + ec.message());
  spdlog::info("event=listening address={}:{} tls={}", state_->config.address, port(), state_->config.tls != nullptr);
  asio::co_spawn(state_->io, accept_loop(state_), asio::detached);
}

std::uint16_t Server::port() const {
  boost::system::error_code ec;
  const auto endpoint = state_->acceptor.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

void Server::stop() {
  if (state_->stopping) return;
  state_->stopping = true;
  boost::system::error_code ignored;
  state_->acceptor.close(ignored);
  // drain() may end a session, which removes it from the set: iterate over a copy.
  const std::vector<Session*> sessions(state_->sessions.begin(), state_->sessions.end());
  for (Session* session : sessions) session->drain();
  spdlog::info("event=draining sessions={}", sessions.size());
}

bool Server::stopped() const { return state_->stopping; }

void Server::publish_batch(const BatchSummary& summary) {
  std::vector<std::uint8_t> frame;
  flatbuffers::FlatBufferBuilder b;
  append_envelope(frame, b, 0, to_wire(b, summary));
  const std::vector<Session*> sessions(state_->sessions.begin(), state_->sessions.end());
  for (Session* session : sessions)
    if (session->wants_batches()) session->push(frame);
}

namespace {
// Builds the frame (with `build`, into a FlatBufferBuilder) only when someone listens to `account`.
template <typename Build>
void push_to_account(Server::State& state, ParticipantId account, Build build) {
  const auto found = state.listeners.find(account);
  if (found == state.listeners.end()) return;
  std::vector<std::uint8_t> frame;
  flatbuffers::FlatBufferBuilder b;
  append_envelope(frame, b, 0, build(b));
  // A push may close a session that falls too far behind, which takes it off the list: go over a copy.
  const std::vector<Session*> listening = found->second;
  for (Session* session : listening) session->push(frame);
}
}  // namespace

void Server::notify_contract(ParticipantId account, const ledger::ContractRecord& contract) {
  push_to_account(*state_, account, [&](flatbuffers::FlatBufferBuilder& b) {
    const auto record = to_wire(b, contract);
    return wire::CreateContractNotice(b, record);
  });
}

void Server::notify_fill(ParticipantId account, const FillView& fill) {
  push_to_account(*state_, account, [&](flatbuffers::FlatBufferBuilder& b) {
    return wire::CreateFill(b, fill.side, fill.id, fill.units, fill.remaining, fill.batch);
  });
}

void Server::notify_expired(ParticipantId account, const ExpiryView& expiry) {
  push_to_account(*state_, account, [&](flatbuffers::FlatBufferBuilder& b) {
    return wire::CreateExpired(b, expiry.side, expiry.id, expiry.remaining, expiry.expired_at);
  });
}

ServerStats Server::stats() const {
  const auto& s = *state_;
  return {s.connections_open.load(),    s.connections_accepted.load(),
          s.connections_refused.load(), s.frames_received.load(),
          s.acks_sent.load(),           s.rejects_sent.load()};
}

}  // namespace ewx::gateway
