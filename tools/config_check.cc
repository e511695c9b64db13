// enrollgate config check.
#include <ostream>

#include "mapping/validate.h"
#include "tools/commands.h"
#include "tools/format.h"

namespace eg::tools {

int RunConfigCheck(Session& session, const ParsedArgs& args) {
  std::ostream& out = session.out();
  if (!args.positional().empty()) {
    session.err() << "enrollgate config check: unexpected argument \"" << args.positional().front()
                  << "\"\n";
    return kExitUsage;
  }
  const config::Config& config = session.config();
  out << "configuration " << session.config_path() << ": loads (" << config.accounts.size()
      << " enrollment account" << (config.accounts.size() == 1 ? "" : "s") << ", store "
      << config.store.sqlite_path << ")\n";
  for (const std::string& warning : config.warnings) out << "warning: " << warning << "\n";

  Result<std::optional<PublishedCatalog>> catalog = session.LoadCatalog();
  if (!catalog.ok()) {
    out << "SCM's profile listing: cannot be read: " << catalog.error().message() << "\n"
        << "NOT OK\n";
    return kExitFailed;
  }
  if (!catalog->has_value()) {
    out << "SCM's profile listing: not in the store yet, so the accounts were NOT checked "
           "against SCM (start enrollgated once to publish it; it checks them at start)\n"
        << "OK\n";
    return kExitOk;
  }
  Result<void> valid = mapping::ValidateAccounts(config.accounts, (*catalog)->catalog);
  out << "SCM's profile listing: as published at " << FormatTime((*catalog)->published_at) << " ("
      << (*catalog)->catalog.profiles.size() << " profiles)\n";
  if (!valid.ok()) {
    out << "the enrollment accounts do not match SCM's profiles:\n"
        << valid.error().message() << "\n"
        << "NOT OK\n";
    return kExitFailed;
  }
  out << "OK\n";
  return kExitOk;
}

}  // namespace eg::tools
