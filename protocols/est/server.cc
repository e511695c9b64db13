#include "protocols/est/server.h"

namespace eg::est {

// Skeleton: the interface the daemon wires against; the handlers land on branch est-server.
struct EstServer::Impl {
  Store& store;
  EstStore& est_store;
  issuance::IssuanceService& issuance;
  MappingSource mapping;
  Clock& clock;
  Logger& logger;
  ServerOptions options;
};

EstServer::EstServer(Store& store, EstStore& est_store, issuance::IssuanceService& issuance,
                     MappingSource mapping, Clock& clock, Logger& logger, ServerOptions options)
    : impl_(new Impl{store, est_store, issuance, std::move(mapping), clock, logger,
                     std::move(options)}) {}

EstServer::~EstServer() = default;

void EstServer::RegisterRoutes(http::Router& /*router*/) {}

http::Response EstServer::BodyTooLarge(size_t limit) const {
  return http::Response::Text(413, "the request body is larger than this server accepts (" +
                                       std::to_string(limit) + " bytes)\n");
}

Result<int64_t> EstServer::PurgeServerKeys() { return int64_t{0}; }

}  // namespace eg::est
