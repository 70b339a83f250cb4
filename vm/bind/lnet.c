/* lnet.c — placeholder */
#include "lcajal.h"
void cj_open_net(lua_State *L) { (void)L; }
