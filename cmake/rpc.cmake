# The RPC layer: generated API, daemon, client.
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)

add_subdirectory(proto)

add_library(aetherflow_daemon STATIC
  daemon/engine.cc
  daemon/log.cc
  daemon/process_runner.cc
  daemon/scheduler.cc
  daemon/server.cc
  daemon/state_store.cc
)
target_link_libraries(aetherflow_daemon PUBLIC
  aetherflow_common aetherflow_proto gRPC::grpc++_reflection
  PkgConfig::SQLITE3 PkgConfig::SYSTEMD absl::synchronization absl::time
  absl::flat_hash_map Threads::Threads)

add_executable(aetherflowd daemon/main.cc)
target_link_libraries(aetherflowd PRIVATE aetherflow_daemon CLI11::CLI11)

add_library(aetherflow_client STATIC
  client/commands.cc
  client/connection.cc
  client/follow.cc
  client/render.cc
  client/run_model.cc
)
target_link_libraries(aetherflow_client PUBLIC
  aetherflow_common aetherflow_proto CLI11::CLI11 absl::time)

add_executable(aetherflow client/main.cc)
target_link_libraries(aetherflow PRIVATE aetherflow_client)

install(TARGETS aetherflowd aetherflow RUNTIME DESTINATION bin)
install(FILES systemd/aetherflowd.service DESTINATION lib/systemd/system)
install(FILES systemd/user/aetherflowd.service DESTINATION lib/systemd/user)
install(FILES README.md DESTINATION share/doc/aetherflow)
