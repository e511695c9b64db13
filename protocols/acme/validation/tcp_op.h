// TcpOp: the part http-01 and tls-alpn-01 share — one validation's strand, its overall deadline,
// resolving (or the test `hosts` override) and connecting with the connect timeout, and finishing
// exactly once. validation/ only. Every member is used on the strand only; an operation keeps
// itself alive through the shared_ptr its pending handlers hold.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "protocols/acme/validation/internal.h"

namespace eg::acme::validation::internal {

class TcpOp : public std::enable_shared_from_this<TcpOp> {
 public:
  virtual ~TcpOp() = default;
  // Arms the deadline and runs Begin() on the strand.
  void Launch();

 protected:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
  using SteadyClock = std::chrono::steady_clock;

  TcpOp(boost::asio::io_context& io, const ValidatorOptions& options, Validator::Done done);

  virtual void Begin() = 0;
  // What the deadline message names ("http-01: GET http://..."); may change as the op proceeds.
  virtual std::string Doing() const = 0;
  // Closes whatever streams the subclass layered on stream_ (run by Finish()).
  virtual void CloseStreams() {}

  // Connects a fresh stream_ to `host` (IP literal, `hosts` override, or resolved) on `port`;
  // calls `next` when connected, or Finish()es with a connection error naming `host`.
  void Connect(const std::string& host, uint16_t port, std::function<void()> next);
  void Finish(Result<void> result);
  bool finished() const { return finished_; }
  // "example.test (127.0.0.1:8080)" once connected, for messages.
  const std::string& peer() const { return peer_; }

  template <typename D>
  std::shared_ptr<D> Self() {
    return std::static_pointer_cast<D>(shared_from_this());
  }

  ValidatorOptions options_;
  Strand strand_;
  SteadyClock::time_point deadline_;
  std::optional<boost::beast::tcp_stream> stream_;

 private:
  void ConnectTo(boost::asio::ip::tcp::resolver::results_type endpoints,
                 std::function<void()> next);

  Validator::Done done_;
  boost::asio::steady_timer timer_;
  boost::asio::ip::tcp::resolver resolver_;
  bool finished_ = false;
  std::string host_;
  std::string peer_;
};

}  // namespace eg::acme::validation::internal
