#ifndef CJ_NET_H
#define CJ_NET_H
#include "cj.h"
#endif
