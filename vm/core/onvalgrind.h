/*
 * onvalgrind.h — RUNNING_ON_VALGRIND: nonzero when the process runs under
 * valgrind (valgrind.h's client request), 0 when that header is absent.
 * Code that valgrind cannot follow (a JIT's vector loads, -march=native
 * instructions it cannot execute) takes its plain path then.
 */
#ifndef CJ_ONVALGRIND_H
#define CJ_ONVALGRIND_H

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#endif
