#include "protocols/http/responder.h"

#include <atomic>

namespace eg::http {

class Responder::State {
 public:
  explicit State(Sink sink) : sink_(std::move(sink)) {}
  ~State() {
    if (!done_.exchange(true)) sink_(Response::Status(500), /*abandoned=*/true);
  }
  bool Complete(Response response) {
    if (done_.exchange(true)) return false;
    sink_(std::move(response), /*abandoned=*/false);
    return true;
  }
  bool done() const { return done_.load(); }

 private:
  Sink sink_;
  std::atomic<bool> done_{false};
};

Responder::Responder(Sink sink) : state_(std::make_shared<State>(std::move(sink))) {}

bool Responder::Respond(Response response) {
  return state_ != nullptr && state_->Complete(std::move(response));
}

bool Responder::responded() const { return state_ == nullptr || state_->done(); }

}  // namespace eg::http
