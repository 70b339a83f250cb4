#ifndef CJ_INTERP_H
#define CJ_INTERP_H
#include "cj.h"
#endif
