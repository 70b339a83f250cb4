/* lunits.c — placeholder */
#include "lcajal.h"
void cj_open_units(lua_State *L) { (void)L; }
