#ifndef CJ_NPY_H
#define CJ_NPY_H
#include "cj.h"
#endif
