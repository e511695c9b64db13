// dns-01 (RFC 8555 §8.4): a TXT query for _acme-challenge.<name> through c-ares; the challenge
// passes if any TXT record equals base64url(SHA-256(key authorization)). The resolver follows
// CNAMEs (a recursive server answers with the chain and the target's TXT records). How c-ares
// runs on the io_context is described in validator.h.
#include <ares.h>
#include <arpa/nameser.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "crypto/base64.h"
#include "crypto/random.h"
#include "protocols/acme/validation/internal.h"

namespace eg::acme::validation::internal {
namespace {

namespace net = boost::asio;
using boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

void InitAresOnce() {
  static std::once_flag once;
  std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
}

class Dns01 final : public std::enable_shared_from_this<Dns01> {
 public:
  Dns01(net::io_context& io, const ValidatorOptions& options, const ValidationRequest& request,
        Validator::Done done)
      : options_(options),
        strand_(net::make_strand(io)),
        deadline_timer_(strand_),
        ares_timer_(strand_),
        done_(std::move(done)) {
    std::string name = request.identifier;
    if (name.rfind("*.", 0) == 0) name = name.substr(2);
    while (!name.empty() && name.back() == '.') name.pop_back();
    query_name_ = "_acme-challenge." + name;
    expected_ = crypto::Base64UrlEncode(crypto::Sha256(request.key_authorization));
  }

  // Reached without Finish() only when the io_context dropped our handlers (it was destroyed
  // with this validation pending): hand the sockets back to c-ares without touching the reactor
  // again, then let c-ares close them.
  ~Dns01() {
    if (channel_ == nullptr) return;
    for (auto& [fd, watch] : watches_) watch->desc.release();
    watches_.clear();
    ares_destroy(channel_);
  }

  void Launch() {
    net::dispatch(strand_, [self = shared_from_this()] { self->Begin(); });
  }

 private:
  struct Watch {
    explicit Watch(net::any_io_executor ex, int fd) : desc(ex, fd) {}
    net::posix::stream_descriptor desc;
    bool want_read = false;
    bool want_write = false;
    bool reading = false;
    bool writing = false;
  };

  std::string Doing() const { return "dns-01: TXT lookup of " + query_name_; }

  void Begin() {
    deadline_timer_.expires_after(options_.total_timeout);
    deadline_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec || self->finished_) return;
      self->Finish(TimeoutError(self->Doing(), self->options_.total_timeout));
    });
    InitAresOnce();
    ares_options opts{};
    opts.sock_state_cb = &Dns01::SockStateCb;
    opts.sock_state_cb_data = this;
    // Per-try timeout; c-ares retries within the overall deadline the timer above enforces.
    opts.timeout = static_cast<int>(
        std::min<long long>(std::max<long long>(options_.total_timeout.count() / 3, 100), 5000));
    opts.tries = 3;
    opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_EDNS;
    opts.ednspsz = 1232;
    int optmask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS |
                  ARES_OPT_EDNSPSZ;
    int rc = ares_init_options(&channel_, &opts, optmask);
    if (rc != ARES_SUCCESS) {
      channel_ = nullptr;
      return Finish(MakeError(ValidationProblem::kDns,
                              Doing() + ": cannot start the resolver: " + ares_strerror(rc)));
    }
    if (!options_.dns_server.empty()) {
      rc = ares_set_servers_ports_csv(channel_, options_.dns_server.c_str());
      if (rc != ARES_SUCCESS) {
        return Finish(MakeError(
            ValidationProblem::kDns,
            Doing() + ": bad dns_server \"" + options_.dns_server + "\": " + ares_strerror(rc)));
      }
    }
    ares_query(channel_, query_name_.c_str(), ns_c_in, ns_t_txt, &Dns01::QueryCb, this);
    AfterAres();
  }

  // c-ares tells us which sockets to watch (called from inside ares_* calls, on the strand).
  static void SockStateCb(void* data, ares_socket_t fd, int readable, int writable) {
    auto* self = static_cast<Dns01*>(data);
    auto it = self->watches_.find(fd);
    if (!readable && !writable) {
      if (it != self->watches_.end()) {
        error_code ignored;
        it->second->desc.cancel(ignored);
        it->second->desc.release();  // c-ares closes the fd itself
        self->watches_.erase(it);
      }
      return;
    }
    if (it == self->watches_.end()) {
      it = self->watches_.emplace(fd, std::make_shared<Watch>(self->strand_, fd)).first;
    }
    it->second->want_read = readable != 0;
    it->second->want_write = writable != 0;
  }

  static void QueryCb(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
    auto* self = static_cast<Dns01*>(arg);
    if (self->finished_ || status == ARES_EDESTRUCTION) return;
    self->result_ = self->Evaluate(status, abuf, alen);
  }

  Result<void> Evaluate(int status, unsigned char* abuf, int alen) {
    if (status == ARES_ENOTFOUND || status == ARES_ENODATA) {
      return MakeError(ValidationProblem::kUnauthorized,
                       "dns-01: no TXT record at " + query_name_ +
                           (status == ARES_ENOTFOUND ? " (the name does not exist)" : ""));
    }
    if (status == ARES_ETIMEOUT) {
      return MakeError(ValidationProblem::kDns,
                       Doing() + ": no DNS server answered" +
                           (options_.dns_server.empty() ? "" : " (" + options_.dns_server + ")"));
    }
    if (status != ARES_SUCCESS) {
      return MakeError(ValidationProblem::kDns,
                       Doing() + " failed: " + LowerFirst(ares_strerror(status)));
    }
    ares_txt_ext* txt = nullptr;
    const int rc = ares_parse_txt_reply_ext(abuf, alen, &txt);
    if (rc == ARES_ENODATA) {
      return MakeError(ValidationProblem::kUnauthorized, "dns-01: no TXT record at " + query_name_);
    }
    if (rc != ARES_SUCCESS) {
      return MakeError(ValidationProblem::kDns,
                       Doing() + ": unparsable answer: " + LowerFirst(ares_strerror(rc)));
    }
    // A record may be split into several character-strings; join them.
    std::vector<std::string> records;
    for (ares_txt_ext* t = txt; t != nullptr; t = t->next) {
      if (t->record_start || records.empty()) records.emplace_back();
      records.back().append(reinterpret_cast<const char*>(t->txt), t->length);
    }
    ares_free_data(txt);
    std::string seen;
    for (const auto& r : records) {
      if (r == expected_) return Ok();
      if (!seen.empty()) seen += ", ";
      seen += "\"" + r.substr(0, 100) + "\"";
    }
    return MakeError(ValidationProblem::kIncorrectResponse,
                     "dns-01: TXT record(s) at " + query_name_ + " are " + seen +
                         "; none is the expected \"" + expected_ + "\"");
  }

  // After any ares_* call: finish if the query completed, else (re)arm socket waits and the
  // retransmission timer.
  void AfterAres() {
    if (finished_) return;
    if (result_) return Finish(std::move(*result_));
    for (auto& [fd, watch] : watches_) Arm(fd, watch);
    timeval max{};
    max.tv_sec = 60;
    timeval tv{};
    if (ares_timeout(channel_, &max, &tv) != nullptr) {
      ares_timer_.expires_after(std::chrono::seconds(tv.tv_sec) +
                                std::chrono::microseconds(tv.tv_usec));
      ares_timer_.async_wait([self = shared_from_this()](error_code ec) {
        if (ec || self->finished_) return;
        ares_process_fd(self->channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        self->AfterAres();
      });
    }
  }

  void Arm(int fd, const std::shared_ptr<Watch>& watch) {
    if (watch->want_read && !watch->reading) {
      watch->reading = true;
      watch->desc.async_wait(net::posix::descriptor_base::wait_read,
                             [self = shared_from_this(), fd, watch](error_code ec) {
                               watch->reading = false;
                               if (ec || self->finished_) return;
                               auto it = self->watches_.find(fd);
                               if (it == self->watches_.end() || it->second != watch) return;
                               ares_process_fd(self->channel_, fd, ARES_SOCKET_BAD);
                               self->AfterAres();
                             });
    }
    if (watch->want_write && !watch->writing) {
      watch->writing = true;
      watch->desc.async_wait(net::posix::descriptor_base::wait_write,
                             [self = shared_from_this(), fd, watch](error_code ec) {
                               watch->writing = false;
                               if (ec || self->finished_) return;
                               auto it = self->watches_.find(fd);
                               if (it == self->watches_.end() || it->second != watch) return;
                               ares_process_fd(self->channel_, ARES_SOCKET_BAD, fd);
                               self->AfterAres();
                             });
    }
  }

  void Finish(Result<void> result) {
    if (finished_) return;
    finished_ = true;
    deadline_timer_.cancel();
    ares_timer_.cancel();
    if (channel_ != nullptr) {
      // Releases our descriptors through SockStateCb and calls QueryCb with ARES_EDESTRUCTION.
      ares_destroy(channel_);
      channel_ = nullptr;
    }
    for (auto& [fd, watch] : watches_) {
      error_code ignored;
      watch->desc.cancel(ignored);
      watch->desc.release();
    }
    watches_.clear();
    auto done = std::move(done_);
    done(std::move(result));
  }

  ValidatorOptions options_;
  net::strand<net::io_context::executor_type> strand_;
  net::steady_timer deadline_timer_;
  net::steady_timer ares_timer_;
  Validator::Done done_;
  std::string query_name_;
  std::string expected_;
  ares_channel channel_ = nullptr;
  std::map<int, std::shared_ptr<Watch>> watches_;
  bool finished_ = false;
  std::optional<Result<void>> result_;
};

}  // namespace

void StartDns01(net::io_context& io, const ValidatorOptions& options,
                const ValidationRequest& request, Validator::Done done) {
  std::make_shared<Dns01>(io, options, request, std::move(done))->Launch();
}

}  // namespace eg::acme::validation::internal
