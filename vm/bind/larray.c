/* larray.c — placeholder */
#include "lcajal.h"
void cj_open_array(lua_State *L) { (void)L; }
