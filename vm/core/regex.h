#ifndef CJ_REGEX_H
#define CJ_REGEX_H
#include "cj.h"
#endif
