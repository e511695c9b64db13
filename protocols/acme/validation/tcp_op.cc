#include "protocols/acme/validation/tcp_op.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/error.hpp>

namespace eg::acme::validation::internal {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using boost::system::error_code;

TcpOp::TcpOp(net::io_context& io, const ValidatorOptions& options, Validator::Done done)
    : options_(options),
      strand_(net::make_strand(io)),
      done_(std::move(done)),
      timer_(strand_),
      resolver_(strand_) {}

void TcpOp::Launch() {
  net::dispatch(strand_, [self = shared_from_this()] {
    self->deadline_ = SteadyClock::now() + self->options_.total_timeout;
    self->timer_.expires_at(self->deadline_);
    self->timer_.async_wait([self](error_code ec) {
      if (ec || self->finished_) return;
      self->Finish(TimeoutError(self->Doing(), self->options_.total_timeout));
    });
    self->Begin();
  });
}

void TcpOp::Connect(const std::string& host, uint16_t port, std::function<void()> next) {
  host_ = host;
  peer_ = host;
  std::string address = host;
  if (auto override = HostOverride(options_, host)) address = *override;
  error_code ec;
  const auto ip = net::ip::make_address(address, ec);
  if (!ec) {
    ConnectTo(tcp::resolver::results_type::create(tcp::endpoint(ip, port), host, ""),
              std::move(next));
    return;
  }
  resolver_.async_resolve(address, std::to_string(port),
                          [self = shared_from_this(), next = std::move(next), host](
                              error_code ec, tcp::resolver::results_type results) mutable {
                            if (self->finished_) return;
                            if (ec) {
                              self->Finish(MakeError(ValidationProblem::kConnection,
                                                     self->Doing() + ": cannot resolve " + host +
                                                         ": " + LowerFirst(ec.message())));
                              return;
                            }
                            self->ConnectTo(std::move(results), std::move(next));
                          });
}

void TcpOp::ConnectTo(tcp::resolver::results_type endpoints, std::function<void()> next) {
  if (stream_) stream_->close();
  stream_.emplace(strand_);
  const auto connect_deadline = std::min(deadline_, SteadyClock::now() + options_.connect_timeout);
  stream_->expires_at(connect_deadline);
  stream_->async_connect(endpoints, [self = shared_from_this(), next = std::move(next)](
                                        error_code ec, const tcp::endpoint& endpoint) {
    if (self->finished_) return;
    if (ec == beast::error::timeout) {
      self->Finish(TimeoutError(self->Doing() + ": connecting to " + self->host_,
                                self->options_.connect_timeout));
      return;
    }
    if (ec) {
      self->Finish(MakeError(
          ValidationProblem::kConnection,
          self->Doing() + ": connecting to " + self->host_ + ": " + LowerFirst(ec.message())));
      return;
    }
    std::string addr = endpoint.address().to_string();
    if (endpoint.address().is_v6()) addr = "[" + addr + "]";
    self->peer_ = self->host_ + " (" + addr + ":" + std::to_string(endpoint.port()) + ")";
    self->stream_->expires_at(self->deadline_);
    next();
  });
}

void TcpOp::Finish(Result<void> result) {
  if (finished_) return;
  finished_ = true;
  timer_.cancel();
  resolver_.cancel();
  CloseStreams();
  if (stream_) stream_->close();
  auto done = std::move(done_);
  done(std::move(result));
}

}  // namespace eg::acme::validation::internal
