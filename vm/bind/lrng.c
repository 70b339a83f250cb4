/* lrng.c — placeholder */
#include "lcajal.h"
void cj_open_rng(lua_State *L) { (void)L; }
#include "lcajal.h"
