/* regex.c — placeholder until its subsystem lands */
#include "cj.h"
