// enrollgate est password.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <ostream>

#include "crypto/base64.h"
#include "crypto/password.h"
#include "crypto/random.h"
#include "tools/commands.h"

namespace eg::tools {

namespace {

namespace fs = std::filesystem;

constexpr size_t kPasswordBytes = 24;  // 32 base64url characters, 192 bits
constexpr int kMinIterations = 1000;   // what the configuration accepts
constexpr int kMaxIterations = 100000000;

std::string EstAccounts(const config::Config& config) {
  std::string names;
  for (const auto& a : config.accounts) {
    if (a.Allows(config::Protocol::kEst)) names += (names.empty() ? "" : ", ") + a.name;
  }
  return names.empty() ? "none" : names;
}

// A password a shell and an HTTP Basic header take as it is: base64url, not starting with '-'.
std::string NewPassword() {
  std::string p;
  do {
    p = crypto::Base64UrlEncode(crypto::RandomBytes(kPasswordBytes));
  } while (p.front() == '-');
  return p;
}

// `content` to `path` with mode 0600 through a temporary file and a rename: a daemon loading the
// configuration reads the old hash or the new one, never part of one.
Result<void> WriteSecretAtomic(const std::string& path, const std::string& content) {
  std::error_code ec;
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) {
    fs::create_directories(parent, ec);
    if (ec) return Unavailable("cannot create " + parent.string() + ": " + ec.message());
  }
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Unavailable("cannot create " + tmp + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);
  size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Unavailable("cannot write " + tmp + ": " + std::strerror(err));
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Unavailable("cannot write " + tmp + ": " + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Unavailable("cannot rename " + tmp + " to " + path + ": " + std::strerror(err));
  }
  return Ok();
}

}  // namespace

int RunEstPassword(Session& session, const ParsedArgs& args) {
  std::ostream& err = session.err();
  const std::string cmd = "enrollgate est password: ";
  if (!args.positional().empty()) {
    err << cmd << "unexpected argument \"" << args.positional().front() << "\"\n";
    return kExitUsage;
  }
  const std::string account_name = args.Get("account");
  const std::string user_name = args.Get("user");
  if (account_name.empty() || user_name.empty()) {
    err << cmd << "--account NAME and --user USER are required (accounts serving EST: "
        << EstAccounts(session.config()) << ")\n";
    return kExitUsage;
  }
  int iterations = crypto::kDefaultPasswordIterations;
  if (args.Has("iterations")) {
    const std::string text = args.Get("iterations");
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), iterations);
    if (ec != std::errc() || end != text.data() + text.size() || iterations < kMinIterations ||
        iterations > kMaxIterations) {
      err << cmd << "--iterations: must be a whole number from " << kMinIterations << " to "
          << kMaxIterations << " (got \"" << text << "\")\n";
      return kExitUsage;
    }
  }

  const config::Config& config = session.config();
  const config::AccountConfig* account = nullptr;
  size_t account_index = 0;
  for (size_t i = 0; i < config.accounts.size(); ++i) {
    if (config.accounts[i].name == account_name) {
      account = &config.accounts[i];
      account_index = i;
    }
  }
  if (account == nullptr || !account->Allows(config::Protocol::kEst)) {
    err << cmd << "no enrollment account \"" << account_name << "\" serving EST in "
        << session.config_path() << " (accounts serving EST: " << EstAccounts(config) << ")\n";
    return kExitFailed;
  }
  const config::BasicUser* user = nullptr;
  size_t user_index = 0;
  std::string users;
  for (size_t k = 0; k < account->est.basic_users.size(); ++k) {
    const config::BasicUser& u = account->est.basic_users[k];
    users += (users.empty() ? "" : ", ") + u.user;
    if (u.user == user_name) {
      user = &u;
      user_index = k;
    }
  }
  const std::string user_path = "accounts[" + std::to_string(account_index) + "].est.basic_users[" +
                                std::to_string(user_index) + "]";
  if (user == nullptr) {
    err << cmd << "account \"" << account_name << "\" has no Basic user \"" << user_name
        << "\" (accounts[" << account_index
        << "].est.basic_users: " << (users.empty() ? "none" : users) << "); add {\"user\": \""
        << user_name << "\", \"password_hash_file\": \"PATH\"} there first\n";
    return kExitFailed;
  }
  if (user->password_hash_file.empty()) {
    err << cmd << "user \"" << user_name << "\" of account \"" << account_name
        << "\" has its hash written in the configuration (" << user_path
        << ".password_hash); replace it by \"password_hash_file\": \"PATH\" for this command to "
           "manage it, or put a hash from another tool there\n";
    return kExitFailed;
  }

  const std::string password = NewPassword();
  Result<std::string> hash = crypto::HashPassword(password, iterations);
  if (!hash.ok()) {
    err << cmd << hash.error().message() << "\n";
    return kExitFailed;
  }
  if (Result<void> written = WriteSecretAtomic(user->password_hash_file, *hash + "\n");
      !written.ok()) {
    err << cmd << user_path << ".password_hash_file: " << written.error().message() << "\n";
    return kExitFailed;
  }
  session.out() << password << "\n";
  err << "enrollgate est password: new password for user \"" << user_name << "\" of account \""
      << account_name << "\"; its hash is in " << user->password_hash_file
      << " (enrollgated reads it at its next start or reload, SIGHUP)\n";
  return kExitOk;
}

}  // namespace eg::tools
