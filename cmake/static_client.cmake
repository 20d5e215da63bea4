# A client that starts in milliseconds (issue 16). Linked against Debian's
# shared gRPC, protobuf and Abseil, `aetherflow --version` spends ~12 ms
# in the dynamic loader and the libraries' initialisers before main runs
# (60 libraries; an empty main linked the same way takes as long). Linked
# against the static archives Debian ships of the same libraries, it loads
# libstdc++, libc and a few others and starts in ~3 ms
# (bench/startup_bench.sh). OpenSSL, zlib and ncurses stay shared: Debian's
# security updates of them reach the client without a rebuild (lintian
# calls an embedded copy of ncurses an error), and toml++ has no archive.
# The daemon stays fully shared: it starts once.
#
# How: every archive in one linker group ahead of what the targets bring,
# so the static copies resolve every symbol, and --as-needed then drops the
# shared libraries that CMake's imported targets still name.
option(AETHERFLOW_STATIC_CLIENT
       "Link the client against the static gRPC/protobuf/Abseil/RE2 archives" ON)
if(NOT AETHERFLOW_STATIC_CLIENT OR AETHERFLOW_SANITIZE)
  # (sanitizer builds keep the shared libraries the runtime expects)
  return()
endif()
pkg_check_modules(AF_CLIENT_STATIC QUIET grpc++ protobuf re2)
set(af_archives)
set(af_missing)
foreach(name IN LISTS AF_CLIENT_STATIC_STATIC_LIBRARIES)
  if(name MATCHES "^(z|ssl|crypto|dl|rt|m|pthread|atomic|c|tomlplusplus)$")
    continue()
  endif()
  unset(af_archive)
  find_library(af_archive NAMES "lib${name}.a" NO_CACHE)
  if(af_archive)
    list(APPEND af_archives "${af_archive}")
  else()
    list(APPEND af_missing "lib${name}.a")
  endif()
endforeach()
list(REMOVE_DUPLICATES af_archives)
if(NOT AF_CLIENT_STATIC_FOUND OR af_missing)
  message(WARNING "static client: missing ${af_missing}; linking the client shared "
                  "(slower start-up)")
  return()
endif()
target_link_libraries(aetherflow PRIVATE
  -Wl,--as-needed -Wl,--start-group
  $<TARGET_FILE:aetherflow_client> $<TARGET_FILE:aetherflow_cli_doc>
  $<TARGET_FILE:aetherflow_common> $<TARGET_FILE:aetherflow_proto>
  ${af_archives}
  -Wl,--end-group)
