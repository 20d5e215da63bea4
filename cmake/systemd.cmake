# systemd units and the sysusers.d file, installed with the binaries
# (included from the install section of cmake/rpc.cmake).
#
# ExecStart= must name the binary where this very installation puts it, so
# the units are written from their templates (systemd/*.in) at install time,
# when the prefix in effect is known: `cmake --install build --prefix /usr`
# and the default /usr/local both get the right path, and a DESTDIR staging
# install (packaging) names the final path, not the staging one.
#
# The directories are relative to the prefix and are where systemd looks
# (`systemd-analyze unit-paths`): /usr/lib/systemd/{system,user} for
# --prefix /usr, /usr/local/lib/systemd/{system,user} for /usr/local;
# systemd-sysusers reads /usr/lib/sysusers.d and /usr/local/lib/sysusers.d.
# Not CMAKE_INSTALL_LIBDIR: that is lib/x86_64-linux-gnu on Debian.
include(GNUInstallDirs)
set(AETHERFLOW_SYSTEMD_SYSTEM_UNIT_DIR "lib/systemd/system" CACHE STRING
    "Where system units go (relative to the install prefix, or absolute)")
set(AETHERFLOW_SYSTEMD_USER_UNIT_DIR "lib/systemd/user" CACHE STRING
    "Where user units go (relative to the install prefix, or absolute)")
set(AETHERFLOW_SYSUSERS_DIR "lib/sysusers.d" CACHE STRING
    "Where the sysusers.d file goes (relative to the install prefix, or absolute)")

# Defined in cmake_install.cmake, run at install time: CMAKE_INSTALL_PREFIX
# is then the prefix in effect and DESTDIR the staging root.
install(CODE [[
  function(aetherflow_install_unit template dir bindir docdir)
    foreach(var dir bindir docdir)
      if(NOT IS_ABSOLUTE "${${var}}")
        set(${var} "${CMAKE_INSTALL_PREFIX}/${${var}}")
      endif()
    endforeach()
    set(AETHERFLOW_BINDIR "${bindir}")
    set(AETHERFLOW_DOCDIR "${docdir}")
    get_filename_component(name "${template}" NAME_WLE)
    set(out "$ENV{DESTDIR}${dir}/${name}")
    message(STATUS "Installing: ${out}")
    configure_file("${template}" "${out}" @ONLY NO_SOURCE_PERMISSIONS)
    list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${out}")
    set(CMAKE_INSTALL_MANIFEST_FILES "${CMAKE_INSTALL_MANIFEST_FILES}" PARENT_SCOPE)
  endfunction()
]])
foreach(unit IN ITEMS
    "aetherflowd.service.in|${AETHERFLOW_SYSTEMD_SYSTEM_UNIT_DIR}"
    "user/aetherflowd.service.in|${AETHERFLOW_SYSTEMD_USER_UNIT_DIR}")
  string(REPLACE "|" ";" unit "${unit}")
  list(GET unit 0 template)
  list(GET unit 1 dir)
  install(CODE "aetherflow_install_unit(\"${CMAKE_SOURCE_DIR}/systemd/${template}\" \"${dir}\" \"${CMAKE_INSTALL_BINDIR}\" \"${CMAKE_INSTALL_DOCDIR}\")")
endforeach()
install(FILES systemd/aetherflowd.socket
        DESTINATION ${AETHERFLOW_SYSTEMD_SYSTEM_UNIT_DIR})
install(FILES systemd/user/aetherflowd.socket
        DESTINATION ${AETHERFLOW_SYSTEMD_USER_UNIT_DIR})
install(FILES systemd/aetherflow.sysusers.conf
        DESTINATION ${AETHERFLOW_SYSUSERS_DIR} RENAME aetherflow.conf)
