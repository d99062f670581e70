// The gateway against a real server: ewx's Exchange and Server on an ephemeral loopback port, driven by the
// client library and, for hostile input, by raw sockets that send exactly the bytes a test chooses.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <future>
#include <random>
#include <set>
#include <thread>

#include "exchange/exchange.hpp"
#include "gateway/asio.hpp"
#include "gateway/client.hpp"
#include "gateway/server.hpp"
#include "ledger/hex.hpp"
#include "tests/temp_dir.hpp"

using namespace ewx;
using namespace ewx::gateway;
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

const std::string kSecretAlice(64, 'a'), kSecretBob(64, 'b'), kSecretPaula(64, 'c'), kSecretAudrey(64, 'd');

const char* const kParticipants =
    "participant alice enterprise 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
    "participant bob enterprise 2 bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n"
    "participant paula provider 100001 cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\n"
    "participant audrey auditor 900000 dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\n";

Credentials as(const std::string& name) {
  const std::string& hex = name == "alice"   ? kSecretAlice
                           : name == "bob"   ? kSecretBob
                           : name == "paula" ? kSecretPaula
                                             : kSecretAudrey;
  return {name, *from_hex(hex)};
}

// An exchange serving on 127.0.0.1 on its own thread, over the ledger in `dir`.
class LiveExchange {
 public:
  explicit LiveExchange(const fs::path& dir, ServerConfig config = {})
      : participants_(Participants::parse(kParticipants, "test participants")) {
    auto opened = Exchange::open(dir, true, io_);
    REQUIRE_MESSAGE(opened.is_ok(), opened.status().message());
    exchange_ = std::move(opened.value());
    config.port = 0;
    server_ = std::make_unique<Server>(io_, std::move(config), participants_, default_topology(), *exchange_);
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~LiveExchange() { stop(); }

  // The graceful stop SIGTERM gives ewxd; returns once every session has finished.
  void stop() {
    if (!thread_.joinable()) return;
    asio::post(io_, [this] { server_->stop(); });
    thread_.join();
    exchange_->stop();
  }

  Endpoint endpoint(bool tls = false) const { return {"127.0.0.1", port(), tls, ""}; }
  std::uint16_t port() const { return server_->port(); }
  Server& server() { return *server_; }
  asio::io_context& io() { return io_; }
  // Runs `f` on the server's thread and waits for it.
  template <typename F>
  void on_server(F f) {
    std::promise<void> done;
    asio::post(io_, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }

 private:
  Participants participants_;
  asio::io_context io_;
  std::unique_ptr<Exchange> exchange_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

OrderRequest order(std::uint64_t client_order_id, Units units = 10) {
  OrderRequest o;
  o.client_order_id = client_order_id;
  o.hub = "yrd";
  o.resource_class = "gpu.h100";
  o.units = units;
  o.bid = 3'500;
  o.max_latency_ms = 40;
  o.window_begin = 500'000;
  o.window_end = 500'024;
  return o;
}

OfferRequest offer(std::uint64_t client_order_id) {
  OfferRequest o;
  o.client_order_id = client_order_id;
  o.cluster = "wuhu";
  o.resource_class = "gpu.h100";
  o.units = 100;
  o.ask = 2'000;
  o.green_percent = 60;
  o.window_begin = 499'990;
  o.window_end = 500'100;
  return o;
}

// A plain blocking socket that sends exactly what a test gives it, for input no client library would send.
class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~RawConnection() { ::close(fd_); }

  void send(std::span<const std::uint8_t> bytes) {
    std::size_t at = 0;
    while (at < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
      if (n <= 0) return;  // the server closed: later reads say so
      at += static_cast<std::size_t>(n);
    }
  }
  template <typename Table>
  void send(std::uint64_t request_id, flatbuffers::Offset<Table> payload) {
    std::vector<std::uint8_t> frame;
    append_envelope(frame, builder, request_id, payload);
    send(frame);
  }

  struct Answer {
    wire::Payload type = wire::Payload::NONE;  // NONE: the server closed the connection (or 5 s passed)
    std::uint64_t request_id = 0;
    wire::RejectCode code = wire::RejectCode::malformed;
    std::string reason;
    std::vector<std::uint8_t> nonce;  // of a Challenge
  };
  Answer next() {
    for (;;) {
      const auto result = frames_.next();
      if (result == FrameReader::Result::frame) {
        const wire::Envelope& e = *frames_.envelope();
        Answer a;
        a.type = e.payload_type();
        a.request_id = e.request_id();
        if (const auto* r = e.payload_as_Reject()) {
          a.code = r->code();
          a.reason = r->reason() ? r->reason()->str() : "";
        }
        if (const auto* c = e.payload_as_Challenge()) a.nonce.assign(c->nonce()->begin(), c->nonce()->end());
        return a;
      }
      REQUIRE(result == FrameReader::Result::need_more);
      std::uint8_t buffer[65536];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return {};
      frames_.append({buffer, static_cast<std::size_t>(n)});
    }
  }
  // True when the server closes the connection (reading and dropping anything it still sends).
  bool closed_by_server() {
    for (int k = 0; k < 100000; ++k)
      if (next().type == wire::Payload::NONE) return true;
    return false;
  }

  void login(const std::string& name) {
    send(1, wire::CreateHello(builder, builder.CreateString(name)));
    const Answer challenge = next();
    REQUIRE(challenge.type == wire::Payload::Challenge);
    const Mac mac = hmac_sha256(as(name).secret, challenge.nonce);
    send(2, wire::CreateAuthenticate(builder, builder.CreateVector(mac.data(), mac.size())));
    REQUIRE(next().type == wire::Payload::Welcome);
  }

  int fd() const { return fd_; }
  flatbuffers::FlatBufferBuilder builder;

 private:
  int fd_ = -1;
  FrameReader frames_;
};

}  // namespace

TEST_CASE("gateway: a session submits, lists, cancels and queries over TCP") {
  testing::TempDir dir;
  LiveExchange live(dir.path);

  Client alice(live.endpoint(), as("alice"));
  CHECK(alice.role() == wire::Role::enterprise);
  const Answer first = alice.submit(order(7));
  REQUIRE(first.accepted);
  CHECK(first.id == 1);
  CHECK_FALSE(first.duplicate);
  const Answer second = alice.submit(order(8, 5));
  REQUIRE(second.accepted);
  CHECK(second.id == 2);

  Client paula(live.endpoint(), as("paula"));
  CHECK(paula.role() == wire::Role::provider);
  const Answer posted = paula.submit(offer(1));
  REQUIRE(posted.accepted);
  CHECK(posted.id == 1);

  auto open = alice.open_orders();
  REQUIRE(open.size() == 2);
  CHECK(open[0].id == 1);
  CHECK(open[0].client_order_id == 7);
  CHECK(open[0].remaining == 10);
  CHECK(open[1].remaining == 5);

  const Answer cancelled = alice.cancel(wire::Side::order, 1);
  CHECK(cancelled.accepted);
  open = alice.open_orders();
  REQUIRE(open.size() == 1);
  CHECK(open[0].id == 2);
  // A second cancel of the same order: it is no longer open.
  const Answer again = alice.cancel(wire::Side::order, 1);
  CHECK_FALSE(again.accepted);
  CHECK(again.code == wire::RejectCode::unknown_id);

  // Bad submissions are answered with the field and the reason, and nothing is created.
  OrderRequest bad = order(9);
  bad.hub = "mars";
  const Answer unknown_hub = alice.submit(bad);
  CHECK(unknown_hub.code == wire::RejectCode::unknown_hub_or_cluster);
  CHECK(unknown_hub.reason.find("mars") != std::string::npos);
  bad = order(10);
  bad.units = 0;
  const Answer no_units = alice.submit(bad);
  CHECK(no_units.code == wire::RejectCode::malformed);
  CHECK(no_units.reason.find("units") != std::string::npos);
  CHECK(alice.submit(order(0)).code == wire::RejectCode::malformed);  // client_order_id 0
  CHECK(alice.open_orders().size() == 1);

  // Auditor queries on an exchange that has cleared nothing yet.
  Client audrey(live.endpoint(), as("audrey"));
  CHECK(audrey.role() == wire::Role::auditor);
  const HeadView head = audrey.head();
  CHECK(head.head.batch == 0);
  CHECK(head.head.log_size == 0);
  CHECK(head.public_key.size() == 32);
  CHECK_FALSE(audrey.batch(1).has_value());
  CHECK_FALSE(audrey.contract(0).has_value());
  CHECK(audrey.contracts(wire::ContractFilter::by_hub, 1).contracts.empty());
}

TEST_CASE("gateway: authentication failures are refused, and nothing is served before login") {
  testing::TempDir dir;
  LiveExchange live(dir.path);

  Credentials wrong = as("alice");
  wrong.secret[0] ^= 1;
  CHECK_THROWS_WITH_AS(Client(live.endpoint(), wrong), doctest::Contains("authentication_failed"), ClientError);
  CHECK_THROWS_WITH_AS(Client(live.endpoint(), {"mallory", wrong.secret}), doctest::Contains("authentication_failed"),
                       ClientError);

  RawConnection raw(live.port());
  raw.send(5, to_wire(raw.builder, order(1)));
  const auto refused = raw.next();
  CHECK(refused.type == wire::Payload::Reject);
  CHECK(refused.code == wire::RejectCode::not_authenticated);
  CHECK(refused.request_id == 5);

  // A wrong answer to the challenge ends the session.
  raw.send(1, wire::CreateHello(raw.builder, raw.builder.CreateString("alice")));
  REQUIRE(raw.next().type == wire::Payload::Challenge);
  std::vector<std::uint8_t> guess(32, 0);
  raw.send(2, wire::CreateAuthenticate(raw.builder, raw.builder.CreateVector(guess)));
  CHECK(raw.next().code == wire::RejectCode::authentication_failed);
  CHECK(raw.closed_by_server());

  // Still serving everyone else.
  Client alice(live.endpoint(), as("alice"));
  CHECK(alice.submit(order(1)).accepted);
}

TEST_CASE("gateway: no participant sees, cancels or reads another's orders and contracts; roles hold") {
  testing::TempDir dir;
  LiveExchange live(dir.path);
  Client alice(live.endpoint(), as("alice"));
  Client bob(live.endpoint(), as("bob"));
  Client paula(live.endpoint(), as("paula"));
  Client audrey(live.endpoint(), as("audrey"));

  const Answer mine = alice.submit(order(1));
  REQUIRE(mine.accepted);
  CHECK(bob.open_orders().empty());
  const Answer stolen = bob.cancel(wire::Side::order, mine.id);
  CHECK_FALSE(stolen.accepted);
  CHECK(stolen.code == wire::RejectCode::unknown_id);
  // The same answer as for an id that does not exist: bob learns nothing about alice's orders.
  const Answer missing = bob.cancel(wire::Side::order, 999);
  CHECK(missing.code == wire::RejectCode::unknown_id);
  REQUIRE(alice.open_orders().size() == 1);

  CHECK(bob.submit(offer(1)).code == wire::RejectCode::forbidden);     // enterprises do not offer
  CHECK(paula.submit(order(1)).code == wire::RejectCode::forbidden);   // providers do not bid
  CHECK(audrey.submit(order(1)).code == wire::RejectCode::forbidden);  // auditors only read
  CHECK(paula.cancel(wire::Side::order, mine.id).code == wire::RejectCode::forbidden);
  CHECK(audrey.cancel(wire::Side::order, mine.id).code == wire::RejectCode::forbidden);
  CHECK_THROWS_AS(audrey.open_orders(), ClientError);

  // Traders read only their own contracts; auditors read any.
  CHECK_NOTHROW(alice.contracts(wire::ContractFilter::by_buyer, 0));
  CHECK_NOTHROW(alice.contracts(wire::ContractFilter::by_buyer, 1));
  CHECK_THROWS_WITH_AS(alice.contracts(wire::ContractFilter::by_buyer, 2), doctest::Contains("forbidden"), ClientError);
  CHECK_THROWS_WITH_AS(alice.contracts(wire::ContractFilter::by_hub, 1), doctest::Contains("forbidden"), ClientError);
  CHECK_THROWS_AS(paula.contracts(wire::ContractFilter::by_buyer, 0), ClientError);
  CHECK_NOTHROW(audrey.contracts(wire::ContractFilter::by_buyer, 2));
}

TEST_CASE(
    "gateway: a resend with the same client order id never creates a second order, across reconnects, "
    "pipelining and restarts") {
  testing::TempDir dir;
  std::uint64_t first_id = 0;
  {
    LiveExchange live(dir.path);
    {
      Client alice(live.endpoint(), as("alice"));
      const Answer a = alice.submit(order(77));
      REQUIRE(a.accepted);
      first_id = a.id;
    }
    Client alice(live.endpoint(), as("alice"));  // a new connection, as after a network failure
    const Answer resend = alice.submit(order(77));
    CHECK(resend.accepted);
    CHECK(resend.duplicate);
    CHECK(resend.id == first_id);
    // Another participant's client order ids are its own.
    Client bob(live.endpoint(), as("bob"));
    const Answer bobs = bob.submit(order(77));
    CHECK(bobs.accepted);
    CHECK_FALSE(bobs.duplicate);
    CHECK(bobs.id != first_id);

    // Pipelined: five copies sent before any answer; one order is created, the rest answered as resends
    // of it, and none before it is durable.
    asio::io_context io;
    AsyncClient async(io);
    std::vector<Answer> answers;
    asio::co_spawn(io, async.connect(live.endpoint(), as("alice")), [&](std::exception_ptr e, wire::Role) {
      REQUIRE_FALSE(e);
      for (int k = 0; k < 5; ++k) async.submit(order(78), [&](const Answer& a) { answers.push_back(a); });
    });
    while (answers.size() < 5 && io.run_one() > 0) {
    }
    REQUIRE(answers.size() == 5);
    std::set<std::uint64_t> ids;
    int fresh = 0;
    for (const Answer& a : answers) {
      CHECK(a.accepted);
      ids.insert(a.id);
      fresh += a.duplicate ? 0 : 1;
    }
    CHECK(ids.size() == 1);
    CHECK(fresh == 1);
    CHECK(alice.open_orders().size() == 2);
  }
  // After a restart the journal still knows the client order ids.
  LiveExchange restarted(dir.path);
  Client alice(restarted.endpoint(), as("alice"));
  const Answer resend = alice.submit(order(77));
  CHECK(resend.duplicate);
  CHECK(resend.id == first_id);
  const Answer fresh = alice.submit(order(79));
  CHECK_FALSE(fresh.duplicate);
  CHECK(fresh.id == 4);  // ids continue after the ones already taken (1..3)
  CHECK(alice.open_orders().size() == 3);
}

TEST_CASE("gateway: truncated, oversized, random and wrong-type frames get Rejects, and garbage closes the session") {
  testing::TempDir dir;
  ServerConfig config;
  config.max_bad_frames = 3;
  LiveExchange live(dir.path, config);

  SUBCASE("a truncated frame, then the peer goes away") {
    RawConnection raw(live.port());
    raw.login("alice");
    std::vector<std::uint8_t> frame;
    append_envelope(frame, raw.builder, 9, to_wire(raw.builder, order(1)));
    raw.send(std::span(frame).first(frame.size() / 2));
  }
  SUBCASE("an oversized length is refused before anything is buffered, and the session closed") {
    RawConnection raw(live.port());
    raw.login("alice");
    const std::uint8_t huge[] = {0xff, 0xff, 0xff, 0x7f, 1, 2, 3};
    raw.send(huge);
    const auto answer = raw.next();
    CHECK(answer.code == wire::RejectCode::too_large);
    CHECK(answer.reason.find("exceeds") != std::string::npos);
    CHECK(raw.closed_by_server());
  }
  SUBCASE("random bytes in frames: Rejects, then closed after the third") {
    RawConnection raw(live.port());
    raw.login("alice");
    std::mt19937 random(5);
    for (int k = 0; k < 3; ++k) {
      std::vector<std::uint8_t> junk = {40, 0, 0, 0};
      for (int b = 0; b < 40; ++b) junk.push_back(static_cast<std::uint8_t>(random()));
      raw.send(junk);
      const auto answer = raw.next();
      CHECK(answer.type == wire::Payload::Reject);
      CHECK(answer.code == wire::RejectCode::malformed);
    }
    CHECK(raw.closed_by_server());
  }
  SUBCASE("an answer sent as a request, and a payload type from a newer schema") {
    RawConnection raw(live.port());
    raw.login("alice");
    raw.send(11, wire::CreateAck(raw.builder, 1, 1, false));
    auto answer = raw.next();
    CHECK(answer.code == wire::RejectCode::unsupported);
    CHECK(answer.request_id == 11);
    // An Envelope naming union member 200 (a table this build does not know).
    flatbuffers::FlatBufferBuilder& b = raw.builder;
    const auto empty = wire::CreateQueryOrders(b);
    wire::EnvelopeBuilder envelope(b);
    envelope.add_request_id(12);
    envelope.add_payload_type(static_cast<wire::Payload>(200));
    envelope.add_payload(empty.Union());
    wire::FinishEnvelopeBuffer(b, envelope.Finish());
    std::vector<std::uint8_t> frame;
    append_frame(frame, b);
    b.Clear();
    raw.send(frame);
    answer = raw.next();
    CHECK(answer.code == wire::RejectCode::unsupported);
    CHECK(answer.request_id == 12);
  }
  // Whatever happened above, the server still serves.
  Client alice(live.endpoint(), as("alice"));
  CHECK(alice.submit(order(2)).accepted);
}

TEST_CASE("gateway: a client that does not read cannot make the server buffer without bound") {
  testing::TempDir dir;
  ServerConfig config;
  config.outbound_soft_limit = 64 * 1024;
  LiveExchange live(dir.path, config);
  RawConnection slow(live.port());
  slow.login("audrey");

  // Send head queries (about 40 bytes each, answered with about 250) without reading any answer, until the
  // socket will take no more: the server must have stopped reading, or this would go on forever.
  std::vector<std::uint8_t> frame;
  append_envelope(frame, slow.builder, 100, wire::CreateQuerySignedHead(slow.builder));
  std::vector<std::uint8_t> burst;
  for (int k = 0; k < 256; ++k) burst.insert(burst.end(), frame.begin(), frame.end());
  std::size_t sent = 0;
  for (;;) {
    const ssize_t n = ::send(slow.fd(), burst.data(), burst.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) break;
    sent += static_cast<std::size_t>(n);
    REQUIRE(sent < (256u << 20));
    if (static_cast<std::size_t>(n) < burst.size()) {  // finish the partial frame so the stream stays whole
      const std::size_t tail = frame.size() - sent % frame.size();
      if (tail != frame.size()) slow.send(std::span(frame).last(tail)), sent += tail;
      break;
    }
  }
  MESSAGE("the server stopped reading after " << sent / frame.size() << " requests");

  // Others are served meanwhile.
  Client alice(live.endpoint(), as("alice"));
  CHECK(alice.submit(order(1)).accepted);

  // And every request the slow client sent is answered once it reads.
  const std::size_t requests = sent / frame.size();
  std::size_t answered = 0;
  while (answered < requests) {
    const auto answer = slow.next();
    REQUIRE(answer.type == wire::Payload::HeadResult);
    ++answered;
  }
  CHECK(answered == requests);
}

TEST_CASE("gateway: the connection cap, the rate limit and the login deadline") {
  testing::TempDir dir;
  ServerConfig config;
  config.max_connections = 4;
  config.requests_per_second = 50;
  config.request_burst = 10;
  config.login_timeout = std::chrono::milliseconds(300);
  LiveExchange live(dir.path, config);

  SUBCASE("a flood of connections: those past the cap get server_busy and are closed") {
    std::vector<std::unique_ptr<RawConnection>> flood;
    for (int k = 0; k < 4; ++k) {
      flood.push_back(std::make_unique<RawConnection>(live.port()));
      flood.back()->login("bob");
    }
    for (int k = 0; k < 20; ++k) {
      RawConnection extra(live.port());
      const auto answer = extra.next();
      CHECK(answer.code == wire::RejectCode::server_busy);
      CHECK(extra.closed_by_server());
    }
    flood.clear();
    // Room again once they have gone.
    bool served = false;
    for (int attempt = 0; attempt < 50 && !served; ++attempt) {
      try {
        Client alice(live.endpoint(), as("alice"));
        served = alice.submit(order(1)).accepted;
      } catch (const ClientError&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    CHECK(served);
  }
  SUBCASE("requests past the burst are rate_limited, and the session goes on") {
    RawConnection raw(live.port());
    raw.login("alice");
    std::vector<std::uint8_t> frames;
    for (int k = 0; k < 40; ++k) append_envelope(frames, raw.builder, 100 + k, to_wire(raw.builder, order(1 + k)));
    raw.send(frames);
    int accepted = 0, limited = 0;
    for (int k = 0; k < 40; ++k) {
      const auto answer = raw.next();
      if (answer.type == wire::Payload::Ack) ++accepted;
      if (answer.code == wire::RejectCode::rate_limited) ++limited;
    }
    CHECK(accepted >= 10);
    CHECK(limited > 0);
    CHECK(accepted + limited == 40);
  }
  SUBCASE("a connection that does not log in is closed at the deadline") {
    RawConnection idle(live.port());
    const auto start = std::chrono::steady_clock::now();
    CHECK(idle.closed_by_server());
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(4));
  }
}

TEST_CASE("gateway: stopping finishes every acknowledgment in flight, and what was acknowledged is durable") {
  testing::TempDir dir;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> acked;  // client order id, exchange id
  std::size_t answered = 0;
  {
    LiveExchange live(dir.path);
    asio::io_context io;
    AsyncClient async(io);
    bool closed = false;
    async.on_closed([&](const std::string&) { closed = true; });
    asio::co_spawn(io, async.connect(live.endpoint(), as("alice")), [&](std::exception_ptr e, wire::Role) {
      REQUIRE_FALSE(e);
      for (std::uint64_t k = 1; k <= 3000; ++k)
        async.submit(order(k), [&, k](const Answer& a) {
          ++answered;
          if (a.accepted) acked.emplace_back(k, a.id);
          if (answered == 1) asio::post(live.io(), [&] { live.server().stop(); });
        });
    });
    while (!closed && io.run_one() > 0) {
    }
    live.stop();
  }
  CHECK(answered >= 1);
  CHECK(acked.size() >= 1);
  MESSAGE(acked.size() << " of 3000 acknowledged before the stop");
  // Every acknowledged order is in the journal with the id it was given.
  LiveExchange restarted(dir.path);
  Client alice(restarted.endpoint(), as("alice"));
  const auto open = alice.open_orders();
  CHECK(open.size() == acked.size());
  for (const auto& [client_order_id, id] : acked) {
    const Answer resend = alice.submit(order(client_order_id));
    CHECK(resend.duplicate);
    CHECK(resend.id == id);
  }
}

TEST_CASE("gateway: subscribers get batch summaries and only their own contract notices") {
  testing::TempDir dir;
  LiveExchange live(dir.path);
  Client alice(live.endpoint(), as("alice"));
  Client bob(live.endpoint(), as("bob"));
  Client audrey(live.endpoint(), as("audrey"));
  alice.subscribe(true, true);
  bob.subscribe(false, true);
  audrey.subscribe(true, false);

  ledger::ContractRecord contract;
  contract.id = 0;
  contract.batch = 1;
  contract.buyer = 1;
  contract.seller = 100001;
  contract.units = 10;
  contract.price = 2'500;
  contract.resource_class = "gpu.h100";
  BatchSummary summary;
  summary.number = 1;
  summary.contracts = 1;
  summary.total_surplus = "12345";
  live.on_server([&] {
    live.server().notify_contract(1, contract);
    live.server().notify_fill(1, FillView{wire::Side::order, 1, 10, 0, 1});
    live.server().publish_batch(summary);
    live.server().notify_expired(1, ExpiryView{wire::Side::order, 2, 7, 1'795'000'000});
  });

  auto notice = alice.next_notice(std::chrono::seconds(5));
  REQUIRE(notice);
  CHECK(std::get<ledger::ContractRecord>(*notice) == contract);
  notice = alice.next_notice(std::chrono::seconds(5));
  REQUIRE(notice);
  CHECK(std::get<FillView>(*notice).units == 10);
  notice = alice.next_notice(std::chrono::seconds(5));
  REQUIRE(notice);
  CHECK(std::get<BatchSummary>(*notice).total_surplus == "12345");
  notice = alice.next_notice(std::chrono::seconds(5));
  REQUIRE(notice);
  const auto& expired = std::get<ExpiryView>(*notice);
  CHECK((expired.side == wire::Side::order && expired.id == 2 && expired.remaining == 7));
  CHECK(expired.expired_at == 1'795'000'000);

  notice = audrey.next_notice(std::chrono::seconds(5));
  REQUIRE(notice);
  CHECK(std::get<BatchSummary>(*notice).number == 1);
  CHECK_FALSE(bob.next_notice(std::chrono::milliseconds(200)).has_value());
}

namespace {

// A self-signed certificate for 127.0.0.1 and localhost, and its key, as PEM files.
void write_test_certificate(const fs::path& certificate, const fs::path& key) {
  EVP_PKEY* pkey = EVP_EC_gen("P-256");
  REQUIRE(pkey);
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, pkey);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, x, x, nullptr, nullptr, 0);
  for (const auto& [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost"},
                                   std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
    X509_add_ext(x, extension, -1);
    X509_EXTENSION_free(extension);
  }
  REQUIRE(X509_sign(x, pkey, EVP_sha256()) > 0);
  FILE* out = std::fopen(certificate.c_str(), "w");
  PEM_write_X509(out, x);
  std::fclose(out);
  out = std::fopen(key.c_str(), "w");
  PEM_write_PrivateKey(out, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(out);
  X509_free(x);
  EVP_PKEY_free(pkey);
}

}  // namespace

TEST_CASE("gateway: TLS sessions, with the server's certificate verified") {
  testing::TempDir dir;
  const fs::path certificate = dir.path / "server.pem", key = dir.path / "server.key";
  write_test_certificate(certificate, key);
  ServerConfig config;
  config.tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  config.tls->use_certificate_chain_file(certificate.string());
  config.tls->use_private_key_file(key.string(), asio::ssl::context::pem);
  LiveExchange live(dir.path / "ledger", config);

  Endpoint endpoint = live.endpoint(true);
  endpoint.ca_file = certificate.string();
  Client alice(endpoint, as("alice"));
  CHECK(alice.submit(order(1)).accepted);
  CHECK(alice.open_orders().size() == 1);

  // Without the CA the certificate cannot be verified, and the client refuses the server.
  Endpoint unverified = live.endpoint(true);
  CHECK_THROWS_AS(Client(unverified, as("alice")), ClientError);
  // A plain-TCP client gets nowhere with a TLS server.
  CHECK_THROWS_AS(Client(live.endpoint(false), as("alice"), std::chrono::seconds(2)), ClientError);
}
