// other_version_daemon: answers the AetherFlow API on a Unix socket as a
// daemon of another version would: every answer carries the given version
// in the aetherflow-version header; ListRuns has no runs, GetVersion tells
// the version. For the version-skew tests (a real aetherflowd always has
// this build's version). Runs until killed.
//   other_version_daemon SOCKET VERSION
#include <cstdio>
#include <memory>
#include <string>

#include "aetherflow/v1/aetherflow.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace pb = ::aetherflow::v1;

namespace {

class OtherVersion final : public pb::AetherFlow::Service {
 public:
  explicit OtherVersion(std::string version) : version_(std::move(version)) {}

  grpc::Status ListRuns(grpc::ServerContext* context, const pb::ListRunsRequest*,
                        pb::ListRunsResponse*) override {
    context->AddInitialMetadata("aetherflow-version", version_);
    return grpc::Status::OK;
  }
  grpc::Status GetVersion(grpc::ServerContext* context, const pb::GetVersionRequest*,
                          pb::GetVersionResponse* response) override {
    context->AddInitialMetadata("aetherflow-version", version_);
    response->set_version(version_);
    return grpc::Status::OK;
  }

 private:
  const std::string version_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: other_version_daemon SOCKET VERSION\n");
    return 2;
  }
  OtherVersion service(argv[2]);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(std::string("unix:") + argv[1], grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return 1;
  server->Wait();
  return 0;
}
