// Responder: how a handler answers one request, now or later.
//
// A handler receives a Responder and calls Respond() exactly once, either before it returns (the
// /health case) or later from any thread (EST 202 / ACME work that waits on issuance). Copies
// share one completion: the first Respond() wins and later ones are ignored (and reported by
// the return value). If every copy is destroyed without a Respond(), the request is answered
// with a bare 500 so it can never hang; the transport logs that a handler forgot.
//
// The Request a handler was given stays valid until its Responder has completed, so an
// asynchronous handler may keep a reference to it until then (but not after).
//
// Thread-safety: Respond() may race with other copies' Respond() and destruction; exactly one
// answer reaches the transport's sink, called on the thread that completed first.
#pragma once

#include <functional>
#include <memory>

#include "protocols/http/message.h"

namespace eg::http {

class Responder {
 public:
  // `sink` receives the one response; `abandoned` is true when it is the automatic 500.
  using Sink = std::function<void(Response response, bool abandoned)>;

  explicit Responder(Sink sink);
  Responder(const Responder&) = default;
  Responder& operator=(const Responder&) = default;
  Responder(Responder&&) noexcept = default;
  Responder& operator=(Responder&&) noexcept = default;
  ~Responder() = default;

  // Answers the request. Returns false if it had already been answered.
  bool Respond(Response response);
  bool responded() const;

 private:
  class State;
  std::shared_ptr<State> state_;
};

}  // namespace eg::http
