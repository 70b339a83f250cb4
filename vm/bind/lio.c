/* lio.c — placeholder */
#include "lcajal.h"
void cj_open_io(lua_State *L) { (void)L; }
