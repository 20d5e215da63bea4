# cmake -P: runs BINARY with ARGS ("|"-separated) and writes its stdout to
# OUT (build steps that keep what a program prints).
string(REPLACE "|" ";" args "${ARGS}")
execute_process(COMMAND "${BINARY}" ${args} OUTPUT_FILE "${OUT}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(REMOVE "${OUT}")
  message(FATAL_ERROR "${BINARY} ${args} failed (${rc})")
endif()
