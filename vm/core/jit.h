#ifndef CJ_JIT_H
#define CJ_JIT_H
#include "cj.h"
#endif
