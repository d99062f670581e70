// ewxd: the exchange daemon. It listens for participants (gateway/server), decides and journals what they
// send (exchange/exchange), and stops gracefully on SIGTERM or SIGINT: no new connections, every submission
// already taken answered, the journal's last group written, then exit 0.
//
// Options come from flags or from a config file in INI/TOML form (--config FILE, keys named like the long
// flags: `listen = "0.0.0.0:7400"`); flags win. Defaults need no configuration: the data dir ewx-data/exchange,
// its participants file beside the ledger, the built-in topology, 127.0.0.1:7400.
//
// Exit status: 0 after a clean stop, 1 bad configuration or input (the message says which and where),
// 2 usage, 3 the data directory or the listen address cannot be used.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <filesystem>

#include "exchange/exchange.hpp"
#include "gateway/asio.hpp"
#include "gateway/server.hpp"
#include "matcher/line_scanner.hpp"
#include "matcher/topology.hpp"
#include "tools/read_file.hpp"

namespace {

namespace asio = boost::asio;

struct Options {
  std::string listen = "127.0.0.1:7400";
  std::string data_dir = "ewx-data/exchange";
  std::string participants;  // default: <data_dir>/participants
  bool default_participants = false;
  std::string topology;  // default: built in
  std::string tls_cert, tls_key;
  std::size_t max_connections = 1024;
  std::uint32_t rate_limit = 500'000;
  int idle_timeout_s = 300;
  std::string log_level = "info";
};

struct Failure {
  int exit_code;
  std::string message;
};

Options parse_options(int argc, char** argv) {
  Options o;
  CLI::App app{"ewxd: the East-West compute exchange daemon"};
  app.set_config("--config", "", "read options from this INI/TOML file (flags override it)");
  app.add_option("--listen", o.listen, "address:port to accept participants on")->capture_default_str();
  app.add_option("--data-dir", o.data_dir, "ledger directory (created when new)")->capture_default_str();
  app.add_option("--participants", o.participants, "participants file (default: DATA_DIR/participants)");
  app.add_option("--topology", o.topology, "topology file (default: the built-in 8 hubs and 10 clusters)");
  app.add_option("--tls-cert", o.tls_cert, "PEM certificate chain: speak TLS (with --tls-key)");
  app.add_option("--tls-key", o.tls_key, "PEM private key for --tls-cert");
  app.add_option("--max-connections", o.max_connections, "connection cap")->capture_default_str();
  app.add_option("--rate-limit", o.rate_limit, "requests per second per connection")->capture_default_str();
  app.add_option("--idle-timeout", o.idle_timeout_s, "seconds of silence before a session is closed")
      ->capture_default_str();
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn or error")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e) == 0 ? 0 : 2);
  }
  if (o.participants.empty()) {
    o.participants = (std::filesystem::path(o.data_dir) / "participants").string();
    o.default_participants = true;
  }
  if (o.tls_cert.empty() != o.tls_key.empty()) throw Failure{2, "--tls-cert and --tls-key go together"};
  return o;
}

ewx::gateway::ServerConfig server_config(const Options& o) {
  ewx::gateway::ServerConfig config;
  const auto listen = ewx::gateway::parse_host_port(o.listen);
  if (!listen) throw Failure{1, "--listen '" + o.listen + "': expected address:port, the port from 0 to 65535"};
  config.address = listen->host;
  config.port = listen->port;
  config.max_connections = o.max_connections;
  config.requests_per_second = o.rate_limit;
  config.idle_timeout = std::chrono::seconds(o.idle_timeout_s);
  if (!o.tls_cert.empty()) {
    auto tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    try {
      tls->use_certificate_chain_file(o.tls_cert);
      tls->use_private_key_file(o.tls_key, asio::ssl::context::pem);
    } catch (const boost::system::system_error& e) {
      throw Failure{1, "TLS certificate or key (" + o.tls_cert + ", " + o.tls_key + "): " + e.code().message()};
    }
    config.tls = std::move(tls);
  }
  return config;
}

// The default participants file is created on first start, so the demo needs no set-up: 40 enterprises,
// 12 providers and an auditor, readable by the operator only. A file named with --participants must exist.
void write_default_participants(const std::string& path) {
  namespace fs = std::filesystem;
  fs::create_directories(fs::path(path).parent_path());
  const std::string text = ewx::gateway::new_participants_file(40, 12, 1);
  std::FILE* file = std::fopen(path.c_str(), "wx");
  if (!file) throw Failure{3, "cannot create " + path};
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  const bool written = std::fwrite(text.data(), 1, text.size(), file) == text.size();
  if (std::fclose(file) != 0 || !written) throw Failure{3, "cannot write " + path};
  spdlog::info("ewxd: wrote a new participants file {} (40 enterprises, 12 providers, 1 auditor)", path);
}

ewx::gateway::Participants load_participants(const std::string& path, bool is_default) {
  if (!std::filesystem::exists(path)) {
    if (!is_default)
      throw Failure{1, "participants file " + path + " not found (write one with `ewx admin participants`)"};
    write_default_participants(path);
  }
  try {
    return ewx::gateway::Participants::parse(ewx::tools::read_whole_file(path), path);
  } catch (const std::exception& e) {
    throw Failure{1, e.what()};
  }
}

ewx::Topology load_topology(const std::string& path) {
  if (path.empty()) return ewx::default_topology();
  try {
    return ewx::parse_topology(ewx::tools::read_whole_file(path), path);
  } catch (const std::exception& e) {
    throw Failure{1, e.what()};
  }
}

int serve(const Options& options) {
  const ewx::gateway::ServerConfig config = server_config(options);
  const ewx::gateway::Participants participants = load_participants(options.participants, options.default_participants);
  const ewx::Topology topology = load_topology(options.topology);

  asio::io_context io;
  auto opened = ewx::Exchange::open(std::filesystem::path(options.data_dir) / "ledger", true, io);
  if (!opened.is_ok()) throw Failure{3, opened.status().message()};
  ewx::Exchange& exchange = *opened.value();

  ewx::gateway::Server server(io, config, participants, topology, exchange);
  try {
    server.start();
  } catch (const std::exception& e) {
    throw Failure{3, e.what()};
  }
  spdlog::info("ewxd: data dir {}, {} participants, {} hubs and {} clusters", options.data_dir, participants.size(),
               topology.hubs.size(), topology.clusters.size());

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("ewxd: {} received, stopping", signal == SIGTERM ? "SIGTERM" : "SIGINT");
    server.stop();
  });
  io.run();
  exchange.stop();
  const auto& counted = exchange.counters();
  spdlog::info("ewxd: stopped cleanly; {} orders, {} offers, {} cancels accepted, {} resends answered",
               counted.orders_accepted, counted.offers_accepted, counted.cancels_accepted, counted.resends);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options options = parse_options(argc, argv);
    spdlog::set_level(spdlog::level::from_str(options.log_level));
    return serve(options);
  } catch (const Failure& failure) {
    spdlog::error("ewxd: {}", failure.message);
    return failure.exit_code;
  }
}
