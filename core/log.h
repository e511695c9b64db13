// Logger: structured JSON-lines logging, one object per line, to a FILE* (stderr by default).
//
//   logger.Info("enrollment submitted", {{"scm_id", id}, {"account", name}});
//   -> {"ts":"2026-11-25T06:30:00.123Z","level":"info","msg":"enrollment submitted",...}
//
// A Logger is passed to constructors like any other dependency (there is no global logger).
// Log() is safe to call from several threads: each line is formatted first and written whole
// under a mutex. LogLine collects the fields of one request and writes them once, at the end.
#pragma once

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace eg {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug" | "info" | "warn" | "error"; false if unknown.
bool ParseLogLevel(std::string_view text, LogLevel* out);

struct LogField {
  using Value = std::variant<std::string, int64_t, bool, double>;
  LogField(std::string_view k, std::string_view v) : key(k), value(std::string(v)) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(std::string(v)) {}
  LogField(std::string_view k, int v) : key(k), value(static_cast<int64_t>(v)) {}
  LogField(std::string_view k, long v) : key(k), value(static_cast<int64_t>(v)) {}
  LogField(std::string_view k, long long v) : key(k), value(static_cast<int64_t>(v)) {}
  LogField(std::string_view k, unsigned v) : key(k), value(static_cast<int64_t>(v)) {}
  LogField(std::string_view k, unsigned long v) : key(k), value(static_cast<int64_t>(v)) {}
  LogField(std::string_view k, unsigned long long v) : key(k), value(static_cast<int64_t>(v)) {}
  LogField(std::string_view k, bool v) : key(k), value(v) {}
  LogField(std::string_view k, double v) : key(k), value(v) {}
  std::string key;
  Value value;
};

class Logger {
 public:
  explicit Logger(LogLevel min_level = LogLevel::kInfo, std::FILE* out = stderr)
      : min_level_(min_level), out_(out) {}
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  bool Enabled(LogLevel level) const { return level >= min_level_; }
  void Log(LogLevel level, std::string_view msg, const std::vector<LogField>& fields = {});
  void Debug(std::string_view msg, const std::vector<LogField>& f = {}) {
    Log(LogLevel::kDebug, msg, f);
  }
  void Info(std::string_view msg, const std::vector<LogField>& f = {}) {
    Log(LogLevel::kInfo, msg, f);
  }
  void Warn(std::string_view msg, const std::vector<LogField>& f = {}) {
    Log(LogLevel::kWarn, msg, f);
  }
  void Error(std::string_view msg, const std::vector<LogField>& f = {}) {
    Log(LogLevel::kError, msg, f);
  }

 private:
  LogLevel min_level_;
  std::FILE* out_;
  std::mutex mu_;
};

// Fields of one request, written as one line when Write() is called (or at destruction).
// Not thread-safe: owned by the request it describes.
class LogLine {
 public:
  LogLine(Logger& logger, std::string_view msg) : logger_(logger), msg_(msg) {}
  ~LogLine() { Write(); }
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  void Add(LogField field) { fields_.push_back(std::move(field)); }
  void SetLevel(LogLevel level) { level_ = level; }
  void Write();

 private:
  Logger& logger_;
  std::string msg_;
  std::vector<LogField> fields_;
  LogLevel level_ = LogLevel::kInfo;
  bool written_ = false;
};

// Appends `text` to `out` as a JSON string literal (with quotes), escaping as RFC 8259 requires.
void AppendJsonString(std::string& out, std::string_view text);

}  // namespace eg
