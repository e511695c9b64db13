// PEM (RFC 7468): strict labels, lenient base64 body (whitespace allowed).
#include "crypto/pem.h"

namespace eg::crypto {
namespace {

constexpr std::string_view kBegin = "-----BEGIN ";
constexpr std::string_view kEnd = "-----END ";
constexpr std::string_view kDashes = "-----";

}  // namespace

std::string PemEncode(std::string_view label, const Bytes& der) {
  std::string b64 = Base64Encode(der);
  std::string out;
  out.reserve(b64.size() + b64.size() / 64 + 2 * label.size() + 40);
  out.append(kBegin).append(label).append(kDashes).push_back('\n');
  for (size_t i = 0; i < b64.size(); i += 64) {
    out.append(b64, i, 64).push_back('\n');
  }
  out.append(kEnd).append(label).append(kDashes).push_back('\n');
  return out;
}

Result<std::vector<PemBlock>> PemDecodeAll(std::string_view text) {
  std::vector<PemBlock> blocks;
  size_t pos = 0;
  while (true) {
    size_t begin = text.find(kBegin, pos);
    if (begin == std::string_view::npos) break;
    size_t label_start = begin + kBegin.size();
    size_t label_end = text.find(kDashes, label_start);
    if (label_end == std::string_view::npos) return InvalidArgument("PEM: unterminated BEGIN line");
    std::string_view label = text.substr(label_start, label_end - label_start);
    if (label.find('\n') != std::string_view::npos) {
      return InvalidArgument("PEM: malformed BEGIN line");
    }
    size_t body_start = label_end + kDashes.size();
    size_t end = text.find(kEnd, body_start);
    if (end == std::string_view::npos) {
      return InvalidArgument("PEM: no END line for \"" + std::string(label) + "\"");
    }
    size_t end_label_start = end + kEnd.size();
    size_t end_label_end = text.find(kDashes, end_label_start);
    if (end_label_end == std::string_view::npos)
      return InvalidArgument("PEM: unterminated END line");
    std::string_view end_label = text.substr(end_label_start, end_label_end - end_label_start);
    if (end_label != label) {
      return InvalidArgument("PEM: BEGIN \"" + std::string(label) + "\" ends with END \"" +
                             std::string(end_label) + "\"");
    }
    std::string_view body = text.substr(body_start, end - body_start);
    if (body.find(':') != std::string_view::npos) {
      return InvalidArgument("PEM: encrypted or header-carrying blocks are not supported");
    }
    auto der = Base64Decode(body);
    if (!der.ok()) {
      return InvalidArgument("PEM: body of \"" + std::string(label) + "\" is not base64");
    }
    blocks.push_back(PemBlock{std::string(label), std::move(der).value()});
    pos = end_label_end + kDashes.size();
  }
  return blocks;
}

Result<Bytes> PemDecode(std::string_view text, std::string_view label) {
  EG_ASSIGN_OR_RETURN(auto blocks, PemDecodeAll(text));
  if (blocks.empty()) return InvalidArgument("PEM: no \"" + std::string(label) + "\" block found");
  if (blocks.front().label != label) {
    return InvalidArgument("PEM: expected \"" + std::string(label) + "\", found \"" +
                           blocks.front().label + "\"");
  }
  return std::move(blocks.front().der);
}

}  // namespace eg::crypto
