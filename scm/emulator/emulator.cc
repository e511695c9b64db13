// Emulator::Start and the administrator acts on a state directory (see emulator.h).
#include "scm/emulator/emulator.h"

#include <filesystem>

#include "scm/emulator/ca.h"
#include "scm/emulator/fixtures.h"
#include "scm/emulator/server.h"
#include "scm/emulator/service.h"
#include "scm/emulator/state.h"

namespace eg::scm_emulator {

namespace {

// Owns everything; destruction order stops the server before what it borrows.
class EmulatorImpl final : public Emulator {
 public:
  EmulatorImpl(Fixtures fixtures, std::unique_ptr<State> state, std::unique_ptr<Ca> ca,
               Logger& logger, const Switches& switches)
      : fixtures_(std::move(fixtures)),
        state_(std::move(state)),
        ca_(std::move(ca)),
        service_(fixtures_, *state_, *ca_, clock_, [this] { return server_->switches(); }),
        server_(std::make_unique<Server>(fixtures_, service_, *ca_, clock_, logger, switches)) {}
  ~EmulatorImpl() override { Stop(); }

  Result<void> Listen(const std::string& host, uint16_t port) {
    EG_ASSIGN_OR_RETURN(auto tls, ca_->ServerCredentials(host));
    return server_->Start(host, port, tls);
  }

  uint16_t port() const override { return server_->port(); }
  std::string base_url() const override { return server_->base_url(); }
  std::string ca_pem() const override { return ca_->pem(); }
  std::string ca_pem_path() const override { return ca_->pem_path(); }
  void SetSwitches(const Switches& switches) override { server_->SetSwitches(switches); }
  void Stop() override { server_->Stop(); }

 private:
  SystemClock clock_;
  Fixtures fixtures_;
  std::unique_ptr<State> state_;
  std::unique_ptr<Ca> ca_;
  Service service_;
  std::unique_ptr<Server> server_;
};

Result<void> Decide(const std::string& state_dir, const std::string& id_text, bool approve,
                    const std::string& message) {
  auto id = ParseId(id_text);
  if (!id) return InvalidArgument("not an enrollment id: '" + id_text + "'");
  if (!std::filesystem::exists(state_dir + "/emulator.db")) {
    return NotFound("no emulator state in " + state_dir);
  }
  EG_ASSIGN_OR_RETURN(auto state, State::Open(state_dir));
  const int64_t now = ToUnixSeconds(std::chrono::system_clock::now());
  return state->Tx([&]() -> Result<void> {
    EG_ASSIGN_OR_RETURN(auto row, state->Get(*id));
    if (!row) return Error(ErrorCode::kNotFound, "no enrollment " + id_text, -5101);
    EG_TRY(ApplyDecision(*row, approve, message, now));
    return state->Update(*row);
  });
}

}  // namespace

Result<std::unique_ptr<Emulator>> Emulator::Start(const Options& options, Logger& logger) {
  if (options.state_dir.empty()) return InvalidArgument("scm emulator: state_dir is required");
  EG_ASSIGN_OR_RETURN(auto fixtures, LoadFixtures(options.config_file));
  EG_ASSIGN_OR_RETURN(auto state, State::Open(options.state_dir));
  EG_ASSIGN_OR_RETURN(auto ca, Ca::LoadOrCreate(options.state_dir));
  for (const auto& u : fixtures.users) {
    if (u.certificate) EG_TRY(ca->EnsureLoginCertificate(options.state_dir, u.login));
  }
  auto emulator = std::make_unique<EmulatorImpl>(std::move(fixtures), std::move(state),
                                                 std::move(ca), logger, options.switches);
  EG_TRY(emulator->Listen(options.listen_host, options.port));
  logger.Info("scm emulator listening",
              {{"url", emulator->base_url()}, {"state_dir", options.state_dir}});
  return std::unique_ptr<Emulator>(std::move(emulator));
}

Result<void> ApproveInState(const std::string& state_dir, const std::string& id,
                            const std::string& message) {
  return Decide(state_dir, id, /*approve=*/true, message);
}

Result<void> DeclineInState(const std::string& state_dir, const std::string& id,
                            const std::string& message) {
  return Decide(state_dir, id, /*approve=*/false, message);
}

}  // namespace eg::scm_emulator
