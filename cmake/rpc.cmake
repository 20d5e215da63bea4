# The RPC layer: generated API, daemon, client.
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(CURL REQUIRED)

add_subdirectory(proto)

add_library(aetherflow_daemon STATIC
  daemon/active_run.cc
  daemon/admission.cc
  daemon/caller.cc
  daemon/check_runner.cc
  daemon/capacity.cc
  daemon/checkin_call.cc
  daemon/command_executor.cc
  daemon/edit_step.cc
  daemon/engine.cc
  daemon/engine_requests.cc
  daemon/event_hub.cc
  daemon/identity.cc
  daemon/journal.cc
  daemon/listener.cc
  daemon/llm_executor.cc
  daemon/llm_runner.cc
  daemon/llm_steps.cc
  daemon/log.cc
  daemon/process_runner.cc
  daemon/progress_watcher.cc
  daemon/project_writer.cc
  daemon/run_layout.cc
  daemon/scheduler.cc
  daemon/server.cc
  daemon/snapshot_rows.cc
  daemon/state_store.cc
  daemon/submit_check.cc
  daemon/syntax_check.cc
)
target_link_libraries(aetherflow_daemon PUBLIC
  aetherflow_common aetherflow_proto gRPC::grpc++_reflection
  PkgConfig::SQLITE3 PkgConfig::SYSTEMD absl::synchronization absl::time
  absl::flat_hash_map Threads::Threads CURL::libcurl)

# Completion scripts and man-page sections, written from a CLI11
# definition (both binaries).
add_library(aetherflow_cli_doc STATIC client/cli_doc.cc)
target_link_libraries(aetherflow_cli_doc PUBLIC CLI11::CLI11 absl::strings)
target_include_directories(aetherflow_cli_doc PUBLIC ${CMAKE_SOURCE_DIR})

add_executable(aetherflowd daemon/main.cc)
target_link_libraries(aetherflowd PRIVATE aetherflow_daemon aetherflow_cli_doc CLI11::CLI11)

add_library(aetherflow_client STATIC
  client/apply_commands.cc
  client/checkin_commands.cc
  client/cli_util.cc
  client/client_api.cc
  client/commands.cc
  client/connection.cc
  client/doctor.cc
  client/export.cc
  client/follow.cc
  client/mcp.cc
  client/monitor_screen.cc
  client/monitor_view.cc
  client/remote.cc
  client/render.cc
  client/run_actions.cc
  client/run_model.cc
  client/run_times.cc
  client/ship_commands.cc
  client/step_log_view.cc
)
set(CURSES_NEED_NCURSES TRUE)
set(CURSES_NEED_WIDE TRUE)
find_package(Curses REQUIRED)
target_link_libraries(aetherflow_client PUBLIC
  aetherflow_common aetherflow_proto aetherflow_cli_doc CLI11::CLI11 absl::time
  ${CURSES_LIBRARIES})
target_include_directories(aetherflow_client PRIVATE ${CURSES_INCLUDE_DIRS})

add_executable(aetherflow client/main.cc)
target_link_libraries(aetherflow PRIVATE aetherflow_client)
include(cmake/static_client.cmake)

include(GNUInstallDirs)
install(TARGETS aetherflowd aetherflow RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
include(cmake/systemd.cmake)

# Issue 15: the web page, timelines and metrics (SPEC §13). The pure parts
# (view model, lanes, metrics text) are in the client library; the HTTP
# server (cpp-httplib, a compiled library in Debian) and the page's own
# files, embedded as string literals, in aetherflow_web.
target_sources(aetherflow_client PRIVATE
  client/timeline.cc
  client/web_metrics.cc
  client/web_view.cc
)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
set(AF_WEB_FILES web/page.html web/style.css web/app.js)
set(AF_WEB_ASSETS ${CMAKE_BINARY_DIR}/generated/web_assets.cc)
add_custom_command(
  OUTPUT ${AF_WEB_ASSETS}
  COMMAND ${CMAKE_COMMAND} -DOUT=${AF_WEB_ASSETS} -DSRC=${CMAKE_SOURCE_DIR}
          "-DFILES=${AF_WEB_FILES}" -P ${CMAKE_SOURCE_DIR}/cmake/embed_web.cmake
  DEPENDS ${AF_WEB_FILES} ${CMAKE_SOURCE_DIR}/cmake/embed_web.cmake
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
  COMMENT "Embedding the web page's files"
  VERBATIM)
add_library(aetherflow_web STATIC
  client/web_hub.cc
  client/web_server.cc
  ${AF_WEB_ASSETS}
)
target_link_libraries(aetherflow_web PUBLIC aetherflow_client PkgConfig::HTTPLIB)
target_link_libraries(aetherflow PRIVATE aetherflow_web)
include(cmake/man.cmake)
include(cmake/completions.cmake)
include(cmake/package.cmake)
