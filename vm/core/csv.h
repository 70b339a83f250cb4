#ifndef CJ_CSV_H
#define CJ_CSV_H
#include "cj.h"
#endif
