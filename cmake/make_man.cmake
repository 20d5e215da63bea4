# Writes one man page (cmake -P, from cmake/man.cmake): the sections that
# BINARY writes from its CLI11 definition (BINARY ARG), between HEAD and
# TAIL, then the README sections SECTIONS ("|"-separated), through pandoc
# and man/sections.lua.
set(generated "${OUT}.options.md")
if(BINARY)
  execute_process(COMMAND "${BINARY}" ${ARG} OUTPUT_FILE "${generated}"
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${BINARY} ${ARG} failed (${rc})")
  endif()
else()
  file(WRITE "${generated}" "")
endif()
string(REPLACE "|" ";" sections "${SECTIONS}")
set(args)
foreach(section IN LISTS sections)
  list(APPEND args -M "sections=${section}")
endforeach()
execute_process(
  COMMAND "${PANDOC}" -f gfm -s -t man "--lua-filter=${SOURCE_DIR}/man/sections.lua"
          -M "prepend=${HEAD}" -M "prepend=${generated}" -M "append=${TAIL}"
          ${args}
          -M "title=${TITLE}" -M "section=${SECTION}" -M "header=AetherFlow manual"
          -M "footer=aetherflow ${VERSION}" -M "date="
          "${SOURCE_DIR}/README.md" -o "${OUT}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pandoc failed for ${OUT}")
endif()
# Installed compressed, as Debian's policy wants (man reads both).
execute_process(COMMAND gzip -9nf "${OUT}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gzip failed for ${OUT}")
endif()
