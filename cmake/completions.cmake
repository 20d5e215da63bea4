# Completion scripts for bash, zsh and fish, written at build time by
# `aetherflow completions SHELL` from the client's CLI11 definition, and
# installed where each shell looks for a package's completions.
if(AETHERFLOW_SANITIZE)
  return()  # as the man pages: the plain build writes them
endif()
set(AF_COMPLETION_DIR "${CMAKE_BINARY_DIR}/completions")
set(AF_COMPLETIONS)
foreach(shell IN ITEMS
    "bash|aetherflow|${CMAKE_INSTALL_DATADIR}/bash-completion/completions"
    "zsh|_aetherflow|${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions"
    "fish|aetherflow.fish|${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d")
  string(REPLACE "|" ";" shell "${shell}")
  list(GET shell 0 name)
  list(GET shell 1 file)
  list(GET shell 2 dir)
  set(out "${AF_COMPLETION_DIR}/${name}/${file}")
  add_custom_command(OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${AF_COMPLETION_DIR}/${name}"
    COMMAND ${CMAKE_COMMAND} "-DBINARY=$<TARGET_FILE:aetherflow>"
      "-DARGS=completions|${name}" "-DOUT=${out}"
      -P "${CMAKE_SOURCE_DIR}/cmake/write_output.cmake"
    DEPENDS aetherflow "${CMAKE_SOURCE_DIR}/cmake/write_output.cmake"
    COMMENT "Writing the ${name} completion"
    VERBATIM)
  list(APPEND AF_COMPLETIONS "${out}")
  install(FILES "${out}" DESTINATION "${dir}")
endforeach()
add_custom_target(completions ALL DEPENDS ${AF_COMPLETIONS})
