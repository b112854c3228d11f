# Runs PROGRAM with ARGS and checks its exit status and output.
#   -DPROGRAM=...  -DARGS=a@@b@@c  -DEXPECTED_EXIT=N  -DEXPECTED_REGEX=...
#   -DWORK_DIR=... (an argument OUTDIR is replaced by WORK_DIR/out)
# The output checked is stdout + stderr, followed by the hex dump of
# WORK_DIR/out/output0.npy if the run wrote it ("OUTPUT0 HEX: ...").
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
string(REPLACE "@@" ";" arg_list "${ARGS}")
set(args)
foreach(arg IN LISTS arg_list)
  if(arg STREQUAL "OUTDIR")
    set(arg ${WORK_DIR}/out)
  endif()
  list(APPEND args "${arg}")
endforeach()
execute_process(COMMAND ${PROGRAM} ${args}
  RESULT_VARIABLE exit_code
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)
set(output "${out}${err}")
if(EXISTS ${WORK_DIR}/out/output0.npy)
  file(READ ${WORK_DIR}/out/output0.npy hex HEX)
  string(APPEND output "\nOUTPUT0 HEX: ${hex}\n")
endif()
string(REPLACE "\n" " " flat "${output}")
if(NOT "${exit_code}" STREQUAL "${EXPECTED_EXIT}")
  message(FATAL_ERROR "exit status ${exit_code}, expected ${EXPECTED_EXIT}; "
                      "output:\n${output}")
endif()
if(NOT flat MATCHES "${EXPECTED_REGEX}")
  message(FATAL_ERROR "output does not match '${EXPECTED_REGEX}':\n${output}")
endif()
message(STATUS "ok: exit ${exit_code}; output:\n${output}")
