/* lregex.c — placeholder */
#include "lcajal.h"
void cj_open_regex(lua_State *L) { (void)L; }
