#include "tests/support/emulated_scm.h"

#include "scm/client/scm_client.h"

namespace eg::testing {

Result<EmulatedScm> EmulatedScm::Start(const std::string& state_dir,
                                       const std::vector<CertType>& types, Logger& logger,
                                       Clock& clock) {
  EmulatedScm out;
  out.state_dir = state_dir;
  scm_emulator::Options eo;
  eo.state_dir = state_dir;
  EG_ASSIGN_OR_RETURN(out.emulator, scm_emulator::Emulator::Start(eo, logger));
  scm_client::Options so;
  so.base_url = out.emulator->base_url();
  so.ca_bundle_pem = out.emulator->ca_pem();
  so.auth = scm_client::AuthMode::kPassword;
  so.customer_uri = "demo";
  so.login = "admin";
  so.password = "admin";
  so.oauth_client_id = "codesign";  // code signing enrolls with OAuth2 client credentials
  so.oauth_client_secret = "codesign-secret";
  so.request_timeout = std::chrono::seconds(20);
  so.max_attempts = 2;
  EG_ASSIGN_OR_RETURN(out.scm, scm_client::CreateScmClient(so, logger, clock));
  for (CertType type : types) {
    EG_ASSIGN_OR_RETURN(std::vector<ScmProfile> profiles, out.scm->ListProfiles(type));
    for (ScmProfile& p : profiles) out.catalog.profiles.emplace_back(type, std::move(p));
  }
  return out;
}

void EmulatedScm::Stop() {
  scm.reset();
  if (emulator != nullptr) emulator->Stop();
  emulator.reset();
}

}  // namespace eg::testing
