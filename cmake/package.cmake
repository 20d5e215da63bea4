# The Debian package: `cpack -G DEB` in the build directory writes
# aetherflow_VERSION_ARCH.deb from what `cmake --install` installs (binaries,
# system and user units, the sysusers.d file, completions, man pages, the
# README), with Depends: from dpkg-shlibdeps and the maintainer scripts of
# packaging/debian/. CPack rather than debian/ + dpkg-buildpackage: the
# install rules already say where every file goes, so the package cannot
# drift from `cmake --install`, and no second build system is kept.
#
# The units go to /lib/systemd/{system,user} in the package, where Debian 12
# keeps packaged units (lintian), whatever a local install uses.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME aetherflow)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "AetherFlow maintainers <maintainers@aetherflow.dev>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "runs plans of shell and LLM steps on a daemon")
# (CPack puts the summary first: this is the extended description.)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "AetherFlow runs plans (DAGs of shell-command and LLM steps) on a\n"
  "long-lived daemon, aetherflowd, and shows them in the aetherflow client: a\n"
  "live monitor, status tables, logs, exports and check-ins for long runs.\n"
  "Every state change is committed to SQLite, so a killed daemon loses no\n"
  "completed work.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  "${CMAKE_SOURCE_DIR}/packaging/debian/postinst"
  "${CMAKE_SOURCE_DIR}/packaging/debian/prerm"
  "${CMAKE_SOURCE_DIR}/packaging/debian/postrm")
# Debian wants a copyright file and a compressed changelog in the docs.
configure_file("${CMAKE_SOURCE_DIR}/packaging/debian/changelog.in"
               "${CMAKE_BINARY_DIR}/packaging/changelog" @ONLY)
add_custom_command(OUTPUT "${CMAKE_BINARY_DIR}/packaging/changelog.gz"
  COMMAND gzip -9nkf "${CMAKE_BINARY_DIR}/packaging/changelog"
  DEPENDS "${CMAKE_BINARY_DIR}/packaging/changelog" VERBATIM)
add_custom_target(package_changelog ALL DEPENDS "${CMAKE_BINARY_DIR}/packaging/changelog.gz")
# The README's check-in example shows a Python traceback, which lintian
# takes for a broken man page.
install(FILES "${CMAKE_SOURCE_DIR}/packaging/debian/lintian-overrides"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/lintian/overrides" RENAME aetherflow)
install(FILES "${CMAKE_SOURCE_DIR}/packaging/debian/copyright"
              "${CMAKE_BINARY_DIR}/packaging/changelog.gz"
        DESTINATION "${CMAKE_INSTALL_DOCDIR}")
include(CPack)
