# Man pages aetherflow(1), aetherflowd(8), aetherflow-plan(5), written at
# build time by pandoc (Debian's pandoc 2.17) from one source of prose, the
# README's sections (man/sections.lua picks them), plus the OPTIONS and
# COMMANDS that each binary writes from its own CLI11 definition (so no
# option is described twice), plus a few lines of NAME/SYNOPSIS in man/.
# pandoc rather than help2man: help2man reads one program's --help, which
# has neither the commands' options nor a file format (section 5).
option(AETHERFLOW_MAN "Build and install the man pages (needs pandoc)" ON)
if(NOT AETHERFLOW_MAN OR AETHERFLOW_SANITIZE)
  # (a sanitizer build tests the code; its pages would be the same)
  return()
endif()
find_program(AETHERFLOW_PANDOC pandoc)
if(NOT AETHERFLOW_PANDOC)
  message(FATAL_ERROR "the man pages need pandoc (scripts/setup.sh installs it), "
                      "or configure with -DAETHERFLOW_MAN=OFF")
endif()
set(AF_MAN_DIR "${CMAKE_BINARY_DIR}/man")
file(MAKE_DIRECTORY "${AF_MAN_DIR}")
set(AF_MAN_PAGES)
# page|section|binary target (or -)|its argument|README sections
foreach(page IN ITEMS
    "aetherflow|1|aetherflow|manual|Using it,aetherflow doctor,Exit codes,Configuration,States,The monitor,Check-ins: poll and watch"
    "aetherflowd|8|aetherflowd|--manual|The daemon,Running as a service,Users and ownership,Remote access,Limits"
    "aetherflow-plan|5|-|-|Plans,LLM steps")
  string(REPLACE "|" ";" page "${page}")
  list(GET page 0 name)
  list(GET page 1 section)
  list(GET page 2 binary)
  list(GET page 3 arg)
  list(GET page 4 sections)
  string(REPLACE "," "|" sections "${sections}")
  set(page_file "${AF_MAN_DIR}/${name}.${section}")
  set(out "${page_file}.gz")
  set(binary_args)
  set(depends)
  if(NOT binary STREQUAL "-")
    set(binary_args "-DBINARY=$<TARGET_FILE:${binary}>" "-DARG=${arg}")
    set(depends ${binary})
  endif()
  add_custom_command(OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} ${binary_args}
      "-DPANDOC=${AETHERFLOW_PANDOC}" "-DSOURCE_DIR=${CMAKE_SOURCE_DIR}"
      "-DHEAD=${CMAKE_SOURCE_DIR}/man/${name}.${section}.md"
      "-DTAIL=${CMAKE_SOURCE_DIR}/man/${name}.${section}.see-also.md"
      "-DSECTIONS=${sections}" "-DTITLE=${name}" "-DSECTION=${section}"
      "-DVERSION=${PROJECT_VERSION}" "-DOUT=${page_file}"
      -P "${CMAKE_SOURCE_DIR}/cmake/make_man.cmake"
    DEPENDS ${depends} "${CMAKE_SOURCE_DIR}/README.md"
      "${CMAKE_SOURCE_DIR}/man/sections.lua" "${CMAKE_SOURCE_DIR}/cmake/make_man.cmake"
      "${CMAKE_SOURCE_DIR}/man/${name}.${section}.md"
      "${CMAKE_SOURCE_DIR}/man/${name}.${section}.see-also.md"
    COMMENT "Writing the man page ${name}(${section})"
    VERBATIM)
  list(APPEND AF_MAN_PAGES "${out}")
  install(FILES "${out}" DESTINATION "${CMAKE_INSTALL_MANDIR}/man${section}")
endforeach()
add_custom_target(man ALL DEPENDS ${AF_MAN_PAGES})
