#include "daemon/est_kek.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "crypto/base64.h"
#include "crypto/random.h"
#include "daemon/server_cert.h"

namespace eg::daemon {
namespace {

namespace fs = std::filesystem;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::vector<uint8_t>> ParseKek(std::string text, const std::string& path,
                                      std::string_view key_path) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  std::vector<uint8_t> key;
  bool hex = text.size() == 2 * kKekBytes;
  for (size_t i = 0; hex && i < text.size(); i += 2) {
    int hi = HexValue(text[i]), lo = HexValue(text[i + 1]);
    hex = hi >= 0 && lo >= 0;
    key.push_back(static_cast<uint8_t>(hi * 16 + lo));
  }
  if (!hex) {
    return InvalidArgument(std::string(key_path) + ": " + path +
                           " must hold 64 hex characters (a 32-byte key; `openssl rand -hex 32` "
                           "makes one)");
  }
  return key;
}

}  // namespace

Result<std::vector<uint8_t>> LoadOrCreateKek(const std::string& path, std::string_view key_path,
                                             Logger& logger) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    if (fs::path(path).has_parent_path()) fs::create_directories(fs::path(path).parent_path(), ec);
    // Written whole under a temporary name, then linked into place: link() never replaces, so a
    // daemon racing this one keeps the key that got there first.
    const std::string tmp = path + ".new." + std::to_string(getpid());
    EG_TRY(WriteFileAtomic(tmp, crypto::HexEncode(crypto::RandomBytes(kKekBytes)) + "\n", 0600));
    const int linked = ::link(tmp.c_str(), path.c_str());
    const int err = errno;
    ::unlink(tmp.c_str());
    if (linked != 0 && err != EEXIST) {
      return Unavailable(std::string(key_path) + ": cannot create " + path + ": " +
                         std::strerror(err));
    }
    if (linked == 0) logger.Info("EST server-key KEK generated", {{"path", path}});
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    logger.Warn("EST server-key KEK is accessible by group or others; chmod 600 it",
                {{"path", path}});
  }
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return text.error().WithContext(std::string(key_path));
  return ParseKek(std::move(text).value(), path, key_path);
}

}  // namespace eg::daemon
